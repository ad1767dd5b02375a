"""Maintenance levels: named in the settings, the current one stored for every node (engine_state)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from ..support import clock
from ..errors import NotFound
from ..model.results import MaintenanceLevel
from ..storage import engine_state, instances as store
from ..storage.database import Connection

if TYPE_CHECKING:
    from ..runtime.node import ProcessEngine

KEY = "maintenanceLevel"


def level(pe: "ProcessEngine", level_id: str) -> MaintenanceLevel:
    for configured in pe.settings.maintenance.levels:
        if configured.id == level_id:
            return configured
    raise NotFound("maintenance level", level_id)


def current(pe: "ProcessEngine", conn: Connection) -> MaintenanceLevel:
    """The stored level, or the configured initial one (also when the stored one is no longer configured)."""
    stored = engine_state.value(conn, KEY)
    try:
        return level(pe, stored) if stored else level(pe, pe.settings.maintenance.initial)
    except NotFound:
        return level(pe, pe.settings.maintenance.initial)


def store_level(conn: Connection, level_id: str) -> None:
    engine_state.store(conn, KEY, level_id, clock.now())


def apply_online_rule(conn: Connection, rule: str) -> list[tuple[str, str | None, str]]:
    """Set every live instance online (allOnline) or offline (allOffline); noChange leaves them.
    Returns (execution ID, thread pool, state) of each instance changed."""
    if rule == "noChange":
        return []
    return store.set_all_online(conn, rule == "allOnline")
