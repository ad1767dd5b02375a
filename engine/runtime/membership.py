"""This node's place among the nodes sharing the database: registration, heartbeat, master.

On SQLite there is one node, which is master. On PostgreSQL the master is whichever node holds a
session advisory lock (CONTRACT §9); it alone fires timers and marks the instances of vanished nodes
LOST.
"""
from __future__ import annotations

import fcntl
import logging
import threading
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import Connection

from .. import clock
from ..errors import InvalidState
from ..storage import nodes as store

if TYPE_CHECKING:
    from .engine import ProcessEngine

log = logging.getLogger(__name__)
MASTER_LOCK = 7263552


class NodeConflict(InvalidState):
    """Another engine already serves this SQLite database, or uses this node ID on PostgreSQL."""


class Membership:
    def __init__(self, pe: "ProcessEngine") -> None:
        self.pe = pe
        self._lock_conn: Connection | None = None
        self._lock_file: Any = None
        self.master = pe.db.is_sqlite
        self.status = "before"  # before | connected | disconnecting | disconnected | connectionLost
        self.status_message: str | None = None
        # Joining, beating, leaving and taking the master lock each read and then write the node's row
        # and status: one at a time, or a beat begun before a disconnect registers the node again behind it.
        self._guard = threading.RLock()

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
                with self.pe.db.unit_of_work() as uow:
                    alive, requested = store.heartbeat(uow.conn, self.pe.node_id, clock.now(), self.pe.online,
                                                       self.master, self.pe.executor.running_count())
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
            self.master = False
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
        with self._guard:
            if not self.connected:
                return False
            if self.pe.db.is_sqlite:
                self.master = True
                return True
            return self._holds_master_lock()

    def _holds_master_lock(self) -> bool:
        """Whether this node holds the master lock now. The lock lives as long as its connection: one
        that died (cut, the server restarted) holds nothing, whatever the object says, so it is asked
        first — else two nodes would both say master while pg_locks shows none (issue 15)."""
        if self._lock_conn is not None and not self._lock_alive():
            log.warning("the connection holding the master lock is gone: not master until it is taken again")
            self._drop_lock()
        if self._lock_conn is None:
            try:
                conn = self.pe.db.engine.connect()
                # One master per cluster, and a cluster is a database schema: the lock is the schema's.
                held = conn.exec_driver_sql(
                    f"SELECT pg_try_advisory_lock({MASTER_LOCK}, hashtext(current_database() || '.' || "
                    "current_schema()))").scalar()
                conn.commit()
            except Exception:
                log.exception("cannot reach the database to take the master lock")
                return False
            if held:
                self._lock_conn = conn
            else:
                conn.close()
        self.master = self._lock_conn is not None
        return self.master

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
        try:
            self._lock_conn.exec_driver_sql("SELECT 1").scalar()
            self._lock_conn.commit()
            return True
        except Exception:
            return False

    def _drop_lock(self) -> None:
        if self._lock_conn is not None:
            try:
                self._lock_conn.close()
            except Exception:  # a dead connection may not even close cleanly
                log.debug("closing the master lock's connection failed", exc_info=True)
            finally:
                self._lock_conn = None
