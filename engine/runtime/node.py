"""The running engine of one node: storage, definitions, modules, thread pools, background work.

`ProcessEngine` is what every operation of `engine.operations` receives first. Build it from settings,
`start()` it (migrating the database, joining the nodes, picking up where the last run stopped), and
`stop()` it: running instances are handed back as READY, so the next start continues them.
"""
from __future__ import annotations

import logging
import threading
from typing import Any, Callable, Mapping, Sequence

from ..support import clock
from ..model.datastore import DataStore, make_value
from ..definitions.repository import DefinitionRepository
from ..errors import DatabaseUnavailable, FeatureUnavailable, InternalError
from ..modules import load_modules
from ..settings import EngineSettings
from ..model.states import ExecutionState
from ..storage import codec, instances as store
from ..storage.database import Database
from ..storage.definitions import register_revision
from . import history
from .executor import Executor
from .cluster.broadcast import NODES_CHANGED, Broadcast
from .cluster.housekeeping import Housekeeper
from .cluster.membership import Membership
from .records import state_values
from .waiters import Waiters
from .watching import Watching

log = logging.getLogger(__name__)


# On PostgreSQL, the longest a synchronous wait goes without re-reading the instance (waiters.py).
WAIT_RECHECK_S = 4.0

# A session of this node idle inside a transaction this long has stalled (SIGSTOP, a VM pause): the
# server ends it, releasing its row locks. Never shorter than this, which no live transaction nears.
IDLE_IN_TRANSACTION_MIN_MS = 5000

# Threads of the engine's own that may each hold a connection: the housekeeper (its master lock and
# its work), the heartbeat, the broadcast listener and sender, and one spare for a thread of the
# embedding application.
BACKGROUND_CONNECTIONS = 6


def connections_wanted(settings: EngineSettings) -> int:
    """As many connections as threads may want one at once: a thread that waited for the pool would
    hold its request (and perhaps a row lock another thread waits for) without any bound but the pool's
    timeout."""
    return settings.server.threads + sum(settings.engine.thread_pools.values()) + BACKGROUND_CONNECTIONS


