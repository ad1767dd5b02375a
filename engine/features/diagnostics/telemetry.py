"""The telemetry of getTelemetryData, and the figures a metrics scrape reports of this node."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Sequence

from ...support import clock
from ...model.results import TelemetryData, TelemetryItem
from ...runtime.watching import waiter_key
from ...storage import codec, findings, instances as store
from .probe import Probe, drivers_here, held_here, pool_of, timestamp_text

if TYPE_CHECKING:
    from ...runtime.node import ProcessEngine

TELEMETRY_LIMIT = 1000    # items listed per database telemetry type


def _flag(value: bool) -> str:
    return "true" if value else "false"



def _capped(probe: Probe, kind: str, query: Any, item: Callable[[Any], TelemetryItem]) -> list[TelemetryItem]:
    """Items of the first TELEMETRY_LIMIT rows of `query` (a `findings` query), and a `truncated` item
    when there are more."""
    rows = findings.first(probe.conn, query, TELEMETRY_LIMIT + 1)
    items = [item(row) for row in rows[:TELEMETRY_LIMIT]]
    if len(rows) > TELEMETRY_LIMIT:
        total = findings.count(probe.conn, query)
        items.append(TelemetryItem(kind, "truncated", (("listed", str(TELEMETRY_LIMIT)), ("total", str(total)))))
    return items


def telemetry_process_instance(probe: Probe) -> list[TelemetryItem]:
    kind = "PROCESS_INSTANCE"
    groups = store.live_counts(probe.conn)
    items = [TelemetryItem(kind, f"{state}/{health}", (("state", state), ("health", health), ("count", str(count))))
             for state, health, count in groups]
    disposed = findings.disposed_count(probe.conn)
    if disposed:
        retention = probe.pe.settings.engine.dispose_retention_ms
        items.append(TelemetryItem(kind, "disposed", (("count", str(disposed)), ("purgedAfterMs", str(retention)))))
    return items


def telemetry_cached(probe: Probe) -> list[TelemetryItem]:
    pe = probe.pe
    held, running = held_here(pe)
    drivers = drivers_here(pe)
    items = []
    for execution_id in sorted(held | set(drivers)):
        values: list[tuple[str, str]] = [("status", "running" if execution_id in running else "queued")]
        driver = drivers.get(execution_id)
        if driver is not None:
            record = driver.record
            element = driver.run.current_element if driver.run is not None else record.current_element
            values += [("state", record.state), ("pool", pool_of(pe, record.thread_pool_id)),
                       ("processUri", record.process_uri), ("currentElement", element or ""),
                       ("volatile", _flag(driver.pending_insert))]
        items.append(TelemetryItem("CACHED_PROCESS_INSTANCE", execution_id, tuple(values)))
    return items


def telemetry_execution(probe: Probe) -> list[TelemetryItem]:
    kind = "PROCESS_EXECUTION"
    return _capped(probe, kind, findings.position_sizes(), lambda row: TelemetryItem(kind, row.execution_id, (
        ("state", row.state), ("health", row.health), ("currentElement", row.current_element or ""),
        ("ownerNode", row.owner_node or ""), ("positionChars", str(row.size)))))


def telemetry_signal(probe: Probe) -> list[TelemetryItem]:
    kind = "SIGNAL"

    def item(row: Any) -> TelemetryItem:
        values = [("signal", "terminate"), ("state", row.state), ("disposed", _flag(row.disposed_at is not None))]
        try:
            request = codec.loads(row.terminate_request) or {}
            values += [("kill", _flag(bool(request.get("kill")))), ("fail", _flag(bool(request.get("fail")))),
                       ("message", str(request.get("message") or "")[:200])]
        except (codec.CorruptState, AttributeError):
            values.append(("request", "unreadable"))
        return TelemetryItem(kind, row.execution_id, tuple(values))
    return _capped(probe, kind, findings.terminate_requests(ended_only=False), item)


def telemetry_thread_pool(probe: Probe) -> list[TelemetryItem]:
    pe = probe.pe
    executor, sizes = pe.executor, pe.settings.engine.thread_pools
    by_pool: dict[str, list[str]] = {}
    for execution_id, driver in drivers_here(pe).items():
        by_pool.setdefault(pool_of(pe, driver.record.thread_pool_id), []).append(execution_id)
    items = []
    for name in sorted(executor.pools):
        size = int(sizes.get(name, 0))
        running = sorted(by_pool.get(name, ()))
        values = [("size", str(size)), ("permitsInUse", str(executor.permits_in_use(name))),
                  ("running", str(len(running))), ("executionIds", ",".join(running))]
        items.append(TelemetryItem("THREAD_POOL", name, tuple(values)))
    return items


def telemetry_wait_state(probe: Probe) -> list[TelemetryItem]:
    kind = "WAITSTATE"
    return _capped(probe, kind, findings.all_wait_rows(), lambda row: TelemetryItem(kind, row.execution_id, (
        ("kind", row.kind), ("element", row.element_id), ("due", timestamp_text(row.due_at)),
        ("child", row.child_execution_id or ""), ("since", timestamp_text(row.created_at)))))


def telemetry_task(probe: Probe) -> list[TelemetryItem]:
    """Task telemetry comes from a task manager; this engine has none."""
    return []


def telemetry_waiters(probe: Probe) -> list[TelemetryItem]:
    counts, prefix = probe.pe.waiters.counts(), waiter_key("")
    return [TelemetryItem("WAITERS", key, (("waiters", str(counts[key])),
                                           ("on", "watcher" if key.startswith(prefix) else "processInstance")))
            for key in sorted(counts)]


def telemetry_cache(probe: Probe) -> list[TelemetryItem]:
    pe, kind = probe.pe, "CACHE"
    stats = pe.repository.cache_stats()
    enabled = _flag(pe.repository.cache_enabled)
    return [TelemetryItem(kind, "definitionFiles", (("entries", str(stats["files"])), ("enabled", enabled))),
            TelemetryItem(kind, "parsedDefinitions", (("entries", str(stats["parsed"])),
                                                      ("capacity", str(stats["capacity"])), ("enabled", enabled))),
            TelemetryItem(kind, "revisionRegistrations", (("entries", str(len(pe.registered))),))]


def telemetry_volatile(probe: Probe) -> list[TelemetryItem]:
    pe, items = probe.pe, []
    for execution_id, driver in sorted(drivers_here(pe).items()):
        if not driver.pending_insert:
            continue
        record = driver.record
        element = driver.run.current_element if driver.run is not None else record.current_element
        items.append(TelemetryItem("VOLATILE_INSTANCES", execution_id, (
            ("processUri", record.process_uri), ("state", record.state), ("currentElement", element or ""),
            ("pool", pool_of(pe, record.thread_pool_id)), ("startedAt", timestamp_text(record.started_at)))))
    return items


TELEMETRY: dict[str, Callable[[Probe], list[TelemetryItem]]] = {
    "PROCESS_INSTANCE": telemetry_process_instance,
    "CACHED_PROCESS_INSTANCE": telemetry_cached,
    "PROCESS_EXECUTION": telemetry_execution,
    "SIGNAL": telemetry_signal,
    "THREAD_POOL": telemetry_thread_pool,
    "WAITSTATE": telemetry_wait_state,
    "TASK": telemetry_task,
    "WAITERS": telemetry_waiters,
    "CACHE": telemetry_cache,
    "VOLATILE_INSTANCES": telemetry_volatile,
}
STANDARD_TYPES = tuple(TELEMETRY)


def telemetry(pe: "ProcessEngine", types: Sequence[str]) -> TelemetryData:
    items: list[TelemetryItem] = []
    with pe.db.unit_of_work(write=False) as uow:
        probe = Probe(pe, uow.conn, clock.now())
        for name in types:
            items += TELEMETRY[name](probe)
    return TelemetryData(tuple(types), tuple(items))


@dataclass(frozen=True)
class NodeFigures:
    """What a metrics scrape reports of this node: instances it runs, has queued or running, callers
    blocked in a wait, and the live instances of the cluster by (state, health)."""

    running: int
    active: int
    waiting_callers: int
    live: tuple[tuple[str, str, int], ...]


def node_figures(pe: "ProcessEngine") -> NodeFigures:
    with pe.db.unit_of_work(write=False) as uow:
        live = tuple(store.live_counts(uow.conn))
    return NodeFigures(pe.executor.running_count(), len(pe.executor.active_ids()),
                       sum(pe.waiters.counts().values()), live)

