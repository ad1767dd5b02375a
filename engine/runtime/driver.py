"""Driving one claimed instance: load its definition and saved state, run it step by step, save.

Saves are guarded by `exec_version`: if anyone else changed the instance's execution state (a kill, a
LOST mark), the guard fails and this driver lets go without writing. A driver saves when the instance
suspends or ends, and at least every `engine.save_interval_ms` while it runs, so a crash loses at most
that much progress — and never anything a client was told.
"""
from __future__ import annotations

import logging
import time
from typing import Any

from ..support import clock
from ..model.datastore import DataStore
from ..definitions.repository import LoadedDefinition
from ..errors import EngineError
from ..faults import Fault, TerminateRequest
from ..model.history import HistoryLevel
from ..model.states import AutoDispose, ExecutionState, HealthState
from ..storage import codec
from ..storage import instances as store
from ..storage.database import Connection
from ..storage.definitions import load_source
from ..storage.instances import InstanceRecord, WaitRecord
from ..storage.tables import instances as instances_table
from . import history
from .control import Control
from .host import Host
from .interpreter import ChildResult, End, Run, RunInfo, Suspend
from .position import DefinitionConflict, decode_position, encode_position
from .records import apply, merge_parameters, new_record, state_values

log = logging.getLogger(__name__)


