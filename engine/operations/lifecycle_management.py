"""The operations of the spec's "Lifecycle Management" section."""
from __future__ import annotations

import copy
from contextlib import ExitStack, nullcontext
from typing import Iterable


from ..features.history import acted_on, audited, created
from ..runtime import history
from ..support import clock
from ..features import idempotency
from ..model.datastore import DataStore
from ..definitions.repository import LoadedDefinition
from ..errors import EngineOffline, InvalidParameter, InvalidState, MultiError, NotFound
from ..faults import TerminateRequest
from ..support.clock import check_timeout
from .shared import (WaitFor, await_and_deliver, change, definition_of, deliver,
                        drive_and_deliver, driving_slot, load, may_drive_here, start_and_deliver, terminate)
from ..model.results import ExecutionIds, Snapshot
from ..model.query import Query
from ..runtime.node import ProcessEngine
from ..runtime.position import DefinitionConflict, decode_position
from ..runtime.records import apply, merge_parameters, new_record, state_values
from ..security.authorization import Principal, require, require_role
from .snapshots import snapshot_of
from ..model.states import (DATA_LEVELS, END_STATES, INACTIVE_STATES, LOG_LEVELS, AutoDispose, ExecutionState,
                     HealthState, Privilege, parse_enum)
from ..storage import codec, instances as store
from ..storage.database import AlreadyStored
from . import selection

_CONTINUABLE = (ExecutionState.CREATED, ExecutionState.WAITING, ExecutionState.PAUSED)


# -- Lifecycle Management ---------------------------------------------------------------------------
@audited("disposeProcess", "execution", "execution_id")
def dispose_process(pe: ProcessEngine, principal: Principal, execution_id: str) -> Snapshot | None:
    """Dispose an inactive instance; None when there is no such instance (the spec's "Nothing")."""
    with pe.db.unit_of_work() as uow:
        try:
            record = load(uow.conn, principal, execution_id, Privilege.DISPOSE)
        except NotFound:
            return None
        _require_inactive(record.state, execution_id, "dispose")
        snapshot = snapshot_of(record)
        store.mark_disposed(uow.conn, [execution_id], clock.now())
        uow.after_commit(lambda: pe.notify(execution_id))
        uow.commit()
    return snapshot


@audited("disposeProcesses", "executions")
def dispose_processes(pe: ProcessEngine, principal: Principal, query: Query | None,
                      report_execution_ids: bool = False) -> ExecutionIds:
    """Dispose the page of instances the query selects (those the caller may read or dispose; see
    `selection`) — all of it, or nothing: if the caller may not dispose one of them (AuthorizationError)
    or one is active (InvalidState), the error names it and nothing is disposed (CONTRACT §10). The
    query is required, so that no call disposes everything by leaving it out."""
    if query is None:
        raise InvalidParameter("query", "is required")
    with pe.db.unit_of_work() as uow:
        records = selection.select_page(pe, uow.conn, principal, query, acting=Privilege.DISPOSE,
                                        for_update=True)
        for record in records:
            require(principal, record, Privilege.DISPOSE)
        for record in records:
            if ExecutionState(record.state).active:
                raise InvalidState(f"cannot dispose process {record.execution_id}: it is {record.state} "
                                   "(nothing was disposed)")
        ids = [r.execution_id for r in records]
        store.mark_disposed(uow.conn, ids, clock.now())
        acted_on(ids)
        for execution_id in ids:
            uow.after_commit(lambda e=execution_id: pe.notify(e))
        uow.commit()
    return ExecutionIds(len(ids), tuple(ids) if report_execution_ids else None)


@audited("instantiate", "execution")
def instantiate(pe: ProcessEngine, principal: Principal, process_uri: str | None, *, external_id: str | None = None,
                cache: bool = True, thread_pool_id: str | None = None, process: bytes | None = None,
                debug: bool | None = None, auto_dispose: str | None = None, locked: bool = False,
                idempotency_key: str | None = None) -> Snapshot:
    """Create a CREATED instance from the repository definition at `process_uri` or from `process`.
    With an `idempotency_key` the caller used before, the answer of that first request instead."""
    pe.require_feature("instantiate")
    claim = idempotency.claim_of(principal.name, idempotency_key)
    again = _answer_again(pe, claim, None, 0, True, False) if claim else None
    if again is not None:
        return again
    loaded = load_for_caller(pe, principal, process_uri, cache, process)
    record = _new_instance(pe, principal, loaded, external_id, thread_pool_id, debug, auto_dispose, locked)
    if not _write_new(pe, record, claim):
        return _answer_again(pe, claim, None, 0, True, False)
    return deliver(pe, record, True, False, remember=claim)


