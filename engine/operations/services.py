"""The operations of the spec's "Service Management" section (administrators only, CONTRACT §8)."""
from __future__ import annotations

from typing import Any, Mapping

from ..features.history import audited
from ..features import services
from .shared import deliver
from ..model.results import ServiceInfo, Snapshot
from ..runtime.node import ProcessEngine
from ..security.authorization import ENGINE, Principal, require_admin
from ..settings import EngineSettings


def new_engine(settings: EngineSettings, modules: Mapping[str, Any] | None = None) -> ProcessEngine:
    """An engine as the service's nodes run one: once started and active, it starts the autostart
    services (the runtime knows nothing of services; this is where the two meet)."""
    return ProcessEngine(settings, modules, on_active=(lambda pe: services.autostart(pe, ENGINE),))


def list_services(pe: ProcessEngine, principal: Principal) -> list[ServiceInfo]:
    """Every configured service process with its state, `running` or `stopped` (CONTRACT §10)."""
    require_admin(principal, "listServices")
    with pe.db.unit_of_work(write=False) as uow:
        states = {s.id: services.is_running(services.current(pe, uow.conn, s.id)) for s in pe.settings.services}
    return [ServiceInfo(s.id, s.process_uri, s.autostart, s.thread_pool_id, s.description,
                        "running" if states[s.id] else "stopped") for s in pe.settings.services]


@audited("startService", "service", "service_id")
def start_service(pe: ProcessEngine, principal: Principal, service_id: str, *, peek: bool = False,
                  inspect_pipeline: bool = False) -> Snapshot:
    """Start a service process; if it runs already, its snapshot (there is never a second one)."""
    require_admin(principal, "startService")
    record, _ = services.start(pe, principal, service_id)
    return deliver(pe, record, peek, inspect_pipeline)


def get_service_snapshot(pe: ProcessEngine, principal: Principal, service_id: str, *, peek: bool = False,
                         inspect_pipeline: bool = False) -> Snapshot | None:
    """The snapshot of the service's instance, or None when it has not been started."""
    require_admin(principal, "getServiceSnapshot")
    services.configured(pe, service_id)
    with pe.db.unit_of_work(write=False) as uow:
        record = services.current(pe, uow.conn, service_id)
    return deliver(pe, record, peek, inspect_pipeline) if record is not None else None
