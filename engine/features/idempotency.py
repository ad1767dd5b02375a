"""Idempotent starts: a caller's key names the execution its first request created.

The key is claimed in the transaction that creates the instance, so of two requests racing with one
key exactly one creates an instance; the other finds the key and answers for that execution. Once a
snapshot of it is handed out, that row is kept with the key, so a retry after a lost answer gets
the same answer — even if handing it out disposed the process. Keys live `engine.idempotency_ttl_s`.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from ..support import clock
from ..errors import InvalidParameter
from ..storage import idempotency_keys as keys, instances as store
from ..storage.database import Connection
from ..storage.instances import InstanceRecord

if TYPE_CHECKING:
    from ..runtime.node import ProcessEngine

MAX_KEY = 255


@dataclass(frozen=True)
class Claim:
    caller: str
    key: str


@dataclass(frozen=True)
class Earlier:
    """What an earlier request with the key left: its execution, and the answer it was given."""

    execution_id: str
    answered: InstanceRecord | None


def claim_of(caller: str, key: str | None) -> Claim | None:
    if key is None:
        return None
    if not key.strip() or len(key) > MAX_KEY:
        raise InvalidParameter("Idempotency-Key", f"must be 1 to {MAX_KEY} characters")
    return Claim(caller, key)


def earlier(pe: "ProcessEngine", conn: Connection, claim: Claim) -> Earlier | None:
    row = keys.find(conn, claim.caller, claim.key, _expired_before(pe))
    if row is None:
        return None
    return Earlier(row.execution_id, store.record_from_json(row.captured) if row.captured else None)


def take(pe: "ProcessEngine", conn: Connection, claim: Claim, execution_id: str) -> None:
    """Claim the key for `execution_id` (an expired claim of it makes way); AlreadyStored if another
    request holds it — the caller's transaction then rolls back."""
    keys.claim(conn, claim.caller, claim.key, execution_id, clock.now(), _expired_before(pe))


def remember(conn: Connection, claim: Claim, record: InstanceRecord) -> None:
    """Keep the row handed out for `claim`, so a retry gets the very same answer."""
    keys.capture(conn, claim.caller, claim.key, record.execution_id, store.record_to_json(record))


def _expired_before(pe: "ProcessEngine") -> datetime:
    return clock.now() - timedelta(seconds=pe.settings.engine.idempotency_ttl_s)