@audited("reload", "execution", "execution_id")
def reload(pe: ProcessEngine, principal: Principal, execution_id: str, *, process_uri: str | None = None,
           set_online: bool = False, process: bytes | None = None) -> Snapshot:
    """Load the definition again for a CREATED or BROKEN instance (optionally from another URI)."""
    with pe.db.unit_of_work() as uow:
        record = load(uow.conn, principal, execution_id, Privilege.EXECUTE)
        if record.state != ExecutionState.CREATED.value and record.health != HealthState.BROKEN.value:
            raise InvalidState(f"reload needs state CREATED or health BROKEN; the process is {record.state}, "
                               f"health {record.health}")
        loaded = load_for_caller(pe, principal, process_uri or record.process_uri, False, process)
        _check_position(record, loaded)
        registered = pe.register(uow, loaded)
        values = {"process_uri": loaded.uri, "definition_id": registered[0], "definition_version": registered[1],
                  "definition_name": loaded.definition.name, "definition_location": loaded.location,
                  "definition_changed_at": loaded.changed_at, "definition_origin": loaded.origin,
                  "definition_revision": loaded.revision, "health": HealthState.OK.value, "health_message": None,
                  "health_exception_type": None, "exec_version": record.exec_version + 1,
                  "process_engine_id": pe.node_id}
        if set_online:
            values["online"] = True
        change(uow.conn, record, values)
        _after_change(pe, uow, record)
        uow.commit()
    return deliver(pe, record, False, False)


@audited("recoverProcess", "execution", "execution_id")
def recover_process(pe: ProcessEngine, principal: Principal, execution_id: str, *, set_online: bool = False,
                    update_credentials: bool = False) -> Snapshot:
    """Make a LOST instance OK again; it resumes from its last saved point."""
    with pe.db.unit_of_work() as uow:
        record = load(uow.conn, principal, execution_id, Privilege.EXECUTE)
        if record.health != HealthState.LOST.value:
            raise InvalidState(f"only a LOST process can be recovered; this one is {record.health}")
        _recover(pe, uow, record, principal, set_online, update_credentials)
        uow.commit()
    return deliver(pe, record, False, False)


@audited("recoverProcesses", "executions")
def recover_processes(pe: ProcessEngine, principal: Principal, query: Query | None = None, *,
                      set_online: bool = False, report_execution_ids: bool = False) -> ExecutionIds:
    """Recover the page of LOST instances the query selects (those the caller may read or execute; no
    query: all of those) — all of it, or none if the caller may not execute one of them
    (AuthorizationError names it)."""
    query = query if query is not None else selection.EVERYTHING
    with pe.db.unit_of_work() as uow:
        records = selection.select_page(pe, uow.conn, principal, query, Privilege.EXECUTE, lost_only=True,
                                        for_update=True)
        for record in records:
            require(principal, record, Privilege.EXECUTE)
        for record in records:
            _recover(pe, uow, record, principal, set_online, False)
        acted_on([r.execution_id for r in records])
        uow.commit()
    ids = tuple(r.execution_id for r in records)
    return ExecutionIds(len(ids), ids if report_execution_ids else None)


