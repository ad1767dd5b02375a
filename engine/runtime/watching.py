"""Process watchers at work: finishing each one when its instance reaches what it waits for.

Every commit that changes an instance hands the committed row to `observe`; for an instance with open
watchers (known from an in-memory set, so unwatched instances cost nothing) each watcher whose
conditions now hold — or whose instance ended or was disposed — captures that very row and finishes.
The housekeeper's `sweep` goes over every open watcher against the stored rows as well, so changes
made by other nodes or while this one was down are caught too. A watcher without `peek` that captures
an ended `fetch` instance disposes it, as any fetch would.
"""
from __future__ import annotations

import logging
import threading

from ..support import clock
from ..model.results import WatchConditions
from ..model.states import END_STATES, AutoDispose
from ..storage import codec
from ..storage import instances as store
from ..storage import watchers as watcher_rows
from ..storage.database import Connection
from ..storage.instances import InstanceRecord
from .host import Host

log = logging.getLogger(__name__)
_ENDED = {s.value for s in END_STATES}


def waiter_key(watcher_id: str) -> str:
    """The key under which callers of getWatcher wait for a watcher to finish."""
    return f"watcher:{watcher_id}"


def conditions_met(conditions: WatchConditions, record: InstanceRecord) -> bool:
    """All given conditions hold; with none given, a watcher waits for an end state."""
    given = False
    for wanted, actual in ((conditions.states, record.state), (conditions.health, record.health)):
        if wanted:
            given = True
            if actual not in wanted:
                return False
    if conditions.online is not None:
        given = True
        if record.online != conditions.online:
            return False
    if conditions.after_state_change_index is not None:
        given = True
        if record.state_change_index <= conditions.after_state_change_index:
            return False
    if conditions.element is not None:
        given = True
        if record.current_element != conditions.element:
            return False
    return given or record.state in _ENDED


def encode_conditions(conditions: WatchConditions) -> str:
    return codec.dumps(conditions.__dict__)


def decode_conditions(text: str) -> WatchConditions:
    data = codec.loads(text, {})
    return WatchConditions(tuple(data.get("states", ())), data.get("online"), data.get("after_state_change_index"),
                           tuple(data.get("health", ())), data.get("element"))


class Watching:
    def __init__(self, pe: Host) -> None:
        self.pe = pe
        self._lock = threading.Lock()
        self.watched: set[str] = set()

    def load(self) -> None:
        with self.pe.db.unit_of_work(write=False) as uow:
            ids = watcher_rows.watched_ids(uow.conn)
        with self._lock:
            self.watched = ids

    def add(self, execution_id: str) -> None:
        with self._lock:
            self.watched.add(execution_id)

    def observe(self, execution_id: str, record: InstanceRecord | None) -> None:
        """After a commit that touched `execution_id` (its committed row, when the caller has it)."""
        if execution_id not in self.watched:
            return
        try:
            with self.pe.db.unit_of_work() as uow:
                row = record or store.get_instance(uow.conn, execution_id, include_disposed=True)
                finished = self.finish_met(uow.conn, execution_id, row)
                uow.commit()
        except Exception:  # the sweep will catch up; a watcher must never break the commit before it
            log.exception("watchers of %s could not be checked", execution_id)
            return
        self._finished(execution_id, finished)

    def finish_met(self, conn: Connection, execution_id: str, record: InstanceRecord | None,
                   only: str | None = None) -> list[str]:
        """Finish the open watchers of one instance that `record` satisfies (all, if it is gone)."""
        finished, dispose = [], False
        for row in watcher_rows.open_watchers(conn, execution_id, only):
            gone = record is None or record.disposed_at is not None or record.state in _ENDED
            if not gone and not conditions_met(decode_conditions(row.conditions), record):
                continue
            if capture(conn, row.id, record):
                finished.append(row.id)
                dispose = dispose or (not row.peek and record is not None and _fetched_at_end(record))
        if dispose:
            store.mark_disposed(conn, [execution_id], clock.now())
        return finished

    def _finished(self, execution_id: str, finished: list[str]) -> None:
        for watcher_id in finished:
            self.pe.wake(waiter_key(watcher_id))
        if finished:
            with self.pe.db.unit_of_work(write=False) as uow:
                still = watcher_rows.is_watched(uow.conn, execution_id)
            if not still:
                with self._lock:
                    self.watched.discard(execution_id)

    def sweep(self) -> None:
        """Check every open watcher against the stored rows (the housekeeper calls this)."""
        self.load()
        for execution_id in list(self.watched):
            with self.pe.db.unit_of_work() as uow:
                record = store.get_instance(uow.conn, execution_id, include_disposed=True)
                finished = self.finish_met(uow.conn, execution_id, record)
                uow.commit()
            self._finished(execution_id, finished)


def capture(conn: Connection, watcher_id: str, record: InstanceRecord | None) -> bool:
    """Finish a watcher with `record` as it is now (None: its instance is gone)."""
    captured = store.record_to_json(record) if record is not None else None
    return watcher_rows.finish(conn, watcher_id, clock.now(), captured)


def _fetched_at_end(record: InstanceRecord) -> bool:
    return (record.state in _ENDED and record.disposed_at is None
            and record.auto_dispose == AutoDispose.FETCH.value)

