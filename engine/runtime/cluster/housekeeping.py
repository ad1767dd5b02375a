"""The engine's background duties: in one thread timers, LOST marking, picking up READY instances nobody
runs, and purging disposed rows after their retention; in a thread of its own the heartbeat, which
nothing that can wait on the database may hold up — a late beat gets a live node declared gone.

Nothing here waits for rows another session holds (a node stalled inside a transaction): statements
give up after a lock timeout or skip locked rows, and the work is done at a later round."""
from __future__ import annotations

import logging
import threading
import time
from datetime import datetime, timedelta

from ...support import clock
from ...model.history import HistoryLevel
from ...model.states import ExecutionState
from ...storage import idempotency_keys
from ...storage import instances as store
from ...storage.database import RowsBusy
from ...storage.nodes import mark_lost
from .. import history
from ..host import Host
from ..records import state_values

log = logging.getLogger(__name__)
STATISTICS_EVERY_S = 3600.0  # the query planner's statistics (SQLite) follow the data this often
HISTORY_ROLL_UP_EVERY_S = 60.0  # the master rolls up a closed day for statistics this often, if one is not yet
HISTORY_MOVE_EVERY_S = 1.0    # staged history moved on this often by every node,
HISTORY_MOVE_ROUNDS = 4       # batches at most