@audited("run", "execution")
def run(pe: ProcessEngine, principal: Principal, process_uri: str, *, external_id: str | None = None,
        cache: bool = True, thread_pool_id: str | None = None, process_params: DataStore | None = None,
        peek: bool = False, timeout: int = -1, states: Iterable[str] | None = None,
        wait_online: bool | None = None, inspect_pipeline: bool = False, set_online: bool | None = None,
        debug: bool | None = None, auto_dispose: str | None = None, locked: bool = False,
        idempotency_key: str | None = None) -> Snapshot:
    """Instantiate and start in one transaction on this node, then wait as startProcess does. With an
    `idempotency_key` the caller used before: that execution's answer instead of a second one."""
    check_timeout(timeout)
    pe.require_feature("instantiate")
    if not pe.accepting_work():
        raise EngineOffline(f"engine node {pe.node_id} is offline or out of the cluster")
    condition = WaitFor.of(states, wait_online, END_STATES)
    claim = idempotency.claim_of(principal.name, idempotency_key)
    again = _answer_again(pe, claim, condition, timeout, peek, inspect_pipeline) if claim else None
    if again is not None:
        return again
    loaded = load_for_caller(pe, principal, process_uri, cache, None)
    online = _online_after_start(set_online, timeout, True)
    here = claim is None and may_drive_here(pe, condition, timeout, online)
    with driving_slot(pe, thread_pool_id, timeout) if here else nullcontext((False, timeout)) as (unsaved, left):
        record = _new_instance(pe, principal, loaded, external_id, thread_pool_id, debug, auto_dispose, locked)
        pipeline = merge_parameters(loaded.definition, DataStore(), process_params, True)
        record.online = online
        apply(record, state_values(record, ExecutionState.READY, pe.node_id, clock.now()))
        if unsaved:
            # This thread runs it, RUNNING for this node from the start; the driver writes it first
            # when it suspends, ends or saves — nobody else can know of it before.
            apply(record, _claimed_values(pe, record, {}, record.state_changed_at))
            return drive_and_deliver(pe, record, True, condition, left, peek, inspect_pipeline,
                                     (loaded, pipeline), unsaved=True)
    record.pipeline = codec.encode_store(pipeline)
    with pe.executor.taken(record.thread_pool_id, record.execution_id) if claim is None and online \
            else nullcontext(False) as queued:
        if queued:  # a thread of its pool is free: claimed for it in the insert, not in a commit of its own
            apply(record, _claimed_values(pe, record, {}, record.state_changed_at))
        if not _write_new(pe, record, claim):
            return _answer_again(pe, claim, condition, left, peek, inspect_pipeline)
    if queued:
        return _handed_over(pe, record, (loaded, pipeline), condition, left, peek, inspect_pipeline)
    return start_and_deliver(pe, record, condition, left, peek, inspect_pipeline, remember=claim, waited=here)


def _write_new(pe: ProcessEngine, record, claim: "idempotency.Claim | None") -> bool:  # type: ignore[no-untyped-def]
    """Insert a new instance (claiming the idempotency key with it); False if another request holds
    the key — then nothing was written."""
    if claim is None:  # the row alone: one statement, committed by itself
        store.insert_alone(pe.db, record.as_values())
        return True
    try:
        with pe.db.unit_of_work() as uow:
            store.insert_instance(uow.conn, record)
            idempotency.take(pe, uow.conn, claim, record.execution_id)
            uow.commit()
    except AlreadyStored:
        return False
    return True


def _answer_again(pe: ProcessEngine, claim: "idempotency.Claim", condition: WaitFor | None, timeout: int,
                  peek: bool, inspect_pipeline: bool) -> Snapshot | None:
    """For a key used before: the execution it created, awaited as this request asks — or, once that
    is gone (the first answer disposed it, say), the answer given then."""
    with pe.db.unit_of_work(write=False) as uow:
        earlier = idempotency.earlier(pe, uow.conn, claim)
        current = store.get_instance(uow.conn, earlier.execution_id) if earlier else None
    if earlier is None:
        return None
    if current is None:
        if earlier.answered is None:
            raise NotFound("execution", earlier.execution_id)
        return snapshot_of(earlier.answered, inspect_pipeline)
    if condition is None:  # instantiate: the instance as it is now
        return deliver(pe, current, True, False, remember=claim)
    return await_and_deliver(pe, earlier.execution_id, condition, timeout, peek, inspect_pipeline, claim)


