"""Service processes (spec: "Service Management"): processes named in the settings, each with at most
one running instance, some started with the engine.

Storage keeps each service's current instance (`storage/services.py`); starting a service locks that
row (or creates it), so two callers — or two nodes — never start the same service twice.
"""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from ..support import clock
from ..model.datastore import DataStore
from ..errors import NotFound
from ..runtime.records import apply, merge_parameters, new_record, state_values
from ..security.authorization import Principal
from ..settings import ServiceSettings
from ..model.states import END_STATES, AutoDispose, ExecutionState
from ..storage import codec, instances as store, services as service_rows
from ..storage.database import AlreadyStored, Connection
from ..storage.instances import InstanceRecord

if TYPE_CHECKING:
    from ..runtime.node import ProcessEngine

log = logging.getLogger(__name__)
_ENDED = {s.value for s in END_STATES}


def configured(pe: "ProcessEngine", service_id: str) -> ServiceSettings:
    for service in pe.settings.services:
        if service.id == service_id:
            return service
    raise NotFound("service", service_id)


def current(pe: "ProcessEngine", conn: Connection, service_id: str) -> InstanceRecord | None:
    """The service's instance, if one exists and is not disposed."""
    return _instance(conn, service_rows.current_execution(conn, service_id))


def _instance(conn: Connection, execution_id: str | None) -> InstanceRecord | None:
    return store.get_instance(conn, execution_id) if execution_id is not None else None


def is_running(record: InstanceRecord | None) -> bool:
    return record is not None and record.state not in _ENDED


def start(pe: "ProcessEngine", principal: Principal, service_id: str) -> tuple[InstanceRecord, bool]:
    """The service's running instance, starting a new one unless one runs; (record, started now)."""
    service = configured(pe, service_id)
    for _ in range(3):
        try:
            with pe.db.unit_of_work() as uow:
                execution_id = service_rows.current_execution(uow.conn, service_id, lock=True)
                record = _instance(uow.conn, execution_id)
                if is_running(record):
                    return record, False
                if record is not None:  # the ended instance of an earlier start makes way
                    store.mark_disposed(uow.conn, [record.execution_id], clock.now())
                record = _new_instance(pe, uow, principal, service)
                service_rows.point_at(uow.conn, service_id, record.execution_id, execution_id is not None,
                                      clock.now())
                uow.after_commit(lambda: pe.ready(record.execution_id, record.thread_pool_id))
                uow.commit()
                return record, True
        except AlreadyStored:  # another node created the row first: look again
            continue
    raise RuntimeError(f"service {service_id} could not be started")


def _new_instance(pe: "ProcessEngine", uow, principal: Principal, service: ServiceSettings) -> InstanceRecord:  # type: ignore[no-untyped-def]
    loaded = pe.repository.load(service.process_uri)
    log_defaults = pe.settings.engine.log
    record = new_record(loaded, pe.register(uow, loaded), owner=principal.name, roles=sorted(principal.roles),
                        node_id=pe.node_id, at=clock.now(), external_id=f"service:{service.id}",
                        thread_pool_id=service.thread_pool_id, debug=False, auto_dispose=AutoDispose.NEVER.value,
                        locked=False, log_settings={"diagnosticLevel": log_defaults.diagnostic_level,
                                                    "dataLevel": log_defaults.data_level, "trace": log_defaults.trace})
    record.pipeline = codec.encode_store(merge_parameters(loaded.definition, DataStore(), None, True))
    apply(record, state_values(record, ExecutionState.READY, pe.node_id, clock.now()))
    store.insert_instance(uow.conn, record)
    return record


def autostart(pe: "ProcessEngine", principal: Principal) -> list[str]:
    """Start every autostart service that does not run; the IDs started. A service that cannot start
    (its definition is missing, say) is logged and the others still start."""
    started = []
    for service in pe.settings.services:
        if not service.autostart:
            continue
        try:
            if start(pe, principal, service.id)[1]:
                started.append(service.id)
        except Exception:
            log.exception("service %s could not be started", service.id)
    return started
