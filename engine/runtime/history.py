"""What the history records of a process, and when (CONTRACT §12, issue 17).

A process's record is written in the transaction that ends it, from the row that transaction writes,
so the record is as durable as the end itself; one never written (a `run` that ends disposed in its
call) has its record written alone before the answer goes out. Records and the operation log are
staged first (a table with one index, `catch_up` moves them on in batches), so an end pays for one
insert, not for the seven indexes a record is found by. A health change (LOST, recovered) is
kept beside it, written in the transaction that makes it while the process lives. Every node keeps what its own
`history.level` says, so a level changes with no migration and no restart of the others.
"""
from __future__ import annotations

import time
from collections import Counter
from datetime import date, datetime, time as dt_time, timedelta, timezone
from typing import TYPE_CHECKING, Any

from ..model.history import RANK, HistoryLevel
from ..model.states import END_STATES, Privilege
from ..storage import codec, history as rows
from ..storage.prepared import execute_in
from ..support import clock, jsontext
from ..support.durations import Histogram, bucket

if TYPE_CHECKING:
    from ..storage.database import Connection
    from ..storage.prepared import Statement
    from .host import Host as ProcessEngine  # what recording needs of the engine: settings, db, node_id

_ENDED = {state.value for state in END_STATES}
_READING = {Privilege.READ.value, Privilege.ADMIN.value}


def keeps(pe: "ProcessEngine", wanted: HistoryLevel) -> bool:
    """Whether this node's level keeps `wanted`'s (read by name: no enum built on the hot path, and no
    `.value` read, which costs an enum property's call: a level is the string it names)."""
    return RANK[pe.settings.history.level] >= RANK[wanted]


def _nodes(values: dict[str, Any]) -> list[str]:
    """The nodes an instance whose row is `values` ran on last (a node that lost it, and its own)."""
    return [n for n in dict.fromkeys((values.get("previous_node"), values.get("process_engine_id"))) if n]


def record_row(values: dict[str, Any], full: bool, now: datetime) -> dict[str, Any]:
    """The record of an ended instance whose row (all its columns) is `values`."""
    began = values.get("started_at") or values["created_at"]
    finished = values.get("finished_at") or now
    report = jsontext.loads(values["exception_report"]) if values.get("exception_report") else None
    return {
        "execution_id": values["execution_id"], "external_id": values.get("external_id"),
        "process_uri": values["process_uri"], "definition_version": values.get("definition_version"),
        "owner": values["owner"], "parent_execution_id": values.get("parent_execution_id"),
        "created_at": values["created_at"], "started_at": values.get("started_at"), "finished_at": finished,
        "duration_ms": max(0, int((finished - began).total_seconds() * 1000)), "end_state": values["state"],
        "message": values.get("message"), "exception_type": report.get("type") if report else None,
        "exception_source": report.get("source") if report else None, "nodes": jsontext.dumps(_nodes(values)),
        "pipeline": values.get("pipeline") if full else None, "recorded_at": now,
    }


def readers(permissions: str | None) -> list[str]:
    """The ACE names that may read an instance (its owner aside): those granted read or admin."""
    granted = jsontext.loads(permissions) if permissions else {}
    return [name for name, privileges in granted.items() if _READING.intersection(privileges)]


def ended(pe: "ProcessEngine", conn: "Connection", values: dict[str, Any]) -> None:
    """Record an instance that ends, in the transaction that ends it (`values`: its whole row)."""
    execute_in(conn, _record_statements(pe, values))


def _record_statements(pe: "ProcessEngine", values: dict[str, Any],
                       call: dict[str, Any] | None = None) -> list["Statement"]:
    if not keeps(pe, HistoryLevel.INSTANCE) or values["state"] not in _ENDED:
        return []
    return rows.record_statements(pe.db.engine.dialect, record_row(values, keeps(pe, HistoryLevel.FULL), clock.now()),
                                  readers(values.get("permissions")), call)


def ended_alone(pe: "ProcessEngine", values: dict[str, Any], row: "Statement | None",
                visits: list[dict[str, Any]]) -> None:
    """Record an instance that ends, saving nothing else (no log lines, no parent, no child): `row`, the
    INSERT of the instance (None if it is disposed at its end in its caller's call, and never written),
    its record, the elements it passed and the call's operation-log row, as one transaction committed
    before the caller is answered, straight to the driver (`Database.execute_together`). The record
    carries the call's row (one call, on one execution): a `run` answered at its end and disposed is
    then one INSERT, committed by itself."""
    statements = [row] if row is not None else []
    statements += _trail_statements(pe, values["execution_id"], visits)
    pending = rows.pending_operation()
    carried = pending is not None and not pending.each
    recorded = _record_statements(pe, values, pending.row if carried else None)
    if pending is not None and not (carried and recorded):
        recorded.append(rows.operation_statement(pe.db.engine.dialect, pending))
    pe.db.execute_together(statements + recorded)
    if pending is not None:
        pending.written = True


