"""The sanity checks, telemetry collectors and clean-up behind the spec's "Diagnostic Operations".

We run neither ZooKeeper nor a task manager, so the spec's checks and telemetry types are mapped onto
our own stores. Our node registry (the `nodes` table, kept by heartbeats) stands in for ZooKeeper's
ZNodes, the `wait_states` table for the wait state storage, the `position` column of
`process_instances` for the process execution data, and `terminate_request` for the stored signals.
Each check is one small function; all but `execution`'s decoding of positions and `waiter` (which
starts from memory) are statements (`storage/findings.py`) that select exactly the faulty rows —
nothing is loaded into Python to be filtered there. Each check lists at most `PROBLEM_LIMIT` problems
(and then says so).

Checks (the standard ones run when none is asked for):

- `waitState` — a wait row whose instance is missing, disposed or not WAITING; a live WAITING instance
  without a wait row (nothing wakes it); a child wait whose child instance is gone, disposed or ended.
- `execution` — a live WAITING or PAUSED instance without a saved position (continuing it would start
  it over); an ended or disposed instance still holding a position; a live position that does not
  decode as JSON (`codec.loads` raises `CorruptState`; read in batches, the one check that must look at
  values); a live row saved in a state format this engine cannot read; a RUNNING instance claimed by
  no node or by a node that is not in the `nodes` table.
- `signal` — a pending `terminate_request` (our only stored signal) on an ended or disposed instance.
- `waiter` — callers blocked in memory (`Waiters.counts()`) on an execution ID that does not exist or
  is disposed (inline runs not yet written — volatile — are not missing), or on a watcher (getWatcher,
  key `watcher:ID`) that no longer exists or has finished.
- `zookeeperWatcher` — an unfinished watcher whose instance is gone or disposed (an obsolete watcher).
- `zookeeperProcess` — a live READY/RUNNING instance whose `owner_node` is set but not in `nodes` (the
  node that holds it is gone; the master marks such instances LOST).
- `zookeeperWaitState` — a timer of an online, healthy, live WAITING instance overdue by more than
  10 x `engine.timer_poll_ms` (nobody fires it), or a timer wait without a due time.
- `taskPayload` — we have no task manager: the check runs and finds nothing.

Non-standard checks, run only when asked for:

- `noRunning` — leftover execution data: any live READY/RUNNING instance, any wait row, any instance
  queued or running on a thread of this node, any saved position of a live instance.
- `cleanState` — what `noRunning` finds, plus every live (not disposed) instance at all.

Telemetry types (all of them when none is asked for): PROCESS_INSTANCE (live instances counted by
state and health, and the disposed rows awaiting purge), CACHED_PROCESS_INSTANCE (instances this node
holds in memory: running drivers and queued IDs), PROCESS_EXECUTION (live instances with a saved
position), SIGNAL (pending terminate requests), THREAD_POOL (each pool's size, permits in use and the
IDs running in it), WAITSTATE (wait rows), TASK (always empty: no task manager), WAITERS (blocked
callers per instance or watcher), CACHE (definition files, parsed revisions, revision registrations),
VOLATILE_INSTANCES (inline runs whose row is not written yet). Database types list at most
`TELEMETRY_LIMIT` items, then an item `truncated` with the total.

`collect_garbage` is what garbageCollect runs: purge disposed rows past `engine.dispose_retention_ms`,
delete process log rows whose instance no longer exists, and finish the unfinished watchers whose
instance is gone (with no captured snapshot) or disposed (capturing the disposed row, as the watchers'
own sweep does).
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Callable, Iterable, Sequence

from . import clock
from .errors import InvalidParameter
from .model import SanityProblem, SanityReport, TelemetryData, TelemetryItem
from .runtime.watching import capture, waiter_key
from .storage import codec, findings, instances as store
from .storage.database import Connection

if TYPE_CHECKING:
    from .runtime.driver import Driver
    from .runtime.engine import ProcessEngine

log = logging.getLogger(__name__)

PROBLEM_LIMIT = 1000      # problems listed per check
TELEMETRY_LIMIT = 1000    # items listed per database telemetry type
_BATCH = 500              # rows per statement when reading values or deleting in batches


@dataclass(frozen=True)
class Probe:
    """What a check or collector looks at: the engine, one read transaction, and the moment."""

    pe: "ProcessEngine"
    conn: Connection
    now: datetime


# -- choosing checks and types -------------------------------------------------------------------------
def choose(names: Iterable[str] | str | None, known: Sequence[str], standard: Sequence[str],
           parameter: str) -> tuple[str, ...]:
    """The names asked for (each item may be a comma-separated list; case does not matter), in the
    order given without repeats; `standard` when none is given. InvalidParameter for an unknown one."""
    if isinstance(names, str):
        names = [names]
    by_key = {name.lower(): name for name in known}
    chosen: list[str] = []
    for item in names or ():
        if not isinstance(item, str):
            raise InvalidParameter(parameter, f"{item!r} is not a name")
        for part in item.split(","):
            part = part.strip()
            if not part:
                continue
            name = by_key.get(part.lower())
            if name is None:
                raise InvalidParameter(parameter, f"{part!r} is not one of {', '.join(known)}")
            if name not in chosen:
                chosen.append(name)
    return tuple(chosen) or tuple(standard)


# -- helpers -------------------------------------------------------------------------------------------
def _listed(probe: Probe, check: str, query: Any, message: Callable[[Any], str]) -> list[SanityProblem]:
    """One problem per row of `query` (a `findings` query selecting `execution_id`), at most
    PROBLEM_LIMIT of them."""
    rows = findings.first(probe.conn, query, PROBLEM_LIMIT + 1)
    problems = [SanityProblem(check, message(row), row.execution_id) for row in rows[:PROBLEM_LIMIT]]
    if len(rows) > PROBLEM_LIMIT:
        problems.append(_too_many(check))
    return problems


def _too_many(check: str) -> SanityProblem:
    return SanityProblem(check, f"more problems of this kind than the {PROBLEM_LIMIT} listed; fix those and "
                                "run the check again")


def _at(element: str | None) -> str:
    return f"at {element}" if element else "at no known element"


def _when(moment: datetime | None) -> str:
    return clock.format_timestamp(moment) if moment is not None else ""


def _flag(value: bool) -> str:
    return "true" if value else "false"


def _drivers(pe: "ProcessEngine") -> dict[str, "Driver"]:
    """The drivers running on this node now (a copy)."""
    return dict(getattr(pe.executor, "drivers", {}))


def _held_here(pe: "ProcessEngine") -> tuple[set[str], set[str]]:
    """(queued or running here, running here) execution IDs of this node's executor."""
    running = set(pe.executor.controls)
    return pe.executor.active_ids() | running, running