@audited("setAttribute", "execution", "execution_id")
def set_attribute(pe: ProcessEngine, principal: Principal, execution_id: str, name: str, value: str) -> None:
    """Set one attribute. Its value may be empty (CONTRACT §10) — "" is a value like any other — but it
    must be given: None is a caller's mistake, named as such, not an empty value."""
    if not name:
        raise InvalidParameter("name", "an attribute needs a name")
    if value is None:
        raise InvalidParameter("value", "is required (it may be empty)")
    with pe.db.unit_of_work() as uow:
        record = load(uow.conn, principal, execution_id, Privilege.WRITE)
        attributes = codec.loads(record.attributes, {})
        attributes[name] = value
        change(uow.conn, record, {"attributes": codec.dumps(attributes)})
        _after_change(pe, uow, record, refresh=True)
        uow.commit()


@audited("setBreakpoint", "execution", "execution_id")
def set_breakpoint(pe: ProcessEngine, principal: Principal, execution_id: str, element_id: str, *,
                   remove: bool = False, timeout: int = -1) -> Snapshot:
    """Set (or remove) a breakpoint on an element by full ID; waits for an inactive state."""
    check_timeout(timeout)
    with pe.db.unit_of_work() as uow:
        record = load(uow.conn, principal, execution_id, Privilege.WRITE)
        if element_id not in definition_of(pe, uow.conn, record).definition.elements:
            raise NotFound("element", element_id)
        points = set(codec.loads(record.breakpoints, []))
        points = points - {element_id} if remove else points | {element_id}
        change(uow.conn, record, {"breakpoints": codec.dumps(sorted(points))})
        _after_change(pe, uow, record, refresh=True)
        uow.commit()
    return await_and_deliver(pe, execution_id, WaitFor(INACTIVE_STATES), timeout, False, False)


@audited("setInstanceConstants", "execution", "execution_id")
def set_instance_constants(pe: ProcessEngine, principal: Principal, execution_id: str,
                           constants: DataStore) -> Snapshot:
    """Set instance-scoped constants; a constant the definition declares non-overridable is refused
    (the multi-error response names each), and then nothing changes."""
    with pe.db.unit_of_work() as uow:
        record = load(uow.conn, principal, execution_id, Privilege.WRITE)
        definition = definition_of(pe, uow.conn, record).definition
        errors = {name: "declared overridable=\"false\" by the process definition" for name in constants
                  if name in definition.constants and name not in definition.overridable}
        if errors:
            raise MultiError(errors)
        held = codec.decode_store(record.instance_constants)
        held.update(constants)
        change(uow.conn, record, {"instance_constants": codec.encode_store(held)})
        _after_change(pe, uow, record, refresh=True)
        uow.commit()
    return deliver(pe, record, False, False)


@audited("setLogSettings", "execution", "execution_id")
def set_log_settings(pe: ProcessEngine, principal: Principal, execution_id: str, *,
                     diagnostic_level: str | None = None, data_level: str | None = None,
                     trace: bool | None = None) -> Snapshot:
    given = {"diagnosticLevel": _choice("diagnosticLevel", diagnostic_level, LOG_LEVELS),
             "dataLevel": _choice("dataLevel", data_level, DATA_LEVELS), "trace": trace}
    with pe.db.unit_of_work() as uow:
        record = load(uow.conn, principal, execution_id, Privilege.WRITE)
        settings = codec.loads(record.log_settings, {})
        settings.update({k: v for k, v in given.items() if v is not None})
        change(uow.conn, record, {"log_settings": codec.dumps(settings)})
        _after_change(pe, uow, record, refresh=True)
        uow.commit()
    return deliver(pe, record, False, False)


@audited("setOnline", "execution", "execution_id")
def set_online(pe: ProcessEngine, principal: Principal, execution_id: str, online: bool, *, timeout: int = -1,
               peek: bool = False, states: Iterable[str] | None = None,
               wait_online: bool | None = None) -> Snapshot:
    """Set an instance online or offline; waits until that has taken effect (offline: it runs no more)."""
    check_timeout(timeout)
    with pe.db.unit_of_work() as uow:
        record = load(uow.conn, principal, execution_id, Privilege.WRITE)
        if record.online != online:
            change(uow.conn, record, {"online": online, "process_engine_id": pe.node_id})
        _after_change(pe, uow, record, refresh=True)
        uow.commit()
    if states or wait_online is not None:
        condition = WaitFor.of(states, wait_online, frozenset(ExecutionState))
    else:
        condition = WaitFor(None, online, not_running=not online)
    return await_and_deliver(pe, execution_id, condition, timeout, peek, False)