def passed(pe: "ProcessEngine", conn: "Connection", execution_id: str, visits: list[dict[str, Any]]) -> None:
    """Record the elements a process left since its last save (level `activity`), in the save's
    transaction: visits closed on this node, so it names this node."""
    execute_in(conn, _trail_statements(pe, execution_id, visits))


def _trail_statements(pe: "ProcessEngine", execution_id: str, visits: list[dict[str, Any]]) -> list["Statement"]:
    if not visits or not keeps(pe, HistoryLevel.ACTIVITY):
        return []
    return [rows.trail_statement(pe.db.engine.dialect, {
        "execution_id": execution_id, "node": pe.node_id, "recorded_at": clock.now(),
        "visits": jsontext.dumps([[v["seq"], v["element_id"], v["entered_at"], v["left_at"], v["outcome"],
                                   v["iteration"], codec.encode_store(v["data"]) if v["data"] else None]
                                  for v in visits])})]


def health_changed(pe: "ProcessEngine", conn: "Connection", values: dict[str, Any], health: str,
                   message: str | None = None) -> None:
    """Note a health change (LOST, recovered, …) for the record, in the transaction that makes it, with
    the nodes that ran the process by then (its record, written at its end, names them too)."""
    if keeps(pe, HistoryLevel.INSTANCE):
        rows.add_health_change(conn, {"execution_id": values["execution_id"], "at": clock.now(), "health": health,
                                      "node": pe.node_id, "message": message, "nodes": jsontext.dumps(_nodes(values))})


# -- staged rows ----------------------------------------------------------------------------------
MOVE_BATCH = 500  # staged rows of each kind moved in one transaction: short enough not to hold writers up


def catch_up(pe: "ProcessEngine", rounds: int | None = None) -> int:
    """Move what ends and calls staged to the history's tables, a batch per transaction: all of it (before
    a history query, so that it sees every answered call), or at most `rounds` batches (the background
    round every node runs). How many rows moved.

    It ends once nothing staged before it began is left, not at the first batch that finds less than a
    batch: on PostgreSQL a batch whose rows another mover took meanwhile waits for that mover, then
    finds them gone and moves nothing — while later rows, staged by calls answered before the query,
    are still staged."""
    with pe.db.unit_of_work(write=False) as uow:
        last = rows.staged_up_to(uow.conn)
    if last is None:
        return 0
    moved, done = 0, 0
    while rounds is None or done < rounds:
        with pe.db.unit_of_work() as uow:
            count = rows.move_staged(uow.conn, MOVE_BATCH)
            uow.commit()
        moved, done = moved + count, done + 1
        if count < MOVE_BATCH:  # no kind filled a batch: done, unless another mover held rows staged by now
            with pe.db.unit_of_work(write=False) as uow:
                if not rows.staged_before(uow.conn, last):
                    break
    return moved


# -- retention ------------------------------------------------------------------------------------
PURGE_SHARE = 0.1     # while expired rows remain, their deletion takes at most this share of the time,
PURGE_EVERY_S = 60.0  # and once none do, the master looks again this often


def purge(pe: "ProcessEngine", rounds: int = 100) -> int:
    """Delete what is older than `history.ttl_days`, batch after batch, at most `rounds` batches; how
    many rows went. (The master paces its batches instead: `Retention`.)"""
    gone = 0
    for _ in range(rounds):
        deleted, more = _purge_batch(pe)
        gone += deleted
        if not more:
            break
    return gone


def _purge_batch(pe: "ProcessEngine") -> tuple[int, bool]:
    """One batch per kind of row, in a transaction of its own (never holding locks for long)."""
    before = clock.now() - timedelta(days=pe.settings.history.ttl_days)
    with pe.db.unit_of_work() as uow:
        deleted, more = rows.purge(uow.conn, before, pe.settings.history.purge_batch)
        uow.commit()
    return deleted, more


class Retention:
    """The master's deletion of expired history, paced: after each batch it rests nine times as long
    as the batch took (`share` 0.1), so that a backlog of a million rows goes within the hour without
    taking the CPU and the database from running processes. Back to back, on two cores, the batches
    made the p99 of `run` 2.1x what it was; paced, 1.09x (issue 17, `tests/bench/history_scale.py`)."""

    def __init__(self, pe: "ProcessEngine", share: float = PURGE_SHARE, every_s: float | None = None) -> None:
        self.pe, self.share, self.every_s = pe, share, PURGE_EVERY_S if every_s is None else every_s
        self.deleted, self.more, self.took = 0, True, 0.0

    def step(self) -> float:
        """Delete one batch; the seconds to wait before the next."""
        began = time.monotonic()
        deleted, self.more = _purge_batch(self.pe)
        self.deleted, self.took = self.deleted + deleted, time.monotonic() - began
        return self.took * (1 / self.share - 1) if self.more else self.every_s


