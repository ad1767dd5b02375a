"""The sanity checks of checkSanity (see the package's docstring for what each finds)."""
from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any, Callable, Sequence

from ...support import clock
from ...model.results import SanityProblem, SanityReport
from ...runtime.watching import waiter_key
from ...storage import codec, findings
from .probe import BATCH, Probe, held_here, timestamp_text, volatile_ids

if TYPE_CHECKING:
    from ...runtime.node import ProcessEngine

PROBLEM_LIMIT = 1000      # problems listed per check


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
        rows = findings.positions_after(probe.conn, after, BATCH)
        for row in rows:
            try:
                codec.loads(row.position)
            except codec.CorruptState as exc:
                if len(problems) == PROBLEM_LIMIT:
                    return problems + [_too_many(check)]
                marked = " (it is marked CORRUPT already)" if row.health == "CORRUPT" else ""
                problems.append(SanityProblem(check, f"{exc}{marked}: the instance cannot resume; terminateProcess "
                                                     "with kill ends it", row.execution_id))
        if len(rows) < BATCH:
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
    volatile = volatile_ids(probe.pe)
    prefix = waiter_key("")
    watcher_keys = sorted(k for k in counts if k.startswith(prefix))
    instance_ids = sorted(k for k in counts if not k.startswith(prefix) and k not in volatile)
    found = findings.instances_by_id(probe.conn, instance_ids, BATCH)
    watched = findings.watchers_by_id(probe.conn, [k[len(prefix):] for k in watcher_keys], BATCH)
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
        return (f"timer {_at(row.element_id)} was due {timestamp_text(row.due_at)} and is {seconds:.0f} s overdue: nobody "
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
    held, running = held_here(probe.pe)
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

