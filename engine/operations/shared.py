"""What several operations share: loading an instance for a change, synchronous waits, handing out
snapshots (with dispose-on-fetch), terminating, and loading the definition an instance runs."""
from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Iterable, Iterator

from ..support import clock
from ..features import idempotency
from ..support.clock import check_timeout
from ..definitions.repository import LoadedDefinition
from ..errors import InvalidParameter, InvalidState, NotFound
from ..faults import TerminateRequest
from ..model.results import Snapshot
from ..runtime import history
from ..runtime.records import apply, state_values
from ..security.authorization import Principal, require
from .snapshots import snapshot_of
from ..model.states import END_STATES, STATE_NAMES, AutoDispose, ExecutionState, HealthState, Privilege
from ..storage import codec, instances as store
from ..storage.database import Connection
from ..storage.definitions import load_source
from ..storage.instances import InstanceRecord

if TYPE_CHECKING:
    from ..features.idempotency import Claim
    from ..runtime.node import ProcessEngine


def load(conn: Connection, principal: Principal, execution_id: str, privilege: Privilege,
         for_update: bool = True) -> InstanceRecord:
    """The live instance, locked for the transaction, after checking the caller's privilege."""
    record = store.get_instance(conn, execution_id, for_update=for_update)
    if record is None:
        raise NotFound("execution", execution_id)
    require(principal, record, privilege)
    return record


def change(conn: Connection, record: InstanceRecord, values: dict[str, Any]) -> InstanceRecord:
    """Write `values` to the instance and let the record follow."""
    store.update_instance(conn, record.execution_id, values)
    return apply(record, values)


# -- synchronous waits ----------------------------------------------------------------------------
@dataclass(frozen=True)
class WaitFor:
    """The condition of a synchronous call (spec: "Synchronous vs. Asynchronous Calls")."""

    states: frozenset[ExecutionState] | None = END_STATES
    online: bool | None = None
    after_index: int | None = None
    after_time: datetime | None = None
    not_running: bool = False      # setOnline(false): until the instance no longer runs

    @classmethod
    def of(cls, states: Iterable[str] | None, wait_online: bool | None, default: frozenset[ExecutionState],
           **extra: Any) -> "WaitFor":
        """The caller's `states` and `waitOnline`; `waitOnline` alone waits for the online state only."""
        if states:
            chosen = frozenset(_state(s) for s in states)
        else:
            chosen = None if wait_online is not None else default
        return cls(chosen, wait_online, **extra)

    def met(self, record: InstanceRecord) -> bool:
        if self.states is not None and ExecutionState(record.state) not in self.states:
            return False
        if self.online is not None and record.online != self.online:
            return False
        if self.not_running and record.state == ExecutionState.RUNNING.value:
            return False
        if self.after_index is not None and record.state_change_index <= self.after_index:
            return False
        return self.after_time is None or record.state_changed_at >= self.after_time

    def settled_by_suspension(self) -> bool:
        """Whether only a suspension or an end can satisfy this: then the caller may drive the
        instance itself instead of waiting for a pool thread to."""
        return (self.states is not None and self.states <= _SETTLED and self.online is None
                and self.after_time is None and not self.not_running)

    def hopeless(self, record: InstanceRecord) -> bool:
        """An ended instance changes state no more: stop waiting unless the online flag is awaited."""
        return record.state in {s.value for s in END_STATES} and self.online is None


_SETTLED = END_STATES | {ExecutionState.WAITING, ExecutionState.PAUSED}


def _state(name: str) -> ExecutionState:
    try:
        return ExecutionState(name.strip().upper())
    except ValueError:
        allowed = ", ".join(STATE_NAMES)
        raise InvalidParameter("states", f"{name!r} is not one of {allowed}") from None


def timeout_seconds(pe: "ProcessEngine", timeout_ms: int | None) -> float:
    """-1 (or None) blocks up to the configured maximum; every other value is capped by it too."""
    check_timeout(timeout_ms)
    cap = pe.settings.engine.max_timeout_ms
    if timeout_ms is None or timeout_ms < 0:
        return cap / 1000
    return min(timeout_ms, cap) / 1000


def await_record(pe: "ProcessEngine", execution_id: str, condition: WaitFor, timeout_ms: int | None) -> InstanceRecord:
    """Block until `condition` holds for the committed instance, it can no longer hold, or time is up."""
    def read() -> InstanceRecord | None:
        with pe.db.unit_of_work(write=False) as uow:
            return store.get_instance(uow.conn, execution_id, include_disposed=True)

    timeout = timeout_seconds(pe, timeout_ms)
    record = pe.waiters.wait(execution_id, read, lambda r: r is None or condition.met(r) or condition.hopeless(r),
                             timeout)
    if record is None:
        raise NotFound("execution", execution_id)
    return record