def _volatile_ids(pe: "ProcessEngine") -> set[str]:
    return {key for key, driver in _drivers(pe).items() if driver.pending_insert}


def _pool_of(pe: "ProcessEngine", pool_id: str | None) -> str:
    """The pool an instance with `pool_id` runs in (an unknown pool falls back to `default`)."""
    name = pool_id or "default"
    return name if name in pe.executor.pools else "default"


def _readable_formats() -> list[int]:
    readable = [codec.STATE_FORMAT]
    fmt = codec.STATE_FORMAT - 1
    while fmt >= 1 and fmt in codec.UPGRADES:
        readable.append(fmt)
        fmt -= 1
    return readable


# -- standard checks -----------------------------------------------------------------------------------
def check_wait_state(probe: Probe) -> list[SanityProblem]:
    """Wait rows against instances: every wait row belongs to a live WAITING instance, and every live
    WAITING instance has one; a child wait names a child that can still end."""
    check = "waitState"

    def stale(row: Any) -> str:
        what = f"wait state ({row.kind} {_at(row.element_id)})"
        if row.found is None:
            return f"{what} belongs to no process instance: nothing will ever resume from it"
        if row.disposed_at is not None:
            return (f"{what} belongs to a disposed instance: it is never resumed; garbageCollect removes it "
                    "with the instance once the dispose retention has passed")
        return (f"{what} belongs to an instance in state {row.state}: only WAITING instances have one, so it "
                "is stale (ignored, and replaced at the instance's next wait)")

    problems = _listed(probe, check, findings.stale_waits(), stale)
    problems += _listed(probe, check, findings.waiting_without_wait(), lambda row: (
        f"instance is WAITING {_at(row.current_element)} but has no wait state: no timer or child process "
        "will wake it; startProcess continues it, terminateProcess ends it"))

    def orphaned(row: Any) -> str:
        if row.found is None:
            fate = "does not exist"
        elif row.disposed_at is not None:
            fate = "is disposed"
        else:
            fate = f"has ended ({row.state}) without waking it"
        return (f"waits {_at(row.element_id)} for child process {row.child_execution_id}, which {fate}: it will "
                "never be woken; terminateProcess ends it")
    return problems + _listed(probe, check, findings.waits_for_lost_children(), orphaned)