@audited("setOwner", "execution", "execution_id")
def set_owner(pe: ProcessEngine, principal: Principal, execution_id: str, owner: str) -> Snapshot:
    if not owner or not owner.strip():
        raise InvalidParameter("owner", "the owner needs a name")
    with pe.db.unit_of_work() as uow:
        record = load(uow.conn, principal, execution_id, Privilege.ADMIN)
        change(uow.conn, record, {"owner": owner.strip()})
        _after_change(pe, uow, record, refresh=True)
        uow.commit()
    return deliver(pe, record, False, False)


@audited("setPermissions", "execution", "execution_id")
def set_permissions(pe: ProcessEngine, principal: Principal, execution_id: str, name: str,
                    privileges: Iterable[str]) -> Snapshot:
    """Grant exactly `privileges` to the user or role `name` (none: remove its entry)."""
    if not name:
        raise InvalidParameter("name", "a permission entry needs a user or role name")
    granted = sorted({parse_enum(Privilege, p.strip(), "privileges").value for p in privileges if p.strip()})
    with pe.db.unit_of_work() as uow:
        record = load(uow.conn, principal, execution_id, Privilege.ADMIN)
        acl = codec.loads(record.permissions, {})
        if granted:
            acl[name] = granted
        else:
            acl.pop(name, None)
        change(uow.conn, record, {"permissions": codec.dumps(acl)})
        store.replace_permission(uow.conn, execution_id, name, granted)
        _after_change(pe, uow, record)
        uow.commit()
    return deliver(pe, record, False, False)


@audited("startProcess", "execution", "execution_id")
def start_process(pe: ProcessEngine, principal: Principal, execution_id: str, *,
                  process_params: DataStore | None = None, peek: bool = False, timeout: int = -1,
                  states: Iterable[str] | None = None, wait_online: bool | None = None,
                  inspect_pipeline: bool = False, set_online: bool | None = None) -> Snapshot:
    """Start a CREATED instance or continue a WAITING or PAUSED one, merging `process_params` first."""
    check_timeout(timeout)
    condition = WaitFor.of(states, wait_online, END_STATES)
    here = may_drive_here(pe, condition, timeout, True)  # and online, once read
    with ExitStack() as held:
        with pe.db.unit_of_work() as uow:
            record = load(uow.conn, principal, execution_id, Privilege.EXECUTE)
            state = ExecutionState(record.state)
            if state not in _CONTINUABLE:
                raise InvalidState(f"startProcess needs state CREATED, WAITING or PAUSED; the process is {state.value}")
            _require_healthy(record)
            wait = store.get_wait(uow.conn, execution_id)
            if wait is not None and wait.kind == "child":
                raise InvalidState(f"the process waits for its child process {wait.child_execution_id}")
            first = state == ExecutionState.CREATED
            definition = definition_of(pe, uow.conn, record).definition if first else None
            pipeline = merge_parameters(definition, codec.decode_store(record.pipeline), process_params, first)
            store.delete_wait(uow.conn, execution_id)
            now, online = clock.now(), _online_after_start(set_online, timeout, record.online)
            values = state_values(record, ExecutionState.READY, pe.node_id, now)
            values.update(pipeline=codec.encode_store(pipeline), online=online)
            # Driven by this thread, or else by a free thread of its pool: claimed in this commit,
            # not in one of its own.
            claimed = here and online and held.enter_context(pe.executor.reservation(record.thread_pool_id,
                                                                                    execution_id))
            queued = not here and online and pe.accepting_work() and held.enter_context(
                pe.executor.taken(record.thread_pool_id, execution_id))
            if claimed or queued:
                values.update(_claimed_values(pe, record, values, now))
            change(uow.conn, record, values)
            _after_change(pe, uow, record, queue=False)
            uow.commit()
        if claimed:
            return drive_and_deliver(pe, record, True, condition, timeout, peek, inspect_pipeline, reserved=True)
    if queued:
        return _handed_over(pe, record, None, condition, timeout, peek, inspect_pipeline)
    return start_and_deliver(pe, record, condition, timeout, peek, inspect_pipeline)


