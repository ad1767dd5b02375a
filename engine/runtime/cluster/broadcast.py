"""Telling the other nodes what changed (CONTRACT §9): PostgreSQL LISTEN/NOTIFY.

Every commit that wakes local waiters also sends the same key (an execution ID, or `watcher:<id>`) on
the channel `pe_changes`; every node listens on it and wakes its own waiters and watchers for that key.
`nodes` asks every node to run its heartbeat now, which applies what the node registry asks of it.
Sending runs on a thread of its own, in batches, so a request never waits for it. SQLite serves one
node and needs none of this.
"""
from __future__ import annotations

import logging
import queue
import select
import threading
from typing import Callable

from ...storage.nodes import notify_all
from ..host import Host

log = logging.getLogger(__name__)
CHANNEL = "pe_changes"
NODES_CHANGED = "nodes"  # the node registry holds a request for the others (setEngineOnline): beat now
_STOP = object()


class Broadcast:
    def __init__(self, pe: Host, on_key: Callable[[str], None], on_missed: Callable[[], None]) -> None:
        """`on_key` for each key heard; `on_missed` when listening (again): what was sent meanwhile is gone."""
        self.pe, self.on_key, self.on_missed = pe, on_key, on_missed
        self.enabled = not pe.db.is_sqlite
        self._outbox: queue.Queue = queue.Queue()
        self._stopped = threading.Event()
        self.listening = threading.Event()  # set while LISTEN holds: from then on no change goes unheard
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        if not self.enabled:
            return
        for target, name in ((self._send_loop, "pe-notify"), (self._listen_loop, "pe-listen")):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        if not self.enabled:
            return
        self._stopped.set()
        self._outbox.put(_STOP)
        for thread in self._threads:
            thread.join(timeout=5)

    def send(self, key: str) -> None:
        if self.enabled and not self._stopped.is_set():
            self._outbox.put(key)

    # -- sending ----------------------------------------------------------------------------------------
    def _send_loop(self) -> None:
        while not self._stopped.is_set():
            batch = self._next_batch()
            if not batch:
                continue
            try:
                with self.pe.db.engine.connect() as conn:
                    notify_all(conn, CHANNEL, batch)
            except Exception:  # the others wake at their timeouts, or the next sweep
                log.exception("could not notify the other nodes of %d change(s)", len(batch))

    def _next_batch(self) -> list[str]:
        first = self._outbox.get()
        if first is _STOP:
            return []
        batch = {first}
        while len(batch) < 500:
            try:
                item = self._outbox.get_nowait()
            except queue.Empty:
                break
            if item is _STOP:
                self._stopped.set()
                break
            batch.add(item)
        return sorted(batch)

    # -- listening --------------------------------------------------------------------------------------
    def _listen_loop(self) -> None:
        while not self._stopped.is_set():
            try:
                self._listen()
            except Exception:
                log.exception("listening for other nodes' changes failed; listening again")
                self._stopped.wait(1.0)

    def _listen(self) -> None:
        raw = self.pe.db.engine.raw_connection()
        try:
            connection = raw.driver_connection
            connection.autocommit = True
            with connection.cursor() as cursor:
                cursor.execute(f"LISTEN {CHANNEL}")
            self.on_missed()
            self.listening.set()
            while not self._stopped.is_set():
                if select.select([connection], [], [], 0.5)[0]:
                    connection.poll()
                    while connection.notifies:
                        self._deliver(connection.notifies.pop(0).payload)
        finally:
            self.listening.clear()
            raw.close()

    def _deliver(self, key: str) -> None:
        try:
            self.on_key(key)
        except Exception:
            log.exception("handling the change of %s failed", key)