class Housekeeper:
    def __init__(self, pe: Host) -> None:
        self.pe = pe
        self._wake = threading.Condition()
        self._next_timer: datetime | None = None
        self._stopped = False
        self._beat_due = threading.Event()
        self._last_sweep = 0.0
        self._last_statistics = time.monotonic()
        self._last_roll_up = 0.0
        self._retention_due = threading.Event()  # set: stop waiting (the engine stops)
        self._last_history_move = 0.0
        self.ticks = 0
        self._thread = threading.Thread(target=self._loop, name="pe-housekeeper", daemon=True)
        self._beater = threading.Thread(target=self._beat_loop, name="pe-heartbeat", daemon=True)
        self._retention = threading.Thread(target=self._retention_loop, name="pe-retention", daemon=True)

    def start(self) -> None:
        self._beater.start()
        self._thread.start()
        self._retention.start()

    def stop(self) -> None:
        with self._wake:
            self._stopped = True
            self._wake.notify_all()
        self._beat_due.set()
        self._retention_due.set()
        self._thread.join(timeout=10)
        self._beater.join(timeout=10)
        self._retention.join(timeout=10)

    def nudge(self, due_at: datetime | None = None) -> None:
        """Wake up now, or by `due_at` at the latest."""
        with self._wake:
            if due_at is None or self._next_timer is None or due_at < self._next_timer:
                self._next_timer = due_at or clock.now()
            self._wake.notify_all()

    def beat_soon(self) -> None:
        """Beat now (another node asked something of this one), then go on with the work it asked for."""
        self._beat_due.set()
        self.nudge()

    def _beat_loop(self) -> None:
        every = self.pe.settings.cluster.heartbeat_ms / 1000
        while not self._stopped:
            try:
                self.pe.membership.beat()
            except Exception as exc:  # the database may be away for a moment: the next beat tries again
                log.warning("heartbeat failed: %s", exc)
            self._beat_due.wait(every)
            self._beat_due.clear()

    def _retention_loop(self) -> None:
        """The master deletes expired history on a thread of its own, paced (`history.Retention`): its
        rests would otherwise hold up the housekeeping's rounds, and the rounds its batches."""
        retention, wait = history.Retention(self.pe), 0.0
        while not self._stopped:
            self._retention_due.wait(wait)
            if self._stopped:
                return
            wait = self.pe.settings.engine.timer_poll_ms / 1000  # not master (yet): ask again as often as rounds go
            try:
                if self.pe.membership.believes_master():  # (within the lease the housekeeper confirms)
                    wait = retention.step()
            except Exception as exc:  # the database may be away for a moment: the next round tries again
                log.warning("history retention failed: %s", exc)

    def _loop(self) -> None:
        poll = self.pe.settings.engine.timer_poll_ms / 1000
        while not self._stopped:
            try:
                self.tick()
            except RowsBusy as busy:
                log.info("housekeeping skipped rows another session holds (%s); next round", busy)
            except Exception:  # the database may be away for a moment; try again next round
                log.exception("housekeeping failed; retrying")
            with self._wake:
                if self._stopped:
                    return
                delay = poll
                if self._next_timer is not None:
                    delay = min(delay, max(0.0, (self._next_timer - clock.now()).total_seconds()))
                self._wake.wait(delay)

    def tick(self) -> None:
        self.ticks += 1
        settings = self.pe.settings
        if not self.pe.membership.connected:
            return  # a node outside the cluster does no work for it
        if self.pe.membership.is_master():
            self.mark_lost()
            if self.pe.accepting_work():
                self.fire_timers()
            if time.monotonic() - self._last_roll_up >= HISTORY_ROLL_UP_EVERY_S:
                history.roll_up(self.pe)
                self._last_roll_up = time.monotonic()
        if time.monotonic() - self._last_history_move >= HISTORY_MOVE_EVERY_S:
            history.catch_up(self.pe, HISTORY_MOVE_ROUNDS)  # every node: what it staged, or one that died did
            self._last_history_move = time.monotonic()
        if self.pe.accepting_work():
            self.pick_up_ready()
        if time.monotonic() - self._last_sweep >= 5 * settings.engine.timer_poll_ms / 1000:
            self.pe.watching.sweep()
            self._last_sweep = time.monotonic()
        if time.monotonic() - self._last_statistics >= STATISTICS_EVERY_S:
            self.pe.db.refresh_statistics()
            self._last_statistics = time.monotonic()
        self.purge()

    def fire_timers(self) -> None:
        with self._wake:
            self._next_timer = None
        now = clock.now()
        with self.pe.membership.master_work() as uow:
            if uow is None:
                return
            fired = []
            for wait in store.due_timers(uow.conn, now, 500):  # their instances locked, or skipped if held
                record = store.get_instance(uow.conn, wait.execution_id, for_update=True)
                if record is None or record.state != ExecutionState.WAITING.value:
                    continue
                store.delete_wait(uow.conn, record.execution_id)
                values = state_values(record, ExecutionState.READY, self.pe.node_id, now)
                if store.update_instance(uow.conn, record.execution_id, values, expect_version=record.exec_version):
                    fired.append((record.execution_id, record.thread_pool_id))
            next_due = store.next_timer(uow.conn)
            for execution_id, pool in fired:
                uow.after_commit(lambda e=execution_id, p=pool: self.pe.ready(e, p))
                uow.after_commit(lambda e=execution_id: self.pe.notify(e))
            uow.commit()
        if next_due is not None:
            self.nudge(next_due)

    def mark_lost(self) -> None:
        with self.pe.membership.master_work() as uow:
            if uow is None:
                return
            lost = mark_lost(uow.conn, self.pe.membership.alive_nodes(uow.conn), clock.now(), self.pe.node_id)
            for execution_id in lost:
                record = store.get_instance(uow.conn, execution_id) if history.keeps(self.pe, HistoryLevel.INSTANCE) \
                    else None
                if record is not None:
                    history.health_changed(self.pe, uow.conn, record.__dict__, record.health, record.health_message)
                uow.after_commit(lambda e=execution_id: self.pe.notify(e))
            uow.commit()
        if lost:
            log.warning("%d instance(s) of vanished nodes marked LOST", len(lost))

    def pick_up_ready(self) -> None:
        with self.pe.db.unit_of_work(write=False) as uow:
            ready = store.runnable_ids(uow.conn, self.pe.node_id, 1000)
        for execution_id, pool in ready:
            if not self.pe.executor.is_active(execution_id):
                self.pe.ready(execution_id, pool)

    def purge(self) -> None:
        engine, now = self.pe.settings.engine, clock.now()
        with self.pe.db.unit_of_work(lock_timeout_ms=self.pe.membership.lock_wait_ms) as uow:
            store.purge_disposed(uow.conn, now - timedelta(milliseconds=engine.dispose_retention_ms))
            idempotency_keys.purge(uow.conn, now - timedelta(seconds=engine.idempotency_ttl_s))
            uow.commit()