# -- days rolled up for statistics ----------------------------------------------------------------
ROLL_AFTER = timedelta(minutes=10)  # a day is rolled up this long after it closed: ends recorded late count


class ElementTally:
    """What the visits of one element add up to: how many, how many failed, the longest, the durations
    by bucket."""

    def __init__(self) -> None:
        self.count = self.failed = 0
        self.longest: int | None = None
        self.durations = Histogram()

    def add(self, outcome: str, duration_ms: int) -> None:
        self.count, self.failed = self.count + 1, self.failed + (outcome == "failed")
        self.longest = duration_ms if self.longest is None else max(self.longest, duration_ms)
        self.durations.counts[bucket(duration_ms)] += 1

    def add_sums(self, sums: list[Any]) -> None:
        count, failed, longest, pairs = sums
        self.count, self.failed = self.count + count, self.failed + failed
        self.longest = longest if self.longest is None else max(self.longest, longest)
        self.durations.merge_pairs(pairs)

    def sums(self) -> list[Any]:
        return [self.count, self.failed, self.longest, self.durations.pairs()]


class Tally:
    """What some ended processes of one processUri add up to: counts by end state, the longest
    duration, the durations by bucket; and, from their trails, the same per element."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.longest: int | None = None
        self.durations = Histogram()
        self.elements: dict[str, ElementTally] = {}

    def add(self, end_state: str, duration_ms: int) -> None:
        self.counts[end_state] += 1
        self.longest = duration_ms if self.longest is None else max(self.longest, duration_ms)
        self.durations.counts[bucket(duration_ms)] += 1

    def add_trail(self, visits: str) -> None:
        """Add a trail row's visits ([seq, element ID, entered, left, outcome, …])."""
        for visit in jsontext.loads(visits):
            took = clock.parse_timestamp(visit[3]) - clock.parse_timestamp(visit[2])
            (self.elements.get(visit[1]) or self.elements.setdefault(visit[1], ElementTally())).add(
                visit[4], int(took.total_seconds() * 1000))

    def add_day(self, row: Any) -> None:
        """Add a rolled-up day (a `history_days` row)."""
        self.counts.update(jsontext.loads(row.counts))
        self.longest = row.longest_ms if self.longest is None else max(self.longest, row.longest_ms)
        self.durations.merge(row.durations)
        for element_id, sums in (jsontext.loads(row.elements) if row.elements else {}).items():
            (self.elements.get(element_id) or self.elements.setdefault(element_id, ElementTally())).add_sums(sums)


def start_of(day: date) -> datetime:
    return datetime.combine(day, dt_time.min, timezone.utc)


def roll_up(pe: "ProcessEngine", most: int = 1) -> int:
    """Roll up at most `most` closed days that are not yet, newest first (the windows asked most often,
    after a backlog), from the oldest record's day or the retention's start: how many. The master calls
    it in the background; a day without records gets no row (and costs a look again)."""
    catch_up(pe)  # (a record staged at a day's last moment counts in its day)
    now = clock.now()
    last = (now - ROLL_AFTER).date() - timedelta(days=1)
    with pe.db.unit_of_work(write=False) as uow:
        oldest = rows.oldest_end(uow.conn)
        first = max((now - timedelta(days=pe.settings.history.ttl_days)).date(), oldest.date() if oldest else last)
        done = rows.rolled_days(uow.conn, first, last)
    rolled, day = 0, last
    while day >= first and rolled < most:
        if day not in done and _roll(pe, day, now):
            rolled += 1
        day -= timedelta(days=1)
    return rolled


def _roll(pe: "ProcessEngine", day: date, now: datetime) -> bool:
    tallies: dict[str, Tally] = {}
    window = start_of(day), start_of(day + timedelta(days=1))
    per_element = keeps(pe, HistoryLevel.ACTIVITY)
    with pe.db.unit_of_work() as uow:
        for uri, end_state, duration_ms in rows.ended_rows(uow.conn, None, *window):
            (tallies.get(uri) or tallies.setdefault(uri, Tally())).add(end_state, duration_ms)
        for uri, visits in rows.trails_ended_between(uow.conn, None, *window, None) if per_element else ():
            tallies[uri].add_trail(visits)
        if tallies:
            rows.put_days(uow.conn, [{
                "day": day, "process_uri": uri, "counts": jsontext.dumps(dict(t.counts)), "longest_ms": t.longest,
                "durations": t.durations.dumps(), "rolled_at": now,
                "elements": jsontext.dumps({e: s.sums() for e, s in t.elements.items()}) if per_element else None}
                for uri, t in tallies.items()])
            uow.commit()
    return bool(tallies)
