"""Process watchers (CONTRACT §10): stored, so that they outlive a restart of the node."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Connection, Row

from .tables import watchers

_OPEN = watchers.c.finished.is_(False)


def insert_watcher(conn: Connection, **values: Any) -> None:
    conn.execute(insert(watchers).values(**values))


def get_watcher(conn: Connection, watcher_id: str) -> Row | None:
    return conn.execute(select(watchers).where(watchers.c.id == watcher_id)).first()


def delete_watcher(conn: Connection, watcher_id: str) -> None:
    conn.execute(delete(watchers).where(watchers.c.id == watcher_id))


def watched_ids(conn: Connection) -> set[str]:
    """The instances some open watcher watches."""
    return set(conn.execute(select(watchers.c.execution_id).where(_OPEN)).scalars())


def open_watchers(conn: Connection, execution_id: str, only: str | None = None) -> list[Row]:
    """The open watchers of one instance (only the one `only` names, if given)."""
    query = select(watchers).where(watchers.c.execution_id == execution_id, _OPEN)
    if only is not None:
        query = query.where(watchers.c.id == only)
    return conn.execute(query).all()


def is_watched(conn: Connection, execution_id: str) -> bool:
    return conn.execute(select(watchers.c.id).where(watchers.c.execution_id == execution_id, _OPEN)
                        .limit(1)).first() is not None


def finish(conn: Connection, watcher_id: str, at: datetime, captured: str | None) -> bool:
    """Finish an open watcher with `captured` (the instance's row as JSON, None if it is gone); False
    if it was finished already."""
    return conn.execute(update(watchers).where(watchers.c.id == watcher_id, _OPEN)
                        .values(finished=True, finished_at=at, captured=captured)).rowcount == 1
