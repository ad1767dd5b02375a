"""Thread pools and the hand-off of READY instances to them.

An instance is submitted to the pool its `threadPoolId` names; one thread claims it, drives it until it
suspends, ends or is released, and returns to the pool — a waiting instance holds no thread. An
instance is queued at most once per node: a submit that arrives while it is queued or running is
remembered and replayed when the running driver lets go.

A caller that would only block until the instance suspends or ends may drive it itself (`run_here`),
saving two thread switches and the re-reads of a waiter. It takes one of the pool's permits to do so,
so a pool never runs more instances at once than it has threads.

Every request that drives an instance passes through here, on one of many request threads. A lock
they all take is a convoy waiting to form: a thread the interpreter switches away from while it holds
the lock makes every other one block on it, and then each hand-off of the lock costs a thread switch.
So the per-run path takes no lock that all runs share: the bookkeeping of an instance is guarded by
one of several locks chosen by its ID, a pool's permits are tokens in a `SimpleQueue` (taken and
returned without a lock), and the idle condition is only notified while somebody waits for it.
"""
from __future__ import annotations

import copy
import logging
import queue
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, Iterator

from ..support import clock
from ..model.datastore import DataStore
from ..errors import DatabaseUnavailable
from ..storage import instances as store
from ..storage.instances import InstanceRecord
from .control import Control
from .driver import Driver
from .host import Host

log = logging.getLogger(__name__)

_STRIPES = 64
AFTER_ANSWER_S = 0.05  # how long a caller's thread drives what it handed over, after its answer, at most
_CALLER = threading.local()  # per request thread: the hand-overs deferred until its answer is sent
_MOVED = object()  # what a caller's thread gave up at its AFTER_ANSWER_S: a pool thread drives it on