class Driver:
    def __init__(self, pe: Host, record: InstanceRecord, control: Control,
                 dispose_at_end: bool = False) -> None:
        self.pe, self.record, self.control = pe, record, control
        self.dispose_at_end = dispose_at_end  # the caller will hand the end snapshot out (fetch)
        # A `run` driven by its caller is first written when it first saves (like a transaction that
        # runs up to the first wait state): until then nobody but that caller knows it exists.
        self.pending_insert = False
        self.release_at: float | None = None  # monotonic time to give it up to a pool thread, if still running
        self.children: dict[str, LoadedDefinition] = {}
        self.dispose_child: str | None = None
        self.run: Run | None = None

    # -- preparing ----------------------------------------------------------------------------------
    def prepare(self, known: tuple[LoadedDefinition, DataStore] | None = None, claimed: bool = False) -> bool:
        """Load definition and state, then claim the instance (unless the caller `claimed` it already);
        False if it cannot or need not run. `known` is the definition and pipeline a caller holds for
        this very record, to skip reading them."""
        record = self.record
        try:
            if known is not None and known[0].revision == record.definition_revision and record.position is None \
                    and record.state_format == codec.STATE_FORMAT:
                loaded, pipeline = known
                position = decode_position(None, loaded.definition)
            else:
                loaded = self._load_definition()
                fields = codec.upgrade_fields(record.state_format, {
                    "position": codec.loads(record.position), "pipeline": record.pipeline})
                pipeline = codec.decode_store(fields["pipeline"])
                position = decode_position(fields["position"], loaded.definition)
        except codec.CorruptState as exc:
            return self._mark_unhealthy(HealthState.CORRUPT, str(exc), "CorruptState")
        except DefinitionConflict as exc:
            return self._mark_unhealthy(HealthState.DEFINITION_CONFLICT, str(exc), "DefinitionConflict")
        except EngineError as exc:
            return self._mark_unhealthy(HealthState.BROKEN, exc.message, exc.type)
        self.loaded = loaded
        self.run = self._build_run(loaded, pipeline, position)
        if not claimed:
            return self._claim()
        if loaded.revision != record.definition_revision and not self.pending_insert:
            return self._adopt_definition()  # claimed by the caller; its definition changed meanwhile
        return True

    def _load_definition(self) -> LoadedDefinition:
        record, repository = self.record, self.pe.repository
        if record.definition_origin == "stream":
            with self.pe.db.unit_of_work(write=False) as uow:
                found = load_source(uow.conn, record.definition_id)
            if found is None:
                raise codec.CorruptState(f"definition revision {record.definition_id} is missing")
            return repository.load_stream(found[0], found[2], record.definition_changed_at)
        return repository.load(record.process_uri)

    def _build_run(self, loaded: LoadedDefinition, pipeline: DataStore, position: Any) -> Run:
        record = self.record
        info = RunInfo(record.execution_id, record.external_id, record.process_uri, record.owner,
                       record.current_user)
        run = Run(loaded.definition, pipeline, position, info,
                  attributes=codec.loads(record.attributes, {}),
                  instance_constants=lambda: codec.decode_store(record.instance_constants),
                  public_constants=self.pe.public_constants,
                  breakpoints=set(codec.loads(record.breakpoints, [])),
                  log_settings=codec.loads(record.log_settings, {}), modules=self.pe.modules,
                  load_child=self._load_child)
        if history.keeps(self.pe, HistoryLevel.ACTIVITY):
            run.trail, run.trail_data = [], history.keeps(self.pe, HistoryLevel.FULL)
        return run

    def _claim(self) -> bool:
        record, now = self.record, clock.now()
        version = record.exec_version
        values = state_values(record, ExecutionState.RUNNING, self.pe.node_id, now)
        values.update(owner_node=self.pe.node_id, previous_node=self.pe.node_id)
        if self.loaded.revision != record.definition_revision:
            values.update(self._definition_columns(self.loaded))
        with self.pe.db.unit_of_work() as uow:
            claimed = store.claim_instance(uow.conn, record.execution_id, version, self.pe.node_id, values)
            if not claimed:
                return False
            self._after(uow, values)
            uow.commit()
        return True

    def _adopt_definition(self) -> bool:
        """What a claim writes besides the state: the definition revision it runs from now on."""
        return self._commit_guarded(self._definition_columns(self.loaded))

    def _commit_guarded(self, values: dict[str, Any]) -> bool:
        """Write `values` with the next exec_version, if nobody changed the instance since; committed."""
        values["exec_version"] = self.record.exec_version + 1
        with self.pe.db.unit_of_work() as uow:
            if not self._write(uow, values, self.record.exec_version):
                return False
            self._after(uow, values)
            uow.commit()
        return True

    def _definition_columns(self, loaded: LoadedDefinition) -> dict[str, Any]:
        with self.pe.db.unit_of_work() as uow:
            registered = self.pe.register(uow, loaded)
            uow.commit()
        return {"definition_id": registered[0], "definition_version": registered[1],
                "definition_revision": loaded.revision, "definition_changed_at": loaded.changed_at,
                "definition_name": loaded.definition.name}

    def _mark_unhealthy(self, health: HealthState, message: str, exception_type: str) -> bool:
        log.warning("instance %s is %s: %s", self.record.execution_id, health.value, message)
        values = {"health": health.value, "health_message": message, "health_exception_type": exception_type,
                  "exec_version": self.record.exec_version + 1, "process_engine_id": self.pe.node_id}
        if self.record.state == ExecutionState.RUNNING.value and not self.pending_insert:
            # claimed by its caller in the start's commit: READY again, as it would be unclaimed
            values.update(state_values(self.record, ExecutionState.READY, self.pe.node_id, clock.now()))
            values["exec_version"] = self.record.exec_version + 1
        if not self.record.locked:
            values["owner_node"] = None
        with self.pe.db.unit_of_work() as uow:
            if self.pending_insert:
                store.insert_values(uow.conn, {**self.record.__dict__, **values})
                uow.after_commit(self._inserted)
            else:
                store.update_instance(uow.conn, self.record.execution_id, values,
                                      expect_version=self.record.exec_version)
            history.health_changed(self.pe, uow.conn, {**self.record.__dict__, **values}, health.value, message)
            uow.after_commit(lambda: self.pe.notify(self.record.execution_id))
            uow.commit()
        return False

    def _load_child(self, uri: str) -> str:
        try:
            loaded = self.pe.repository.load(uri, base=self.record.process_uri)
        except EngineError as exc:
            raise Fault("CallFailed", f"cannot load {uri!r}: {exc.message}") from None
        self.children[loaded.uri] = loaded
        return loaded.uri

    # -- driving ------------------------------------------------------------------------------------
    def drive(self, resumed: bool = False) -> bool:
        """Run until the instance suspends, ends or is let go; False if it is still running at
        `release_at`, to be driven on (`resumed`) from that step, on another thread."""
        run, record = self.run, self.record
        outcome = None if resumed else self._start_or_resume(run, record)
        interval = self.pe.settings.engine.save_interval_ms / 1000
        last_save = time.monotonic()
        while True:
            if outcome is None and self.control.dirty:
                outcome = self._obey_control()
                if outcome == "stop":
                    return True
            if outcome is None:
                outcome = run.step()
            if outcome is None:
                now = time.monotonic()
                if self.release_at is not None and now > self.release_at:
                    self.release_at = None
                    return False
                if now - last_save > interval:
                    if not self._save_running():
                        return True
                    last_save = time.monotonic()
                continue
            if isinstance(outcome, End):
                self._finish(outcome)
                return True
            outcome = self._suspend(outcome)
            if outcome == "stop":
                return True

    def _start_or_resume(self, run: Run, record: InstanceRecord) -> End | None:
        request = codec.loads(record.terminate_request)
        if request is not None and run.position.terminating is None:
            if not run.position.frames:
                run.begin()
            return run.begin_terminate(TerminateRequest(**request))
        if not run.position.frames:
            run.begin()
            return None
        child = self._child_result(run.position.at.child) if run.position.at and run.position.at.child else None
        return run.resume(child)

    def _child_result(self, child_id: str) -> ChildResult | None:
        with self.pe.db.unit_of_work(write=False) as uow:
            child = store.get_instance(uow.conn, child_id, include_disposed=True)
        if child is None:
            return None
        self.dispose_child = child_id
        report = codec.loads(child.exception_report)
        return ChildResult(child.execution_id, ExecutionState(child.state), child.message,
                           Fault.from_dict(report) if report else None, codec.decode_store(child.pipeline))

    def _obey_control(self) -> End | str | None:
        control = self.control
        control.dirty = False
        if control.kill:
            return "stop"
        if control.refresh:
            control.refresh = False
            if not self._refresh():
                return "stop"
        if control.terminate is not None:
            request, control.terminate = control.terminate, None
            return self.run.begin_terminate(request)
        if control.release or not self.record.online or not self.pe.accepting_work():
            control.release = False
            self._release()
            return "stop"
        return None

    def _refresh(self) -> bool:
        """Re-read what callers may change while the instance runs; False if it is no longer ours."""
        with self.pe.db.unit_of_work(write=False) as uow:
            fresh = store.get_instance(uow.conn, self.record.execution_id)
        if fresh is None or fresh.exec_version != self.record.exec_version:
            return False
        run = self.run
        run.attributes = codec.loads(fresh.attributes, {})
        run.instance_constants = codec.decode_store(fresh.instance_constants)
        run.breakpoints = set(codec.loads(fresh.breakpoints, []))
        run.log_settings = codec.loads(fresh.log_settings, {})
        run.info.owner, run.info.current_user = fresh.owner, fresh.current_user
        for name in ("online", "owner", "current_user", "current_roles", "debug"):
            setattr(self.record, name, getattr(fresh, name))
        return True

    # -- saving -------------------------------------------------------------------------------------
    def _state_columns(self, with_position: bool = True, with_pipeline: bool = True) -> dict[str, Any]:
        run = self.run
        position = codec.dumps(encode_position(run.position, run.definition)) if with_position else None
        columns = {"current_element": run.current_element, "position": position, "state_format": codec.STATE_FORMAT}
        if with_pipeline:
            columns["pipeline"] = codec.encode_store(run.pipeline)
        return columns

    def _write(self, uow: Any, values: dict[str, Any], version: int, where: Any = None) -> bool:
        if self.pending_insert:
            store.insert_values(uow.conn, {**self.record.__dict__, **values})
            uow.after_commit(self._inserted)
            done = True
        else:
            done = store.update_instance(uow.conn, self.record.execution_id, values, expect_version=version,
                                         where=where)
        if done:
            store.append_log(uow.conn, self._log_rows())
            history.passed(self.pe, uow.conn, self.record.execution_id, self._trail())
            if self.dispose_child:
                store.mark_disposed(uow.conn, [self.dispose_child], clock.now())
        return bool(done)

    def _inserted(self) -> None:
        self.pending_insert = False

    def _log_rows(self) -> list[dict[str, Any]]:
        entries, self.run.log_entries = self.run.log_entries, []
        return [{"execution_id": self.record.execution_id, "logged_at": at, "level": level,
                 "element_id": element, "message": message} for at, level, element, message in entries]

    def _trail(self) -> list[dict[str, Any]]:
        visits = self.run.trail or []
        if visits:
            self.run.trail = []
        return visits

    def _after(self, uow: Any, values: dict[str, Any]) -> None:
        uow.after_commit(lambda: self._committed(values))

    def _committed(self, values: dict[str, Any]) -> None:
        """Once committed: the record follows the written values, and waiters hear of it."""
        self.dispose_child = None
        apply(self.record, values)
        self.pe.notify(self.record.execution_id, self.record)

    def _insert_alone(self, values: dict[str, Any]) -> bool:
        """Save an instance that ends before it was ever saved, and touches nothing else (no log
        lines, no parent to wake, no child to dispose), with its one INSERT as a transaction of its
        own (with its history record and the call's log row, where the history keeps them): how a
        synchronous `run` of a short process ends.

        If it also ends disposed, it is not written at all (its history record is, by itself). Only
        its creator, still waiting for the answer, knows its ID, and no operation finds a disposed
        instance; its row would be deleted unread after `dispose_retention_ms`. (A mature engine does
        the same: Camunda writes no runtime rows for an execution that runs straight through.)"""
        if not self._alone():
            return False
        row = {**self.record.__dict__, **values}
        disposed = values.get("disposed_at") is not None
        if history.keeps(self.pe, HistoryLevel.INSTANCE):  # with its record and the call's log row
            history.ended_alone(self.pe, row, None if disposed else store.insert_statement(self.pe.db, row),
                                self._trail())
        elif not disposed:
            store.insert_alone(self.pe.db, row)
        self._inserted()
        self._committed(values)
        return True

    def _update_alone(self, values: dict[str, Any], version: int) -> bool:
        """Save an instance saved before that touches nothing else, with one UPDATE as a transaction of
        its own: how an asynchronous start ends. True if it was saved this way (or found changed by
        somebody else meanwhile: then, as in a transaction, nothing is saved)."""
        if self.pending_insert or not self._single() or history.keeps(self.pe, HistoryLevel.INSTANCE):
            return False
        if store.update_alone(self.pe.db, self.record.execution_id, values, version):
            self._committed(values)
        return True

    def _alone(self) -> bool:
        return self.pending_insert and self._single()

    def _single(self) -> bool:
        """Whether saving it writes its own row and nothing else: no log lines, no parent to wake, no
        child to dispose (a single statement; what the history keeps of it aside, which
        `_insert_alone` writes with it)."""
        return not self.run.log_entries and self.dispose_child is None \
            and self.record.parent_execution_id is None

    def _save_running(self) -> bool:
        return self._commit_guarded(self._state_columns())

    def _release(self) -> None:
        """Hand the instance back as READY (offline, engine offline or shutting down)."""
        record = self.record
        values = self._state_columns()
        values.update(state_values(record, ExecutionState.READY, self.pe.node_id, clock.now()))
        values["owner_node"] = self.pe.node_id if record.locked else None
        with self.pe.db.unit_of_work() as uow:
            if self._write(uow, values, record.exec_version):
                self._after(uow, values)
                uow.after_commit(lambda: self.pe.ready(record.execution_id, record.thread_pool_id))
                uow.commit()

    def _finish(self, end: End) -> None:
        record, now = self.record, clock.now()
        if end.element:
            self.run.current_element = end.element
        if self.run.trail is not None:
            self.run.close_trail(end.state, end.element)
        disposed = self.dispose_at_end or AutoDispose(record.auto_dispose).disposes_at_end(end.state)
        # One never written and disposed at its end is not written now either: its pipeline, which
        # its creator is handed as it is, need not be encoded (a tenth of a 10 MB store's run) — unless
        # the history keeps it.
        encode = not (disposed and self._alone()) or history.keeps(self.pe, HistoryLevel.FULL)
        values = self._state_columns(with_position=False, with_pipeline=encode)
        values.update(state_values(record, end.state, self.pe.node_id, now))
        values.update(message=end.message, terminate_request=None,
                      owner_node=self.pe.node_id if record.locked else None,
                      exception_report=codec.dumps(end.fault.to_dict()) if end.fault else None)
        if disposed:
            values["disposed_at"] = now
        if self._insert_alone(values) or self._update_alone(values, record.exec_version):
            return
        with self.pe.db.unit_of_work() as uow:
            if not self._write(uow, values, record.exec_version):
                return
            history.ended(self.pe, uow.conn, {**record.__dict__, **values})
            parent = self._wake_parent(uow.conn, now)
            self._after(uow, values)
            if parent is not None:
                uow.after_commit(lambda: self.pe.ready(parent.execution_id, parent.thread_pool_id))
            uow.commit()

    def _wake_parent(self, conn: Connection, now: Any) -> InstanceRecord | None:
        """A child that ends makes its waiting parent READY; a child nobody waits for is disposed."""
        parent_id = self.record.parent_execution_id
        if parent_id is None:
            return None
        wait = store.get_wait(conn, parent_id)
        parent = store.get_instance(conn, parent_id, for_update=True)
        if wait is None or wait.child_execution_id != self.record.execution_id or parent is None \
                or parent.state != ExecutionState.WAITING.value:
            store.mark_disposed(conn, [self.record.execution_id], now)
            return None
        store.delete_wait(conn, parent_id)
        store.update_instance(conn, parent_id, state_values(parent, ExecutionState.READY, self.pe.node_id, now),
                              expect_version=parent.exec_version)
        return parent

    def _suspend(self, outcome: Suspend) -> End | str | None:
        """Save a WAITING or PAUSED instance; if a terminate arrived meanwhile, handle it instead."""
        record, run, now = self.record, self.run, clock.now()
        with self.pe.db.unit_of_work() as uow:
            child = None
            if outcome.kind == "child":
                child = self._create_child(uow, outcome, now)
                if isinstance(child, Fault):
                    run.position.at = None
                    return run.fail(child)  # nothing was written: the unit of work rolls back
            state = ExecutionState.PAUSED if outcome.kind == "breakpoint" else ExecutionState.WAITING
            values = self._state_columns()
            values.update(state_values(record, state, self.pe.node_id, now))
            values["owner_node"] = self.pe.node_id if record.locked else None
            pending = None if run.position.terminating else instances_table.c.terminate_request.is_(None)
            if not self._write(uow, values, record.exec_version, pending):
                return self._terminate_pending()
            if outcome.kind != "breakpoint":
                store.put_wait(uow.conn, WaitRecord(record.execution_id, outcome.element, outcome.kind,
                                                    outcome.due_at, child, now))
            self._after(uow, values)
            if child is not None:
                uow.after_commit(lambda: self.pe.ready(child, record.thread_pool_id))
            if outcome.due_at is not None:
                uow.after_commit(lambda: self.pe.timer_set(outcome.due_at))
            uow.commit()
        return "stop"

    def _terminate_pending(self) -> End | str | None:
        with self.pe.db.unit_of_work(write=False) as uow:
            fresh = store.get_instance(uow.conn, self.record.execution_id)
        if fresh is None or fresh.exec_version != self.record.exec_version or fresh.terminate_request is None:
            return "stop"
        self.run.position.at = None
        return self.run.begin_terminate(TerminateRequest(**codec.loads(fresh.terminate_request)))

    def _create_child(self, uow: Any, outcome: Suspend, now: Any) -> str | Fault:
        """Insert the child instance of a call as READY; a Fault if its parameters do not fit."""
        record, loaded = self.record, self.children[outcome.child_uri]
        try:
            params = merge_parameters(loaded.definition, DataStore(), outcome.child_params, True)
        except EngineError as exc:
            return Fault("CallFailed", f"{loaded.uri}: {exc.message}", outcome.element)
        child = new_record(loaded, self.pe.register(uow, loaded), owner=record.owner, roles=codec.loads(record.current_roles, []),
                           node_id=self.pe.node_id, at=now, external_id=None,
                           thread_pool_id=record.thread_pool_id, debug=record.debug,
                           auto_dispose=AutoDispose.NEVER.value, locked=False,
                           log_settings=codec.loads(record.log_settings, {}), parent=record.execution_id)
        child.current_user, child.current_roles = record.current_user, record.current_roles
        child.permissions = record.permissions  # whoever may see or act on the parent may on its child
        child.pipeline = codec.encode_store(params)
        apply(child, state_values(child, ExecutionState.READY, self.pe.node_id, now))
        store.insert_instance(uow.conn, child)
        for name, granted in codec.loads(record.permissions, {}).items():
            store.replace_permission(uow.conn, child.execution_id, name, granted)
        self.run.position.at.child = child.execution_id
        return child.execution_id
