"""Synchronous waits: callers blocked until an instance reaches what they wait for.

A waiter registers before it first reads, so no change committed between its read and its wait can
be missed; every commit that touches an instance wakes the waiters of that instance, which re-read
the committed row. A waiting caller holds its own (request) thread, never a pool thread.

A change made by another node arrives by a PostgreSQL notification, which can be lost with the
connection it travels on; there a waiter also re-reads on its own, soon at first and then every
`recheck_s`, so a lost wake-up delays its answer by that much at most instead of to its timeout.
"""
from __future__ import annotations

import threading
import time
from collections import defaultdict
from typing import Callable, TypeVar

T = TypeVar("T")


FIRST_RECHECK_S = 0.5


class Waiters:
    def __init__(self, recheck_s: float | None = None) -> None:
        """`recheck_s`: the longest a wait goes without re-reading (None: it re-reads when woken)."""
        self.recheck_s = recheck_s
        self._lock = threading.Lock()
        self._events: dict[str, set[threading.Event]] = defaultdict(set)
        self.closing = False

    def close(self) -> None:
        """The service is stopping: every wait returns now with what it last read, and new waits do
        not block, so callers get an answer before the shutdown deadline."""
        self.closing = True
        self.notify_all()

    def notify(self, execution_id: str) -> None:
        # Every commit notifies, and most instances have nobody waiting: a dict lookup, no lock, says
        # so. A waiter registers before it first reads, so one this misses reads the commit anyway.
        if execution_id not in self._events:
            return
        with self._lock:
            events = list(self._events.get(execution_id, ()))
        for event in events:
            event.set()

    def notify_all(self) -> None:
        """Every waiter re-reads: changes may have been missed (the notification channel was down)."""
        with self._lock:
            events = [e for held in self._events.values() for e in held]
        for event in events:
            event.set()

    def counts(self) -> dict[str, int]:
        with self._lock:
            return {key: len(events) for key, events in self._events.items() if events}

    def wait(self, execution_id: str, read: Callable[[], T], done: Callable[[T], bool], timeout_s: float) -> T:
        """Re-read until `done(read())` or the timeout passes; the last read is returned either way."""
        event = threading.Event()
        with self._lock:
            self._events[execution_id].add(event)
        try:
            deadline = time.monotonic() + timeout_s
            pause = FIRST_RECHECK_S
            while True:
                event.clear()
                value = read()
                left = deadline - time.monotonic()
                if done(value) or left <= 0 or self.closing:
                    return value
                if self.recheck_s is not None:
                    left, pause = min(left, pause, self.recheck_s), pause * 2
                event.wait(left)
        finally:
            with self._lock:
                events = self._events.get(execution_id)
                if events is not None:
                    events.discard(event)
                    if not events:
                        del self._events[execution_id]
