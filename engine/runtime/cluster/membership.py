"""This node's place among the nodes sharing the database: registration, heartbeat, master.

On SQLite there is one node, which is master. On PostgreSQL the master is whichever node holds a
session advisory lock (CONTRACT §9); it alone fires timers and marks the instances of vanished nodes
LOST.

Mastership expires: a lock lives as long as its session, and a stalled master's session (SIGSTOP, a
VM or GC pause) stays open, so the lock's session is told to end itself once idle for the lease
(`idle_session_timeout`, half of `cluster.lost_after_ms`), which a live master never lets happen — its
housekeeping rounds and heartbeats touch the session. Another node then takes the lock. The master's
duties run as transactions on that same session, so a node waking from a stall cannot write as master:
its session, and every statement on it, is gone (fencing). Nor does it believe it is master before it
has asked: the belief is only trusted within the lease of its last confirmation.
"""
from __future__ import annotations

import fcntl
import logging
import threading
import time
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any, Iterator

from ...support import clock
from ...errors import InvalidState
from ...storage import nodes as store
from ...storage.database import Connection, UnitOfWork
from ..host import Host

log = logging.getLogger(__name__)


class NodeConflict(InvalidState):
    """Another engine already serves this SQLite database, or uses this node ID on PostgreSQL."""