def check_execution(probe: Probe) -> list[SanityProblem]:
    """Saved positions (our process execution data) against the instances that hold them."""
    check = "execution"
    problems = _listed(probe, check, findings.paused_without_position(), lambda row: (
        f"instance is {row.state} {_at(row.current_element)} but has no saved position: continuing it would "
        "start it over from the beginning; terminate it unless that is wanted"))

    problems += _listed(probe, check, findings.ended_with_position(), lambda row: (
        f"instance {'is disposed' if row.disposed_at is not None else f'has ended ({row.state})'} but still "
        "holds a saved position: it is never read again, and it means the end was not saved cleanly"))

    readable = _readable_formats()
    problems += _listed(probe, check, findings.unreadable_formats(readable), lambda row: (
        f"saved state has format {row.state_format}; this engine reads formats {', '.join(map(str, readable))}: "
        "the instance is reported CORRUPT when it next runs"))

    problems += _undecodable_positions(probe, check)

    def claimant(row: Any) -> str:
        if row.owner_node is None:
            return ("instance is RUNNING but no node has claimed it: nobody executes it and it is never marked "
                    "LOST; terminateProcess with kill ends it")
        if row.health == "LOST":
            return (f"instance is RUNNING and LOST: node {row.owner_node} that executed it is gone; "
                    "recoverProcess resumes it from its last saved point")
        return (f"instance is RUNNING on node {row.owner_node}, which is not registered (it stopped or "
                "vanished): it is marked LOST soon, then recoverProcess resumes it from its last saved point")
    return problems + _listed(probe, check, findings.running_unclaimed(), claimant)


def _undecodable_positions(probe: Probe, check: str) -> list[SanityProblem]:
    """Live positions that are not JSON, read in batches by key (never all rows at once)."""
    problems: list[SanityProblem] = []
    after = ""
    while True:
        rows = findings.positions_after(probe.conn, after, _BATCH)
        for row in rows:
            try:
                codec.loads(row.position)
            except codec.CorruptState as exc:
                if len(problems) == PROBLEM_LIMIT:
                    return problems + [_too_many(check)]
                marked = " (it is marked CORRUPT already)" if row.health == "CORRUPT" else ""
                problems.append(SanityProblem(check, f"{exc}{marked}: the instance cannot resume; terminateProcess "
                                                     "with kill ends it", row.execution_id))
        if len(rows) < _BATCH:
            return problems
        after = rows[-1].execution_id


def check_signal(probe: Probe) -> list[SanityProblem]:
    """Terminate requests (our stored signals) that nobody will ever handle."""
    return _listed(probe, "signal", findings.terminate_requests(ended_only=True), lambda row: (
        "a terminate request is still pending on an instance that "
        f"{'is disposed' if row.disposed_at is not None else f'has already ended ({row.state})'}: it is never "
        "handled (an end should have cleared it)"))


