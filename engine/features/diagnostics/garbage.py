"""garbageCollect: purge disposed rows, delete orphaned log rows, finish obsolete watchers."""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Callable

from ...support import clock
from ...runtime.watching import capture, waiter_key
from ...storage import findings, instances as store
from ...storage.database import Connection
from .probe import BATCH

if TYPE_CHECKING:
    from ...runtime.node import ProcessEngine

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Collected:
    purged: int           # disposed instances deleted
    logs: int             # orphaned process log rows deleted
    watchers: int         # obsolete watchers finished
    complete: bool        # False: the time ran out first


def collect_garbage(pe: "ProcessEngine", seconds: float) -> Collected:
    """Run the clean-up now, in batches of short transactions, until nothing is left or `seconds` have
    passed (each step still runs one batch when no time is left, so a timeout of 0 does some work)."""
    deadline = time.monotonic() + seconds
    cutoff = clock.now() - timedelta(milliseconds=pe.settings.engine.dispose_retention_ms)
    purged, purged_done = _repeat(pe, deadline, lambda uow: store.purge_disposed(uow.conn, cutoff))
    logs, logs_done = _repeat(pe, deadline, lambda uow: _delete_orphan_logs(uow.conn))
    finished, watchers_done = _repeat(pe, deadline, lambda uow: _finish_obsolete_watchers(pe, uow))
    result = Collected(purged, logs, finished, purged_done and logs_done and watchers_done)
    if purged or logs or finished:
        log.info("garbage collection: %d disposed instance(s) purged, %d orphaned log row(s) deleted, %d obsolete "
                 "watcher(s) finished%s", purged, logs, finished, "" if result.complete else " (timed out)")
    return result


def _repeat(pe: "ProcessEngine", deadline: float, batch: Callable[[Any], int]) -> tuple[int, bool]:
    """Commit `batch` (given the unit of work) until it finds nothing more or time is up: (rows
    handled, whether all were)."""
    total = 0
    while True:
        with pe.db.unit_of_work() as uow:
            done = batch(uow)
            uow.commit()
        total += done
        if done == 0:
            return total, True
        if time.monotonic() >= deadline:
            return total, False


def _delete_orphan_logs(conn: Connection) -> int:
    return findings.delete_orphan_logs(conn, BATCH)


def _finish_obsolete_watchers(pe: "ProcessEngine", uow: Any) -> int:
    """Finish the unfinished watchers whose instance is gone (capturing nothing) or disposed (capturing
    the disposed row, as the watchers' own sweep would); their getWatcher callers hear of it."""
    rows = findings.first(uow.conn, findings.obsolete_watchers(by_instance=True), BATCH)
    finished, records = 0, {}
    for row in rows:
        if row.execution_id not in records:
            records[row.execution_id] = store.get_instance(uow.conn, row.execution_id, include_disposed=True)
        if capture(uow.conn, row.id, records[row.execution_id]):
            finished += 1
            uow.after_commit(lambda key=waiter_key(row.id): pe.wake(key))
    return finished