class Membership:
    def __init__(self, pe: Host) -> None:
        self.pe = pe
        self._lock_conn: Connection | None = None
        self._lock_file: Any = None
        self.master = pe.db.is_sqlite
        self.status = "before"  # before | connected | disconnecting | disconnected | connectionLost
        self.status_message: str | None = None
        # Joining, beating, leaving and taking the master lock each read and then write the node's row
        # and status: one at a time, or a beat begun before a disconnect registers the node again behind it.
        self._guard = threading.RLock()
        # The master lock's session: one thread at a time (the housekeeper's rounds, a disconnect).
        self._lock_guard = threading.RLock()
        self._confirmed_at = float("-inf")  # time.monotonic() when the lock was last seen held

    @property
    def lease_s(self) -> float:
        """How long mastership lasts without a confirmation: the lock's session ends itself when idle
        this long, and the lock is then free for another node, well within `cluster.lost_after_ms`."""
        return max(1000, self.pe.settings.cluster.lost_after_ms // 2) / 1000

    @property
    def connected(self) -> bool:
        return self.status == "connected"

    @property
    def registered(self) -> bool:
        """Whether the node's row is (meant to be) in the registry: it beats, and leaving removes it."""
        return self.status in ("connected", "disconnecting", "connectionLost")

    @property
    def root_node(self) -> str:
        """This node's key in the registry (ZooKeeper's ZNode path, in the commercial engine)."""
        return f"nodes/{self.pe.node_id}"

    def join(self) -> None:
        with self._guard:
            if self.connected:
                raise InvalidState(f"node {self.pe.node_id} is connected already")
            if self.pe.db.is_sqlite and self._lock_file is None:
                self._lock_sqlite()
            # After a lost connection the row that may still look alive is this node's own.
            ours = self.status == "connectionLost"
            with self.pe.db.unit_of_work() as uow:
                if (not self.pe.db.is_sqlite and not ours
                        and self.pe.node_id in store.live_nodes(uow.conn, self.fresh_since())):
                    raise NodeConflict(f"a live node already uses the node ID {self.pe.node_id!r}")
                store.register_node(uow.conn, self.pe.node_id, clock.now(), self.pe.online)
                uow.commit()
            self.status, self.status_message = "connected", None

    def beat(self) -> None:
        """Refresh the node's row; also while it disconnects, so that the processes it lets finish
        meanwhile are not declared LOST by the master."""
        with self._guard:
            if not self.registered:
                return
            try:
                with self.pe.db.unit_of_work(lock_timeout_ms=self.lock_wait_ms) as uow:
                    alive, requested = store.heartbeat(uow.conn, self.pe.node_id, clock.now(), self.pe.online,
                                                       self.believes_master(), self.pe.executor.running_count())
                    if not alive:
                        log.warning("node %s was declared gone by another node; registering again",
                                    self.pe.node_id)
                        store.register_node(uow.conn, self.pe.node_id, clock.now(), self.pe.online)
                    uow.commit()
            except Exception as exc:
                if self.status != "disconnecting":
                    self.status = "connectionLost"
                self.status_message = f"heartbeat failed: {exc}"
                raise
            if self.status == "connectionLost":
                self.status, self.status_message = "connected", None
        self._renew_lease()
        if requested is not None and requested != self.pe.online:
            self.pe.set_online(requested)

    def begin_disconnect(self) -> None:
        """Stop taking work; one caller at a time gets here, the others are told the node is not connected."""
        with self._guard:
            if not self.connected:
                raise InvalidState(f"node {self.pe.node_id} is not connected")
            self.status = "disconnecting"

    def disconnect(self) -> None:
        """Leave the nodes (this node's instances were handed back first); the file lock stays."""
        with self._guard:
            with self.pe.db.unit_of_work() as uow:
                store.remove_node(uow.conn, self.pe.node_id)
                uow.commit()
            self._drop_lock()
            self.status, self.status_message = "disconnected", "disconnected on request"

    def leave(self) -> None:
        if self.registered:
            self.disconnect()
        if self._lock_file is not None:
            self._lock_file.close()  # closing releases the flock
            self._lock_file = None

    def _lock_sqlite(self) -> None:
        """SQLite serves one node: hold an OS lock beside the database file for as long as we run.

        The kernel drops the lock when the holder dies, kill -9 included, so whoever holds it knows
        that every other node recorded in the database is gone.
        """
        path = self.pe.db.file_path
        if path is None:
            return
        handle = open(f"{path}.node-lock", "a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            raise NodeConflict(f"another engine is running on the SQLite database {path}; SQLite serves "
                               "one node (one gunicorn worker) — use PostgreSQL for more") from None
        self._lock_file = handle

    def is_master(self) -> bool:
        """Whether this node is master, asked of the database now (the housekeeper's every round)."""
        if not self.connected:
            self.master = False
            return False
        if self.pe.db.is_sqlite:
            self.master = True
            return True
        with self._lock_guard:
            return self._holds_master_lock()

    def believes_master(self) -> bool:
        """What this node may say of itself without asking: master only within the lease of the last
        confirmation, so a node that wakes from a stall does not claim what another node has taken."""
        if self.pe.db.is_sqlite:
            return self.connected
        return self.connected and self.master and time.monotonic() - self._confirmed_at < self.lease_s

    @contextmanager
    def master_work(self) -> Iterator[UnitOfWork | None]:
        """A transaction for the master's duties, or None when this node is not master. On PostgreSQL
        it runs on the lock's own session: if that session was ended (the lease ran out while the node
        was stalled), the work fails with it instead of writing as a master that no longer is."""
        if self.pe.db.is_sqlite:
            with self.pe.db.unit_of_work() as uow:
                yield uow if self.connected else None
            return
        with self._lock_guard:
            if self._lock_conn is not None and self._lock_conn.invalidated:
                self._drop_dead_lock()  # used again, it would open a new session, which holds no lock
            if self._lock_conn is None or not self.believes_master():
                yield None
                return
            began = time.monotonic()
            try:
                with self.pe.db.unit_of_work(on=self._lock_conn, lock_timeout_ms=self.lock_wait_ms) as uow:
                    yield uow
            except BaseException:
                if self._lock_conn.invalidated:  # the session died under the work: the lock with it
                    self._drop_dead_lock()
                raise
            self._confirmed_at = max(self._confirmed_at, began)  # the session answered: still ours

    @property
    def lock_wait_ms(self) -> int:
        """The longest background work waits for a row lock: well within the lease."""
        return int(self.lease_s * 1000 / 4)

    def _holds_master_lock(self) -> bool:
        """Whether this node holds the master lock now. The lock lives as long as its connection: one
        that died (cut, the server restarted, ended for idling past the lease) holds nothing, whatever
        the object says, so it is asked first — else two nodes would both say master while pg_locks
        shows none (issue 15)."""
        asked_at = time.monotonic()
        if self._lock_conn is not None and not self._lock_alive():
            self._drop_dead_lock()
        if self._lock_conn is None:
            conn = None
            try:
                # Tried on a pooled connection: a node that is not master asks every round, and a
                # session of its own each time would be a new backend a second.
                conn = self.pe.db.engine.connect()
                held = store.try_master_lock(conn)
                if held:
                    self._lease(conn)
            except Exception:
                log.exception("cannot reach the database to take the master lock")
                if conn is not None:
                    self._discard(conn)  # whatever it may hold goes with it
                return False
            if held:
                self._lock_conn = conn
                log.info("node %s is master", self.pe.node_id)
            else:
                conn.close()  # back to the pool: it holds nothing, and no setting of the lease
        self.master = self._lock_conn is not None
        if self.master:
            self._confirmed_at = asked_at
        return self.master

    def _renew_lease(self) -> None:
        """Touch the lock's session from the heartbeat's thread too, so that a master whose housekeeping
        is slow (a busy machine, a long round) keeps its lease; only a node stalled as a whole loses it.
        If the housekeeper is using the session at this moment, that use touches it already."""
        if self.pe.db.is_sqlite or not self._lock_guard.acquire(blocking=False):
            return
        try:
            if self._lock_conn is not None and self.connected:
                self._holds_master_lock()
        finally:
            self._lock_guard.release()

    def _lease(self, conn: Connection) -> None:
        """Make the lock's connection a session of its own (never back into the pool: see `_discard`),
        which the server ends once it idles past the lease (PostgreSQL 14 and later; before, a stalled
        master keeps the lock until its connection dies)."""
        store.end_session_when_idle(conn, int(self.lease_s * 1000))

    def fresh_since(self) -> datetime:
        """Nodes whose last heartbeat is older than this count as gone."""
        return clock.now() - timedelta(milliseconds=self.pe.settings.cluster.lost_after_ms)

    def alive_nodes(self, conn: Connection) -> list[str]:
        """Nodes that count as alive: on SQLite only this one (it is the only node there can be)."""
        since = self.fresh_since()
        store.forget_dead_nodes(conn, since)  # on SQLite: rows of this file's earlier, dead engines
        if self.pe.db.is_sqlite:
            return [self.pe.node_id]
        return sorted(set(store.live_nodes(conn, since)) | {self.pe.node_id})

    def _lock_alive(self) -> bool:
        """Whether the lock's session still holds the lock. A connection SQLAlchemy saw die is not used
        again: its next statement would run on a new session, which holds nothing."""
        if self._lock_conn.invalidated:
            return False
        try:
            return store.holds_master_lock(self._lock_conn)
        except Exception:
            return False

    def _drop_dead_lock(self) -> None:
        log.warning("the session holding the master lock is gone: not master until it is taken again")
        self._drop_lock()

    def _drop_lock(self) -> None:
        with self._lock_guard:
            if self._lock_conn is not None:
                self._discard(self._lock_conn)
                self._lock_conn = None
            self.master = False

    @staticmethod
    def _discard(conn: Connection) -> None:
        """Close the session itself, not back into the pool: the lock and the lease go with it."""
        try:
            conn.invalidate()
            conn.close()
        except Exception:  # a dead connection may not even close cleanly
            log.debug("closing the master lock's session failed", exc_info=True)