def deliver(pe: "ProcessEngine", record: InstanceRecord, peek: bool, inspect_pipeline: bool,
            pipeline: Any = None, remember: "Claim | None" = None) -> Snapshot:
    """The snapshot handed to a client; an ended `fetch` instance is disposed by this (unless peek),
    and for an idempotent start the row handed out is kept with its key."""
    snapshot = snapshot_of(record, inspect_pipeline, pipeline)
    dispose = (not peek and record.disposed_at is None and record.state in {s.value for s in END_STATES}
               and record.auto_dispose == AutoDispose.FETCH.value)
    if dispose or remember is not None:
        with pe.db.unit_of_work() as uow:
            if remember is not None:
                idempotency.remember(uow.conn, remember, _with_pipeline(record, pipeline))
            if dispose:
                store.mark_disposed(uow.conn, [record.execution_id], clock.now())
                uow.after_commit(lambda: pe.notify(record.execution_id, record))
            uow.commit()
    return snapshot


def _with_pipeline(record: InstanceRecord, pipeline: Any) -> InstanceRecord:
    """The row as handed out: with the pipeline the caller held decoded, if it was newer."""
    if pipeline is None:
        return record
    return InstanceRecord(**{**record.__dict__, "pipeline": codec.encode_store(pipeline)})


# A caller that may drive its instance itself but finds its pool's permits all taken waits this long
# for one at most (never longer than its timeout) before the instance is queued for the pool instead.
# Under a burst of short calls, more callers than the pool has threads, a permit frees within a
# millisecond; queued, the instance costs a write, a hand-over to another thread and a read more, which
# keeps permits taken longer still (issue 17: REST run at history level instance, with 16 connections
# to a pool of 8, served 0.40x what level none did; waiting, 0.87x).
PERMIT_WAIT_S = 0.05


@contextmanager
def driving_slot(pe: "ProcessEngine", pool_id: str | None, timeout_ms: int | None,
                 wait: bool = True) -> Iterator[tuple[bool, int | None]]:
    """A permit of the pool for a caller about to drive its instance itself, waited for as long as
    PERMIT_WAIT_S says (not at all unless it may `wait`: a caller waits once): whether it has one, and
    what is left of its timeout after the wait."""
    waits = 0.0
    if wait:
        blocks = timeout_ms is None or timeout_ms < 0
        waits = PERMIT_WAIT_S if blocks else min(PERMIT_WAIT_S, timeout_ms / 1000)
    began = time.monotonic()
    with pe.executor.slot(pool_id, within=waits) as free:
        if timeout_ms is not None and timeout_ms > 0:
            timeout_ms = max(1, timeout_ms - int((time.monotonic() - began) * 1000))
        yield free, timeout_ms


def may_drive_here(pe: "ProcessEngine", condition: WaitFor, timeout_ms: int | None, online: bool) -> bool:
    """Whether a caller that started an instance may drive it itself: it would only block until the
    instance suspends or ends anyway."""
    return timeout_ms != 0 and condition.settled_by_suspension() and online and pe.accepting_work()


def start_and_deliver(pe: "ProcessEngine", record: InstanceRecord, condition: WaitFor, timeout_ms: int | None,
                      peek: bool, inspect_pipeline: bool, remember: "Claim | None" = None,
                      waited: bool = False) -> Snapshot:
    """After a commit that made `record` READY: drive it on this thread when the caller would only
    block until it settles anyway and its pool has room (waiting for it briefly, unless the caller
    `waited` already); otherwise queue it and wait as asked, for what is left of the timeout."""
    if may_drive_here(pe, condition, timeout_ms, record.online):
        with driving_slot(pe, record.thread_pool_id, timeout_ms, wait=not waited) as (free, left_ms):
            if free:
                return drive_and_deliver(pe, record, False, condition, left_ms, peek, inspect_pipeline,
                                         remember=remember)
        timeout_ms = left_ms
    if timeout_ms == 0:  # answered as committed (no read: this is what was committed), then queued
        snapshot = deliver(pe, record, peek, inspect_pipeline, remember=remember)
        pe.ready(record.execution_id, record.thread_pool_id)
        return snapshot
    pe.ready(record.execution_id, record.thread_pool_id)
    return await_and_deliver(pe, record.execution_id, condition, timeout_ms, peek, inspect_pipeline, remember)