class ProcessEngine:
    def __init__(self, settings: EngineSettings, modules: Mapping[str, Any] | None = None,
                 on_active: Sequence[Callable[["ProcessEngine"], object]] = ()) -> None:
        """`on_active`: what to do once start-up has finished (the facade's `new_engine` starts the
        autostart services there); each is called with this engine."""
        self.settings = settings
        self._on_active = tuple(on_active)
        self.node_id: str = settings.engine.node_id
        self.db = Database(settings.storage.url, sqlite_synchronous=settings.storage.sqlite_synchronous,
                           pool_size=settings.storage.pool_size, max_connections=connections_wanted(settings),
                           idle_in_transaction_ms=max(settings.cluster.lost_after_ms, IDLE_IN_TRANSACTION_MIN_MS))
        self.modules = dict(load_modules() if modules is None else modules)
        self.repository = DefinitionRepository(settings.repository.root, self.modules, settings.repository.cache)
        self.public_constants = constants_store(settings.constants)
        # One node on SQLite: every change is made here and wakes its waiters directly.
        self.waiters = Waiters(None if self.db.is_sqlite else WAIT_RECHECK_S)
        self.watching = Watching(self)
        self.broadcast = Broadcast(self, self._changed_elsewhere, self.waiters.notify_all)
        self.executor = Executor(self, dict(settings.engine.thread_pools))
        self.membership = Membership(self)
        self.housekeeper = Housekeeper(self)
        self.registered: dict[tuple[str, str], tuple[int, int]] = {}  # (uri, revision) -> (id, version)
        self.features: dict[str, str] = {"instantiate": "inactive"}
        self.online = True
        self.running = False
        self._stopping = False

    # -- lifecycle ---------------------------------------------------------------------------------
    def start(self, migrate: bool = True) -> "ProcessEngine":
        if migrate:
            self.db.upgrade()
        self.db.refresh_statistics()
        self.db.start_checkpointing()  # before any connection is opened to serve
        try:
            self.membership.join()
        except BaseException:
            self.db.dispose()
            raise
        self.membership.is_master()  # asked now, not at the first round: a started node knows what it is
        self.broadcast.start()
        self.watching.load()
        self.running = True
        self.housekeeper.start()
        delay = self.settings.engine.startup_delay_ms / 1000
        if delay > 0:
            threading.Timer(delay, self._activate).start()
        else:
            self._activate()
        log.info("engine node %s started on %s", self.node_id, self.db.engine.url.render_as_string())
        return self

    def _activate(self) -> None:
        """Start-up has finished: instantiating is possible, and what waited for it runs."""
        if not self.running or self._stopping:
            return
        self.features["instantiate"] = "active"
        for hook in self._on_active:
            hook(self)

    def drain(self) -> None:
        """Shutdown has begun (SIGTERM): every synchronous call answers before the deadline. Waits answer
        with what they last read; the instances this node drives — a caller's run on its own thread
        included — are handed back as READY at their next step, so that caller answers too (with the
        snapshot as it stands) and another node, or the next start, continues them. Nothing new starts."""
        self._stopping = True
        self.features["instantiate"] = "inactive"
        self.executor.accepting = False
        self.waiters.close()
        self.executor.release_all()

    def stop(self) -> None:
        """Stop taking work, hand running instances back as READY, leave the nodes."""
        if not self.running:
            return
        self._stopping = True
        self.features["instantiate"] = "inactive"
        self.waiters.close()
        self.executor.shutdown(wait=True)
        self.housekeeper.stop()
        self.broadcast.stop()
        try:
            self.membership.leave()
        finally:
            self.running = False
            self.db.dispose()

    def __enter__(self) -> "ProcessEngine":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def set_online(self, online: bool) -> None:
        """An offline node executes nothing: its running instances are handed back as READY at their
        next step; back online, it picks up READY instances and due timers again."""
        self.online = online
        if online:
            self.housekeeper.nudge()
        else:
            self.executor.release_all()

    # -- services for operations and drivers ------------------------------------------------------
    def accepting_work(self) -> bool:
        return self.running and self.online and not self._stopping and self.membership.connected

    def require_feature(self, name: str) -> None:
        state = self.features.get(name, "unknown")
        if state != "active":
            raise FeatureUnavailable(name, state)

    def notify(self, execution_id: str, record: Any = None) -> None:
        """A commit changed an instance: wake its waiters and let its watchers look (at `record`, the
        committed row, when the caller holds it)."""
        self.waiters.notify(execution_id)
        self.watching.observe(execution_id, record)
        self.broadcast.send(execution_id)

    def wake(self, key: str) -> None:
        """Wake whoever waits on `key` (e.g. a watcher), here and on the other nodes."""
        self.waiters.notify(key)
        self.broadcast.send(key)

    def _changed_elsewhere(self, key: str) -> None:
        """Another node committed a change: wake our waiters; our watchers look at the stored row."""
        if key == NODES_CHANGED:
            self.housekeeper.beat_soon()
            return
        self.waiters.notify(key)
        if not key.startswith("watcher:"):
            self.watching.observe(key, None)

    def ready(self, execution_id: str, pool_id: str | None) -> None:
        """An instance became READY: queue it here (another node may claim it first)."""
        if self.accepting_work():
            self.executor.submit(execution_id, pool_id)

    def timer_set(self, due_at: Any) -> None:
        self.housekeeper.nudge(due_at)

    def register(self, uow: Any, loaded: Any) -> tuple[int, int]:
        """(row id, version) of a definition revision, numbering it when new. Remembered once the
        transaction that registered it commits: a revision's number never changes afterwards."""
        key = (loaded.uri, loaded.revision)
        known = self.registered.get(key)
        if known is not None:
            return known
        found = register_revision(uow.conn, loaded.uri, loaded.revision, loaded.definition.name, loaded.origin,
                                  loaded.changed_at, loaded.source)
        uow.after_commit(lambda: self.registered.__setitem__(key, found))
        return found

    def hand_back_later(self, execution_id: str, pool_id: str | None, delay_s: float = 0.2) -> None:
        """A driver lost the database: the instance, still RUNNING for this node at its last saved point,
        is made READY again once the database answers (retried, a little slower each time, while the
        node runs), and queued. If the node dies first, it is LOST for another node to recover."""
        def attempt() -> None:
            try:
                handed = self._hand_back(execution_id)
            except DatabaseUnavailable:
                if self.running and not self._stopping:
                    self.hand_back_later(execution_id, pool_id, min(delay_s * 2, 2.0))
                return
            if handed:
                self.ready(execution_id, pool_id)

        timer = threading.Timer(delay_s, attempt)
        timer.daemon = True
        timer.start()

    def _still_driven_here(self, record: Any) -> bool:
        """Whether this node still runs the instance: a node that wakes from a stall may find it LOST
        (and perhaps recovered by another node since), and must then leave it alone."""
        return record.state == "RUNNING" and record.owner_node == self.node_id and record.health == "OK"

    def _hand_back(self, execution_id: str) -> bool:
        with self.db.unit_of_work() as uow:
            record = store.get_instance(uow.conn, execution_id, for_update=True)
            if record is None or not self._still_driven_here(record):
                return False  # finished after all, or no longer this node's
            values = state_values(record, ExecutionState.READY, self.node_id, clock.now())
            values["owner_node"] = self.node_id if record.locked else None
            store.update_instance(uow.conn, execution_id, values, expect_version=record.exec_version)
            uow.after_commit(lambda: self.notify(execution_id))
            uow.commit()
        return True

    def fail_internally(self, execution_id: str) -> None:
        """An instance whose execution hit a bug of the engine: FAILED, with an incident ID to look up."""
        internal = InternalError()
        incident = internal.incident
        log.error("incident %s: instance %s failed inside the engine", incident, execution_id)
        report = {"type": internal.type, "message": internal.message,
                  "source": None, "cause": None}
        try:
            with self.db.unit_of_work() as uow:
                record = store.get_instance(uow.conn, execution_id, for_update=True)
                if record is None or not self._still_driven_here(record):
                    return
                values = state_values(record, ExecutionState.FAILED, self.node_id, clock.now())
                values.update(message=report["message"], exception_report=codec.dumps(report), position=None,
                              owner_node=None)
                store.update_instance(uow.conn, execution_id, values)
                history.ended(self, uow.conn, {**record.__dict__, **values})
                uow.after_commit(lambda: self.notify(execution_id))
                uow.commit()
        except Exception:
            log.exception("incident %s: could not mark %s FAILED", incident, execution_id)


def constants_store(tree: Mapping[str, Any], prefix: str = "") -> DataStore:
    """Public constants from the settings: a table is a partition, so `[constants.billing] vat = 0.2`
    is the constant `billing/vat`."""
    store_ = DataStore()
    _flatten(tree, prefix, store_)
    return store_


def _flatten(tree: Mapping[str, Any], prefix: str, target: DataStore) -> None:
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            _flatten(value, name + "/", target)
            continue
        items = value if isinstance(value, list) else [value]
        target.set(name, [make_value("1", "text/plain", _text(v)) for v in items])


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value.isoformat() if hasattr(value, "isoformat") else str(value)
