"""Maintenance levels: named in the settings, the current one stored for every node (engine_state)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import insert, select, update

from . import clock
from .errors import NotFound
from .model import MaintenanceLevel
from .storage.tables import engine_state, instances

if TYPE_CHECKING:
    from .runtime.engine import ProcessEngine

KEY = "maintenanceLevel"


def level(pe: "ProcessEngine", level_id: str) -> MaintenanceLevel:
    for configured in pe.settings.maintenance.levels:
        if configured.id == level_id:
            return configured
    raise NotFound("maintenance level", level_id)


def current(pe: "ProcessEngine", conn) -> MaintenanceLevel:  # type: ignore[no-untyped-def]
    """The stored level, or the configured initial one (also when the stored one is no longer configured)."""
    stored = conn.execute(select(engine_state.c.value).where(engine_state.c.key == KEY)).scalar()
    try:
        return level(pe, stored) if stored else level(pe, pe.settings.maintenance.initial)
    except NotFound:
        return level(pe, pe.settings.maintenance.initial)


def store_level(conn, level_id: str) -> None:  # type: ignore[no-untyped-def]
    changed = conn.execute(update(engine_state).where(engine_state.c.key == KEY)
                           .values(value=level_id, changed_at=clock.now())).rowcount
    if not changed:
        conn.execute(insert(engine_state).values(key=KEY, value=level_id, changed_at=clock.now()))


def apply_online_rule(conn, rule: str) -> list[tuple[str, str | None, str]]:  # type: ignore[no-untyped-def]
    """Set every live instance online (allOnline) or offline (allOffline); noChange leaves them.
    Returns (execution ID, thread pool, state) of each instance changed."""
    if rule == "noChange":
        return []
    online = rule == "allOnline"
    live = instances.c.disposed_at.is_(None) & (instances.c.online.is_(not online))
    changed = [(r.execution_id, r.thread_pool_id, r.state) for r in conn.execute(
        select(instances.c.execution_id, instances.c.thread_pool_id, instances.c.state).where(live))]
    if changed:
        conn.execute(update(instances).where(live).values(online=online))
    return changed