def drive_and_deliver(pe: "ProcessEngine", record: InstanceRecord, claimed: bool, condition: WaitFor,
                      timeout_ms: int | None, peek: bool, inspect_pipeline: bool, known: Any = None,
                      unsaved: bool = False, remember: "Claim | None" = None, reserved: bool = False) -> Snapshot:
    """Inside a pool slot: drive the instance here, then hand out its snapshot (waiting on if it
    settled short of what the caller waits for)."""
    fetch = not peek and record.auto_dispose == AutoDispose.FETCH.value
    driver = pe.executor.drive_here(record, claimed=claimed, dispose_at_end=fetch, known=known, unsaved=unsaved,
                                    reserved=reserved)
    if driver is not None and (condition.met(driver.record) or condition.hopeless(driver.record)):
        return deliver(pe, driver.record, peek, inspect_pipeline, driver.run.pipeline, remember)
    if driver is None and not claimed:
        pe.ready(record.execution_id, record.thread_pool_id)
    return await_and_deliver(pe, record.execution_id, condition, timeout_ms, peek, inspect_pipeline, remember)


def await_and_deliver(pe: "ProcessEngine", execution_id: str, condition: WaitFor, timeout_ms: int | None,
                      peek: bool, inspect_pipeline: bool, remember: "Claim | None" = None) -> Snapshot:
    return deliver(pe, await_record(pe, execution_id, condition, timeout_ms), peek, inspect_pipeline,
                   remember=remember)


# -- terminating ----------------------------------------------------------------------------------
def terminate(pe: "ProcessEngine", conn: Connection, record: InstanceRecord, request: TerminateRequest,
              after_commit: Any) -> None:
    """Terminate `record` as CONTRACT §3 says; its waiting child, if any, goes with it."""
    state = ExecutionState(record.state)
    if state.ended:
        raise InvalidState(f"process {record.execution_id} has already ended ({state.value})")
    wait = store.get_wait(conn, record.execution_id)
    if request.kill or state == ExecutionState.CREATED:
        _end_now(pe, conn, record, request)
        after_commit(lambda: pe.executor.signal(record.execution_id, kill=True))
    elif state == ExecutionState.RUNNING:
        # The driver keeps its claim: it hears the signal here, or finds the request when it saves.
        change(conn, record, {"terminate_request": codec.dumps(request.__dict__)})
        after_commit(lambda: pe.executor.signal(record.execution_id, terminate=request))
    elif state == ExecutionState.READY:
        # Not claimed yet: a claim from before this request must fail, so the request is seen.
        change(conn, record, {"terminate_request": codec.dumps(request.__dict__),
                              "exec_version": record.exec_version + 1})
        after_commit(lambda: pe.ready(record.execution_id, record.thread_pool_id))
    else:  # WAITING or PAUSED: run the handlers on a thread
        store.delete_wait(conn, record.execution_id)
        values = state_values(record, ExecutionState.READY, pe.node_id, clock.now())
        values["terminate_request"] = codec.dumps(request.__dict__)
        change(conn, record, values)
        after_commit(lambda: pe.ready(record.execution_id, record.thread_pool_id))
    if wait is not None and wait.child_execution_id:
        child = store.get_instance(conn, wait.child_execution_id, for_update=True)
        if child is not None and not ExecutionState(child.state).ended:
            terminate(pe, conn, child, request, after_commit)


def _end_now(pe: "ProcessEngine", conn: Connection, record: InstanceRecord, request: TerminateRequest) -> None:
    now = clock.now()
    state = ExecutionState.FAILED if request.fail else ExecutionState.TERMINATED
    values = state_values(record, state, pe.node_id, now)
    values.update(message=request.message or ("killed" if request.kill else "terminated"), position=None,
                  terminate_request=None, owner_node=pe.node_id if record.locked else None)
    if request.kill:
        values.update(health=HealthState.KILLED.value, health_message="terminated with kill",
                      health_exception_type=None)
    if AutoDispose(record.auto_dispose).disposes_at_end(state):
        values["disposed_at"] = now
    store.delete_wait(conn, record.execution_id)
    change(conn, record, values)
    history.ended(pe, conn, record.__dict__)


# -- definitions ----------------------------------------------------------------------------------
def definition_of(pe: "ProcessEngine", conn: Connection, record: InstanceRecord) -> LoadedDefinition:
    """The definition an instance runs: its stored stream, or the repository file at its URI."""
    if record.definition_origin == "stream":
        found = load_source(conn, record.definition_id)
        if found is None:
            raise NotFound("definition", record.process_uri)
        return pe.repository.load_stream(found[0], found[2], record.definition_changed_at)
    return pe.repository.load(record.process_uri)
