"""Turning a stored instance into the `Snapshot` an operation hands out."""
from __future__ import annotations

from datetime import datetime

from ..support import clock
from ..model.datastore import DataStore
from ..model.results import Ace, DefinitionInfo, ExceptionReport, Health, Snapshot
from ..model.states import ACTIVE_STATES, AutoDispose, ExecutionState, HealthState
from ..storage import codec
from ..storage.instances import InstanceRecord


def snapshot_of(record: InstanceRecord, inspect_pipeline: bool = False, pipeline: DataStore | None = None,
                at: datetime | None = None) -> Snapshot:
    """The snapshot of `record` (with `pipeline` when the caller holds it decoded already). Saved
    state that does not decode shows as health CORRUPT."""
    known = pipeline
    state = ExecutionState(record.state)
    health = Health(HealthState(record.health), record.health_message, record.health_exception_type)
    pipeline = None
    exception = permissions = None
    try:
        if inspect_pipeline or record.debug or state not in ACTIVE_STATES:
            pipeline = known if known is not None else codec.decode_store(record.pipeline)
        exception = _report(codec.loads(record.exception_report))
        permissions = tuple(Ace(name, tuple(privs)) for name, privs in codec.loads(record.permissions, {}).items())
    except codec.CorruptState as exc:
        health = Health(HealthState.CORRUPT, str(exc), "CorruptState")
    definition = DefinitionInfo(record.process_uri, record.definition_location, record.definition_name,
                                record.definition_changed_at, record.definition_version)
    return Snapshot(
        execution_id=record.execution_id, external_id=record.external_id, state=state,
        state_change_index=record.state_change_index, auto_dispose=AutoDispose(record.auto_dispose),
        created_at=record.created_at, started_at=record.started_at, finished_at=record.finished_at,
        current_element=record.current_element, current_time=at or clock.now(), current_user=record.current_user,
        owner=record.owner, owner_node=record.owner_node, process_engine_id=record.process_engine_id,
        debug=record.debug, locked=record.locked, online=record.online, message=record.message,
        thread_pool_id=record.thread_pool_id, definition=definition, health=health, exception=exception,
        permissions=permissions or (), pipeline=pipeline)


def _report(data: dict | None) -> ExceptionReport | None:
    if not data:
        return None
    return ExceptionReport(data["type"], data["message"], data.get("source"), _report(data.get("cause")))