def _handed_over(pe: ProcessEngine, record, known, condition: WaitFor, timeout: int,  # type: ignore[no-untyped-def]
                 peek: bool, inspect_pipeline: bool) -> Snapshot:
    """Hand an instance committed RUNNING for a thread of its pool to that thread; then answer as
    committed if the caller does not wait (no read: this is what was committed), else as asked."""
    # its own copy: the driver changes its record
    pe.executor.hand_over(copy.copy(record), known, awaited=timeout != 0)
    if timeout == 0:
        return deliver(pe, record, peek, inspect_pipeline)
    return await_and_deliver(pe, record.execution_id, condition, timeout, peek, inspect_pipeline)


def _claimed_values(pe: ProcessEngine, record, ready: dict, now) -> dict:  # type: ignore[no-untyped-def]
    """READY and then RUNNING for this node, as a driver's claim would make it: the state change index
    counts both, as it does for a run driven by its caller, though READY is never committed."""
    values = state_values(apply(copy.copy(record), ready), ExecutionState.RUNNING, pe.node_id, now)
    values.update(owner_node=pe.node_id, previous_node=pe.node_id)
    return values


@audited("terminateProcess", "execution", "execution_id")
def terminate_process(pe: ProcessEngine, principal: Principal, execution_id: str, *, kill: bool = False,
                      fail: bool = False, message: str | None = None, timeout: int = -1, peek: bool = False,
                      states: Iterable[str] | None = None, wait_online: bool | None = None,
                      inspect_pipeline: bool = False, set_online: bool = False,
                      state_change_index: int | None = None) -> Snapshot:
    """Terminate: onTerminate handlers run and it ends TERMINATED (FAILED with `fail`); with `kill` it
    stops at once, handlers skipped, health KILLED."""
    check_timeout(timeout)
    condition = WaitFor.of(states, wait_online, END_STATES, after_index=state_change_index)
    with pe.db.unit_of_work() as uow:
        record = load(uow.conn, principal, execution_id, Privilege.EXECUTE)
        if set_online and not record.online:
            change(uow.conn, record, {"online": True})
        terminate(pe, uow.conn, record, TerminateRequest(kill, fail, message), uow.after_commit)
        _after_change(pe, uow, record)
        uow.commit()
    return await_and_deliver(pe, execution_id, condition, timeout, peek, inspect_pipeline)


@audited("updateCredentials", "execution", "execution_id")
def update_credentials(pe: ProcessEngine, principal: Principal, execution_id: str) -> Snapshot:
    """The instance runs on as the caller from now on (`currentUser`)."""
    with pe.db.unit_of_work() as uow:
        record = load(uow.conn, principal, execution_id, Privilege.EXECUTE)
        change(uow.conn, record, _credentials(principal))
        _after_change(pe, uow, record, refresh=True)
        uow.commit()
    return deliver(pe, record, False, False)


# -- helpers ----------------------------------------------------------------------------------------
def load_for_caller(pe: ProcessEngine, principal: Principal, process_uri: str | None, cache: bool,
                     process: bytes | None) -> LoadedDefinition:
    if process is not None:
        require_role(principal, pe.settings.auth.stream_roles, "postDefinitionStream", "process")
        return pe.repository.load_stream(process_uri, process)
    if not process_uri:
        raise InvalidParameter("processUri", "is required when no process stream is given")
    return pe.repository.load(process_uri, cache)


