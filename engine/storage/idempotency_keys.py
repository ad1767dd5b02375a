"""Idempotency keys (idempotency_keys): a caller's key, the execution its first request created, and
the row handed out for it."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Connection, Row

from .tables import idempotency_keys as keys


def _of(caller: str, key: str):  # type: ignore[no-untyped-def]
    return (keys.c.caller == caller) & (keys.c.key == key)


def find(conn: Connection, caller: str, key: str, since: datetime) -> Row | None:
    """The key's row, if it was claimed at or after `since`."""
    return conn.execute(select(keys).where(_of(caller, key), keys.c.created_at >= since)).first()


def claim(conn: Connection, caller: str, key: str, execution_id: str, at: datetime, expired_before: datetime) -> None:
    """Claim the key for `execution_id` (a claim of it made before `expired_before` makes way);
    AlreadyStored, from the unit of work, if another request holds it."""
    conn.execute(delete(keys).where(_of(caller, key), keys.c.created_at < expired_before))
    conn.execute(insert(keys).values(caller=caller, key=key, execution_id=execution_id, created_at=at,
                                     captured=None))


def capture(conn: Connection, caller: str, key: str, execution_id: str, captured: str) -> None:
    conn.execute(update(keys).where(_of(caller, key), keys.c.execution_id == execution_id)
                 .values(captured=captured))


def purge(conn: Connection, before: datetime) -> int:
    return conn.execute(delete(keys).where(keys.c.created_at < before)).rowcount
