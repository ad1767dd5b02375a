"""Each service process's current instance (service_instances): one row per service, locked to start
it, so two callers — or two nodes — never start the same service twice."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection

from .tables import service_instances as services

_ID = services.c.service_id


def current_execution(conn: Connection, service_id: str, *, lock: bool = False) -> str | None:
    """The execution ID the service's row points at, None if it has no row; `lock` locks the row for
    the transaction."""
    query = select(services.c.execution_id).where(_ID == service_id)
    return conn.execute(query.with_for_update() if lock else query).scalar()


def point_at(conn: Connection, service_id: str, execution_id: str, exists: bool, at: datetime) -> None:
    """Point the service at `execution_id`: its row updated, or inserted (AlreadyStored, from the unit
    of work, when another node inserted it first)."""
    if exists:
        conn.execute(update(services).where(_ID == service_id).values(execution_id=execution_id, started_at=at))
    else:
        conn.execute(insert(services).values(service_id=service_id, execution_id=execution_id, started_at=at))