def _new_instance(pe: ProcessEngine, principal: Principal, loaded: LoadedDefinition,  # type: ignore[no-untyped-def]
                  external_id: str | None, thread_pool_id: str | None, debug: bool | None,
                  auto_dispose: str | None, locked: bool):
    """A CREATED record in memory (its definition revision registered, in a transaction of its own
    the first time this engine sees it)."""
    if thread_pool_id and thread_pool_id not in pe.settings.engine.thread_pools:
        pools = ", ".join(sorted(pe.settings.engine.thread_pools))
        raise InvalidParameter("threadPoolId", f"no thread pool {thread_pool_id!r} (configured: {pools})")
    mode = parse_enum(AutoDispose, auto_dispose or pe.settings.engine.default_auto_dispose, "autoDispose")
    log = pe.settings.engine.log
    record = new_record(loaded, _registered(pe, loaded), owner=principal.name, roles=sorted(principal.roles),
                      node_id=pe.node_id, at=clock.now(), external_id=external_id or None,
                      thread_pool_id=thread_pool_id or None,
                      debug=pe.settings.engine.default_debug if debug is None else debug,
                      auto_dispose=mode.value, locked=locked,
                      log_settings={"diagnosticLevel": log.diagnostic_level, "dataLevel": log.data_level,
                                    "trace": log.trace})
    created(record.execution_id)  # the operation log names what the call created
    return record


def _registered(pe: ProcessEngine, loaded: LoadedDefinition) -> tuple[int, int]:
    known = pe.registered.get((loaded.uri, loaded.revision))
    if known is not None:
        return known
    with pe.db.unit_of_work() as uow:
        found = pe.register(uow, loaded)
        uow.commit()
    return found


def _online_after_start(set_online: bool | None, timeout: int, current: bool) -> bool:
    """startProcess/run: `setOnline` defaults to true for a synchronous (timeout < 0) call."""
    wanted = (timeout is None or timeout < 0) if set_online is None else set_online
    return True if wanted else current


def _after_change(pe: ProcessEngine, uow, record, refresh: bool = False,  # type: ignore[no-untyped-def]
                  queue: bool = True) -> None:
    """After the commit: wake waiters, tell a running driver to re-read, queue a READY instance
    (unless the caller is about to drive it itself)."""
    execution_id = record.execution_id

    def committed() -> None:
        pe.notify(execution_id, record)
        if refresh:
            pe.executor.signal(execution_id, refresh=True)
        if queue and record.state == ExecutionState.READY.value and record.online:
            pe.ready(execution_id, record.thread_pool_id)
        elif record.state == ExecutionState.WAITING.value and record.online:
            pe.timer_set(None)
    uow.after_commit(committed)


def _recover(pe: ProcessEngine, uow, record, principal: Principal, set_online: bool,  # type: ignore[no-untyped-def]
             update_credentials: bool) -> None:
    values = {"health": HealthState.OK.value, "health_message": None, "health_exception_type": None,
              "owner_node": pe.node_id if record.locked else None, "exec_version": record.exec_version + 1,
              "process_engine_id": pe.node_id}
    if record.state == ExecutionState.RUNNING.value:
        values.update(state_values(record, ExecutionState.READY, pe.node_id, clock.now()))
    if set_online:
        values["online"] = True
    if update_credentials:
        values.update(_credentials(principal))
    change(uow.conn, record, values)
    history.health_changed(pe, uow.conn, record.__dict__, HealthState.OK.value, "recovered")
    _after_change(pe, uow, record)


def _credentials(principal: Principal) -> dict[str, str]:
    return {"current_user": principal.name, "current_roles": codec.dumps(sorted(principal.roles))}


def _check_position(record, loaded: LoadedDefinition) -> None:  # type: ignore[no-untyped-def]
    try:
        decode_position(codec.loads(record.position), loaded.definition)
    except DefinitionConflict as exc:
        raise InvalidState(f"the definition does not fit the saved position: {exc}") from None
    except codec.CorruptState:
        pass  # nothing to keep: the saved state is unreadable either way


def _require_inactive(state: str, execution_id: str, action: str) -> None:
    if ExecutionState(state).active:
        raise InvalidState(f"cannot {action} process {execution_id}: it is {state}")


def _require_healthy(record) -> None:  # type: ignore[no-untyped-def]
    if record.health != HealthState.OK.value:
        raise InvalidState(f"the process's health is {record.health}: "
                           + ("recover it first" if record.health == HealthState.LOST.value else "reload it first"))


def _choice(name: str, value: str | None, allowed: tuple[str, ...]) -> str | None:
    if value is None:
        return None
    if value not in allowed:
        raise InvalidParameter(name, f"{value!r} is not one of {', '.join(allowed)}")
    return value
