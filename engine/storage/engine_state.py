"""Values every node shares, by key (engine_state): the maintenance level in force, for one."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection

from .tables import engine_state


def value(conn: Connection, key: str) -> str | None:
    return conn.execute(select(engine_state.c.value).where(engine_state.c.key == key)).scalar()


def store(conn: Connection, key: str, stored: str, at: datetime) -> None:
    changed = conn.execute(update(engine_state).where(engine_state.c.key == key)
                           .values(value=stored, changed_at=at)).rowcount
    if not changed:
        conn.execute(insert(engine_state).values(key=key, value=stored, changed_at=at))