def check_waiter(probe: Probe) -> list[SanityProblem]:
    """Callers blocked on this node for an instance that is gone or disposed, or for a watcher
    (getWatcher) that is gone or finished already."""
    counts = probe.pe.waiters.counts()
    volatile = _volatile_ids(probe.pe)
    prefix = waiter_key("")
    watcher_keys = sorted(k for k in counts if k.startswith(prefix))
    instance_ids = sorted(k for k in counts if not k.startswith(prefix) and k not in volatile)
    found = findings.instances_by_id(probe.conn, instance_ids, _BATCH)
    watched = findings.watchers_by_id(probe.conn, [k[len(prefix):] for k in watcher_keys], _BATCH)
    problems: list[SanityProblem] = []
    for key in instance_ids + watcher_keys:
        callers = f"{counts[key]} caller(s) wait"
        if key.startswith(prefix):
            row = watched.get(key[len(prefix):])
            if row is not None and not row.finished:
                continue
            state = "no longer exists" if row is None else "has finished already"
            message = f"{callers} for watcher {key[len(prefix):]}, which {state}: they block until their timeout"
            execution_id = row.execution_id if row is not None else None
        else:
            row = found.get(key)
            if row is not None and row.disposed_at is None:
                continue
            if row is None:
                message = f"{callers} for an instance that does not exist: they block until their timeout"
            else:
                message = (f"{callers} for an instance that is disposed (in state {row.state}): it changes no "
                           "more, so they block until their timeout")
            execution_id = key
        if len(problems) == PROBLEM_LIMIT:
            return problems + [_too_many("waiter")]
        problems.append(SanityProblem("waiter", message, execution_id))
    return problems


def check_watchers(probe: Probe) -> list[SanityProblem]:
    """Unfinished watchers whose instance is gone or disposed: they can never capture anything."""
    return _listed(probe, "zookeeperWatcher", findings.obsolete_watchers(), lambda row: (
        f"watcher {row.id} is unfinished but its instance {'no longer exists' if row.found is None else 'is disposed'}"
        ": it can never see a change; the watchers' sweep or garbageCollect finishes it"))


def check_processes(probe: Probe) -> list[SanityProblem]:
    """Active instances held by a node that is not in the node registry (our stand-in for ZNodes)."""
    def message(row: Any) -> str:
        text = (f"instance is {row.state} and held by node {row.owner_node}, which is not registered (it stopped "
                "or vanished), so no other node executes it")
        if row.health == "LOST":
            return text + "; it is marked LOST: recoverProcess resumes it"
        return text + "; the master marks it LOST within cluster.lost_after_ms, then recoverProcess resumes it"
    return _listed(probe, "zookeeperProcess", findings.active_on_unknown_nodes(), message)


def check_timers(probe: Probe) -> list[SanityProblem]:
    """Timers that should have fired long ago, for instances that could run (a timer nobody fires)."""
    pe = probe.pe
    grace = timedelta(milliseconds=10 * pe.settings.engine.timer_poll_ms)
    hint = "; this node is offline" if not pe.online else ""
    if not getattr(pe.membership, "connected", True):
        hint += "; this node is not connected to the cluster"

    def late(row: Any) -> str:
        seconds = (probe.now - row.due_at).total_seconds()
        return (f"timer {_at(row.element_id)} was due {_when(row.due_at)} and is {seconds:.0f} s overdue: nobody "
                f"fired it (timers fire on the master node while it is online{hint})")
    problems = _listed(probe, "zookeeperWaitState", findings.runnable_timers(probe.now - grace), late)
    return problems + _listed(probe, "zookeeperWaitState", findings.runnable_timers(None), lambda row: (
        f"timer {_at(row.element_id)} has no due time: it never fires; startProcess continues the instance"))


def check_task_payload(probe: Probe) -> list[SanityProblem]:
    """Task payloads against tasks: this engine has no task manager, so there is nothing to compare
    and the check finds nothing."""
    return []


# -- non-standard checks -------------------------------------------------------------------------------
def check_no_running(probe: Probe, check: str = "noRunning") -> list[SanityProblem]:
    """Leftover execution data: active instances, wait states, threads of this node, saved positions."""
    problems = _listed(probe, check, findings.active_instances(),
                       lambda row: f"instance is {row.state}: it is still queued or executing")
    problems += _listed(probe, check, findings.all_waits(),
                        lambda row: f"wait state ({row.kind} {_at(row.element_id)}) is stored")
    held, running = _held_here(probe.pe)
    for execution_id in sorted(held):
        status = "runs on a thread" if execution_id in running else "is queued for a thread"
        problems.append(SanityProblem(check, f"instance {status} of node {probe.pe.node_id}", execution_id))
    return problems + _listed(probe, check, findings.stored_positions(), lambda row: (
        f"saved execution position of an instance in state {row.state} is stored"))