class Executor:
    def __init__(self, pe: Host, pool_sizes: dict[str, int]) -> None:
        self.pe = pe
        self.pools = {name: ThreadPoolExecutor(size, thread_name_prefix=f"pe-{name}")
                      for name, size in pool_sizes.items()}
        self.permits = {name: _tokens(size) for name, size in pool_sizes.items()}
        self._locks = tuple(threading.Lock() for _ in range(_STRIPES))
        self._active: dict[str, bool] = {}      # queued or running here -> resubmit requested
        self.controls: dict[str, Control] = {}  # running here
        self.drivers: dict[str, Driver] = {}    # running here: `pending_insert` ones are not written yet
        self.accepting = True
        self._idle = threading.Condition()
        self._idle_waiters = 0                  # threads in wait_idle: only they need a notification

    def _lock(self, execution_id: str) -> threading.Lock:
        """The lock guarding the bookkeeping of `execution_id` (shared with a few other IDs)."""
        return self._locks[hash(execution_id) % _STRIPES]

    def submit(self, execution_id: str, pool_id: str | None) -> None:
        with self._lock(execution_id):
            if not self.accepting:
                return
            if execution_id in self._active:
                self._active[execution_id] = True
                return
            self._active[execution_id] = False
        self._pool(pool_id).submit(self._run_guarded, execution_id, pool_id)

    def is_active(self, execution_id: str) -> bool:
        with self._lock(execution_id):
            return execution_id in self._active

    def signal(self, execution_id: str, **flags: object) -> bool:
        """Pass a signal to the driver of a running instance; False when it does not run here."""
        control = self.controls.get(execution_id)
        if control is None:
            return False
        control.signal(**flags)  # type: ignore[arg-type]
        return True

    def release_all(self) -> None:
        for control in list(self.controls.values()):
            control.signal(release=True)

    def running_count(self) -> int:
        return len(self.controls)

    def active_ids(self) -> set[str]:
        """Instances queued or running on this node now."""
        return set(self._active) | set(self.controls)  # each copied in one step, under the GIL

    def permits_in_use(self, pool_id: str) -> int:
        """How many instances run in the pool now (on its threads or on callers' threads)."""
        return sum(1 for driver in list(self.drivers.values()) if self.pool_of(driver.record.thread_pool_id) == pool_id)

    def pool_of(self, pool_id: str | None) -> str:
        """The pool an instance asking for `pool_id` runs in."""
        return pool_id if pool_id in self.pools else "default"

    def wait_idle(self, timeout_s: float) -> int:
        """Block until no instance runs on this node or the timeout passes; how many still run."""
        with self._idle:
            self._idle_waiters += 1
            try:
                self._idle.wait_for(lambda: not self.controls, timeout_s)
            finally:
                self._idle_waiters -= 1
            return len(self.controls)

    @contextmanager
    def slot(self, pool_id: str | None, *, wait: bool = False, within: float = 0.0) -> Iterator[bool]:
        """One of the pool's permits for the calling thread: True if one is free right now, or once one
        is (`wait`), or is within `within` seconds."""
        permits = self._permits(pool_id)
        try:
            if wait or within > 0:
                permits.get(timeout=None if wait else within)
            else:
                permits.get_nowait()
        except queue.Empty:
            yield False
            return
        try:
            yield True
        finally:
            permits.put(None)

    @contextmanager
    def reservation(self, pool_id: str | None, execution_id: str) -> Iterator[bool]:
        """A permit of the pool and the instance itself, for a caller about to commit it RUNNING for
        this node and then drive it on its own thread (`drive_here(..., reserved=True)`): True if both
        were free. Nothing else here starts it meanwhile; if the caller fails first, both are free."""
        with self.taken(pool_id, execution_id) as reserved:
            yield reserved
        if reserved:  # driven, on the caller's thread: the permit is the pool's again
            self._permits(pool_id).put(None)

    @contextmanager
    def taken(self, pool_id: str | None, execution_id: str) -> Iterator[bool]:
        """As `reservation`, for a caller about to commit it RUNNING for this node and then `hand_over`
        it to a thread of the pool, permit and all."""
        permits = self._permits(pool_id)
        try:
            permits.get_nowait()
        except queue.Empty:
            yield False
            return
        with self._lock(execution_id):
            taken = self.accepting and execution_id not in self._active
            if taken:
                self._active[execution_id] = False
        if not taken:
            permits.put(None)
        try:
            yield taken
        except BaseException:
            if taken:
                with self._lock(execution_id):
                    self._active.pop(execution_id, None)
                permits.put(None)
            raise

    def hand_over(self, record: InstanceRecord, known: tuple[Any, DataStore] | None = None, *,
                  awaited: bool = False) -> None:
        """Drive on a thread of its pool an instance `taken` and committed RUNNING for this node: no
        claim of its own (a transaction saved on every asynchronous start). On a thread that defers
        its hand-overs (`defer_hand_overs`), the thread itself drives it once its answer is sent —
        unless that answer waits for it (`awaited`): then a pool thread drives it now."""
        deferred = getattr(_CALLER, "deferred", None)
        if deferred is not None and not awaited:
            deferred.append((record, known))
            return
        try:
            self._pool(record.thread_pool_id).submit(self._run_handed_over, record, known)
        except RuntimeError:  # the pool has shut down since
            self._give_back(record)

    def _give_back(self, record: InstanceRecord) -> None:
        """Let go of a `taken` instance nothing drove: READY again, for this node or another."""
        with self._lock(record.execution_id):
            self._active.pop(record.execution_id, None)
        self._permits(record.thread_pool_id).put(None)
        self.pe.hand_back_later(record.execution_id, record.thread_pool_id)

    def _run_handed_over(self, record: InstanceRecord, known: tuple[Any, DataStore] | None,
                         deadline: float | None = None, moved: Driver | None = None) -> None:
        result = None
        try:
            result = self._guarded(record.execution_id, record.thread_pool_id, record, False, known, True,
                                   deadline=deadline, moved=moved)
        finally:
            if result is not _MOVED:  # else the permit went along with the driver
                self._permits(record.thread_pool_id).put(None)

    def _move(self, driver: Driver) -> bool:
        """Have a thread of its pool drive on an instance a caller's thread drove for its moment, as it
        stands in memory (no write, no state change); False if the pool has shut down."""
        try:
            self._pool(driver.record.thread_pool_id).submit(self._run_handed_over, driver.record, None, None, driver)
        except RuntimeError:
            return False
        return True

    def defer_hand_overs(self) -> None:
        """From now on, what this thread hands over waits for `drive_deferred` on this thread.

        A request thread that has answered an asynchronous start is free while its answer travels; driving
        the start there, after the answer, spares the switch to a pool thread and back, which under load
        costs as much as the start itself (issue 15). It drives for `AFTER_ANSWER_S` at most (the caller's
        next request on the connection waits meanwhile), then a thread of its pool drives on from there."""
        if getattr(_CALLER, "deferred", None):  # left by a caller that never drove them: never lost
            self.drive_deferred()
        _CALLER.deferred = []

    def drive_deferred(self) -> None:
        """Drive what this thread handed over since `defer_hand_overs`, each for AFTER_ANSWER_S at most;
        the thread hands over as usual again."""
        deferred, _CALLER.deferred = getattr(_CALLER, "deferred", None) or [], None
        for record, known in deferred:
            if self.accepting:
                self._run_handed_over(record, known, time.monotonic() + AFTER_ANSWER_S)
            else:  # shutting down
                self._give_back(record)

    def drive_here(self, record: InstanceRecord, *, claimed: bool, dispose_at_end: bool = False,
                   known: tuple[Any, DataStore] | None = None, unsaved: bool = False,
                   reserved: bool = False) -> Driver | None:
        """Inside a `slot`: drive the instance on this thread until it suspends or ends; the driver
        (its record as last committed), or None if it does not run here. `claimed`: the caller
        committed it RUNNING for this node already (`reserved`: inside its `reservation`) — or,
        `unsaved`, holds it RUNNING in memory only, for the driver to insert when it first saves.
        `known`: definition and pipeline it holds."""
        with self._lock(record.execution_id):
            if not reserved and (record.execution_id in self._active or not (self.accepting or claimed or unsaved)):
                return None
            self._active[record.execution_id] = False
        return self._guarded(record.execution_id, record.thread_pool_id, record, dispose_at_end, known,
                             claimed or unsaved, unsaved)

    def _pool(self, pool_id: str | None) -> ThreadPoolExecutor:
        return self.pools.get(pool_id or "default") or self.pools["default"]

    def _permits(self, pool_id: str | None) -> "queue.SimpleQueue[None]":
        return self.permits.get(pool_id or "default") or self.permits["default"]

    def _run_guarded(self, execution_id: str, pool_id: str | None) -> None:
        with self.slot(pool_id, wait=True):
            self._guarded(execution_id, pool_id, None, False, None, False)

    def _guarded(self, execution_id: str, pool_id: str | None, record: InstanceRecord | None,
                 dispose_at_end: bool, known: Any, claimed: bool, unsaved: bool = False,
                 deadline: float | None = None, moved: Driver | None = None) -> Any:
        result = None
        try:
            result = self._run(execution_id, record, dispose_at_end, known, claimed, unsaved, deadline, moved)
            return result
        except DatabaseUnavailable:  # transient: the instance resumes from its last saved point
            if unsaved:
                raise  # nothing was written: the caller hears "unavailable" and nobody else knew of it
            log.warning("lost the database while executing %s; it is handed back when it answers", execution_id)
            self.pe.hand_back_later(execution_id, pool_id)
            return None
        except Exception:  # a bug must not kill the pool thread; the instance is marked, not lost
            if unsaved:
                raise  # nothing was saved to mark: the caller reports the failure
            log.exception("executing %s failed", execution_id)
            self.pe.fail_internally(execution_id)
            return None
        finally:
            if result is not _MOVED:  # else it is still active here, on a thread of its pool
                with self._lock(execution_id):
                    again = self._active.pop(execution_id, False)
                if again:
                    self.submit(execution_id, pool_id)

    def _run(self, execution_id: str, record: InstanceRecord | None, dispose_at_end: bool,
             known: Any, claimed: bool, unsaved: bool, deadline: float | None = None,
             moved: Driver | None = None) -> Any:
        if moved is not None:  # driven on from where a caller's thread left it: registered still
            return self._drive(moved, resumed=True)
        if record is None:  # queued READY: taken in one statement, the row as taken (no read before it)
            if not self.pe.accepting_work():
                return None
            with self.pe.db.unit_of_work(single=True) as uow:  # one statement: it commits by itself
                record = store.take_ready(uow.conn, execution_id, self.pe.node_id, clock.now())
                if record is None:
                    return None  # ended, changed or taken by another node meanwhile
                uow.after_commit(lambda taken=copy.copy(record): self.pe.notify(execution_id, taken))
                uow.commit()
            claimed = True
        if not claimed and not self._runnable(record):
            return None
        driver = Driver(self.pe, record, Control(), dispose_at_end)
        driver.pending_insert, driver.release_at = unsaved, deadline
        self.controls[execution_id], self.drivers[execution_id] = driver.control, driver
        return self._drive(driver, known, claimed)

    def _drive(self, driver: Driver, known: Any = None, claimed: bool = False, resumed: bool = False) -> Any:
        """Drive a registered driver until it suspends, ends or lets go: the driver (None if it need not
        run); `_MOVED` when it reached its `release_at` and a thread of its pool drives on from there (it
        stays registered)."""
        result: Any = None
        try:
            if not resumed and not driver.prepare(known, claimed):
                return None
            if driver.drive(resumed):
                result = driver
            elif self._move(driver):
                result = _MOVED
            else:  # its pool has shut down: let it go as READY, from this thread
                driver.control.signal(release=True)
                driver.drive(resumed=True)
                result = driver
            return result
        finally:
            if result is not _MOVED:
                execution_id = driver.record.execution_id
                self.controls.pop(execution_id, None)
                self.drivers.pop(execution_id, None)
                if self._idle_waiters:  # read after the pop: a waiter that came later sees it gone
                    with self._idle:
                        self._idle.notify_all()

    def _runnable(self, record: InstanceRecord | None) -> bool:
        return (record is not None and record.state == "READY" and record.online and record.health == "OK"
                and record.owner_node in (None, self.pe.node_id) and self.pe.accepting_work())

    def shutdown(self, wait: bool = True) -> None:
        self.accepting = False
        for lock in self._locks:  # wait out every submit that saw it still accepting
            with lock:
                pass
        self.release_all()
        for pool in self.pools.values():
            pool.shutdown(wait=wait, cancel_futures=True)


def _tokens(size: int) -> "queue.SimpleQueue[None]":
    """A pool's permits: `size` tokens; taking one is `get`, giving it back is `put`."""
    tokens: "queue.SimpleQueue[None]" = queue.SimpleQueue()
    for _ in range(size):
        tokens.put(None)
    return tokens