def check_clean_state(probe: Probe) -> list[SanityProblem]:
    """What noRunning finds, plus every process instance still stored (not disposed)."""
    problems = check_no_running(probe, "cleanState")
    return problems + _listed(probe, "cleanState", findings.live_instances(), lambda row: (
        f"process instance in state {row.state} is still stored (not disposed)"))


CHECKS: dict[str, Callable[[Probe], list[SanityProblem]]] = {
    "zookeeperWaitState": check_timers,
    "zookeeperProcess": check_processes,
    "signal": check_signal,
    "waitState": check_wait_state,
    "execution": check_execution,
    "taskPayload": check_task_payload,
    "zookeeperWatcher": check_watchers,
    "waiter": check_waiter,
    "noRunning": check_no_running,
    "cleanState": check_clean_state,
}
STANDARD_CHECKS = ("zookeeperWaitState", "zookeeperProcess", "signal", "waitState", "execution", "taskPayload",
                   "zookeeperWatcher", "waiter")


def check_sanity(pe: "ProcessEngine", checks: Sequence[str]) -> SanityReport:
    """Run `checks` (names of CHECKS), each in a read transaction of its own."""
    problems: list[SanityProblem] = []
    for name in checks:
        with pe.db.unit_of_work(write=False) as uow:
            problems += CHECKS[name](Probe(pe, uow.conn, clock.now()))
    return SanityReport(tuple(checks), tuple(problems))


# -- telemetry -----------------------------------------------------------------------------------------
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
    held, running = _held_here(pe)
    drivers = _drivers(pe)
    items = []
    for execution_id in sorted(held | set(drivers)):
        values: list[tuple[str, str]] = [("status", "running" if execution_id in running else "queued")]
        driver = drivers.get(execution_id)
        if driver is not None:
            record = driver.record
            element = driver.run.current_element if driver.run is not None else record.current_element
            values += [("state", record.state), ("pool", _pool_of(pe, record.thread_pool_id)),
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
    for execution_id, driver in _drivers(pe).items():
        by_pool.setdefault(_pool_of(pe, driver.record.thread_pool_id), []).append(execution_id)
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
        ("kind", row.kind), ("element", row.element_id), ("due", _when(row.due_at)),
        ("child", row.child_execution_id or ""), ("since", _when(row.created_at)))))


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
    for execution_id, driver in sorted(_drivers(pe).items()):
        if not driver.pending_insert:
            continue
        record = driver.record
        element = driver.run.current_element if driver.run is not None else record.current_element
        items.append(TelemetryItem("VOLATILE_INSTANCES", execution_id, (
            ("processUri", record.process_uri), ("state", record.state), ("currentElement", element or ""),
            ("pool", _pool_of(pe, record.thread_pool_id)), ("startedAt", _when(record.started_at)))))
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


# -- garbage collection --------------------------------------------------------------------------------
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
    return findings.delete_orphan_logs(conn, _BATCH)


def _finish_obsolete_watchers(pe: "ProcessEngine", uow: Any) -> int:
    """Finish the unfinished watchers whose instance is gone (capturing nothing) or disposed (capturing
    the disposed row, as the watchers' own sweep would); their getWatcher callers hear of it."""
    rows = findings.first(uow.conn, findings.obsolete_watchers(by_instance=True), _BATCH)
    finished, records = 0, {}
    for row in rows:
        if row.execution_id not in records:
            records[row.execution_id] = store.get_instance(uow.conn, row.execution_id, include_disposed=True)
        if capture(uow.conn, row.id, records[row.execution_id]):
            finished += 1
            uow.after_commit(lambda key=waiter_key(row.id): pe.wake(key))
    return finished
