"""The history at scale (issue 17): 10,000,000 process records on PostgreSQL.

Loaded with `INSERT … SELECT generate_series` (20 processUris, 200 owners, unique externalIds, ended over
the last 29 days — within `history.ttl_days` —: 85 % FINISHED, 13 % FAILED, 2 % TERMINATED, durations
0.1–60 s), and 1,000,000 more that ended 31–60 days ago, for retention to delete. Measured through the
engine's facade, as an admin: selective `findHistory` queries and the statistics of one processUri over
30 days — before and after the master rolled up the closed days —, p50 of several calls each (goal:
≤ 50 ms); then `run` (level instance, a record each) p99 during a retention run deleting the 1,000,000
expired records, paced as the master paces it, against the same without it, in windows that take turns
(goal: < 2×).
"""
from __future__ import annotations

import statistics
import sys
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Callable

import psycopg2

from config.settings import load_settings
from engine import operations as ops
from engine.model.query import And, Param, Query, SortCriterion
from engine.runtime import history
from engine.security.authorization import ANONYMOUS_ADMIN, Principal
from engine.settings import HistorySettings
from engine.storage.tables import RECORD_QUERY_COLUMNS
from engine.support import clock
from tests.bench.scale import DAY_S, _dsn, _fresh_schema, _schema_url, drop, vacuum

SCHEMA = "pe_bench_history"
LOAD = f"""
INSERT INTO process_history (execution_id, external_id, process_uri, definition_version, owner, parent_execution_id,
  created_at, started_at, finished_at, duration_ms, end_state, message, exception_type, exception_source, nodes,
  pipeline, recorded_at)
SELECT md5(i::text)::uuid::text, 'ext-' || lpad(i::text, 9, '0'), 'bench/p' || (i %% 20) || '.ipd', 1,
  'user' || (i %% 200), NULL, e.at - make_interval(secs => d.ms / 1000.0), e.at - make_interval(secs => d.ms / 1000.0),
  e.at, d.ms, s.state, CASE WHEN s.state = 'FAILED' THEN 'it broke' END,
  CASE WHEN s.state = 'FAILED' THEN 'OrderRejected' END, CASE WHEN s.state = 'FAILED' THEN 'root.check' END,
  '["bench-node"]', NULL, e.at
FROM generate_series(%(first)s, %(last)s) AS i,
  LATERAL (SELECT CASE WHEN i %% 100 < 85 THEN 'FINISHED' WHEN i %% 100 < 98 THEN 'FAILED'
                       ELSE 'TERMINATED' END AS state) s,
  LATERAL (SELECT 100 + (i::bigint * 7919) %% 59900 AS ms) d,
  LATERAL (SELECT (now() AT TIME ZONE 'UTC') - make_interval(secs => (i::float8 * %(days)s * {DAY_S}) / %(rows)s) AS at) e
"""
RUN = ('<process xmlns="http://www.infinica.com/process-engine" version="4"><startElement id="s"/>'
       '<assign id="a" name="x">1</assign><endElement id="e"/></process>')


def build(rows: int, expired: int, batch: int = 1_000_000) -> str:
    """The schema with `rows` records over 90 days, and `expired` more ended past the retention."""
    from alembic import command

    from engine.storage.database import alembic_config

    _fresh_schema(SCHEMA)
    url = _schema_url(SCHEMA, "pe-bench-history")
    command.upgrade(alembic_config(url), "head")
    with psycopg2.connect(_dsn(), options=f"-csearch_path={SCHEMA}") as conn, conn.cursor() as cursor:
        for first in range(1, rows + 1, batch):
            cursor.execute(LOAD, {"first": first, "last": min(first + batch - 1, rows), "rows": rows, "days": 29})
            conn.commit()
        # a role that may read one record in a thousand (10,000 of 10M), besides its members' own
        carried = ", ".join(RECORD_QUERY_COLUMNS)  # (each reader row carries its record's query fields)
        cursor.execute(f"INSERT INTO history_readers (execution_id, name, {carried}) SELECT p.execution_id, 'team3', "
                       f"{', '.join('p.' + c for c in RECORD_QUERY_COLUMNS)} FROM generate_series(3, %(rows)s, 1000) "
                       "AS i JOIN process_history p ON p.execution_id = md5(i::text)::uuid::text", {"rows": rows})
        conn.commit()
        if expired:  # ended 31-60 days ago: past history.ttl_days (30)
            cursor.execute(LOAD.replace("(now() AT TIME ZONE 'UTC')", "(now() AT TIME ZONE 'UTC' - interval '31 days')"),
                           {"first": rows + 1, "last": rows + expired, "rows": expired, "days": 29})
            conn.commit()
    vacuum(SCHEMA, "process_history")
    vacuum(SCHEMA, "history_readers")
    return url


def _p50(call: Callable[[], Any], repeat: int) -> float:
    call()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def _p(param: str, operation: str, *values: str) -> Param:
    return Param(param, operation, values)


def report(rows: int = 10_000_000, expired: int = 1_000_000, repeat: int = 9) -> str:
    started = time.monotonic()
    url = build(rows, expired)
    loaded = time.monotonic() - started
    lines = [f"History at scale: {rows:,} records on PostgreSQL (+{expired:,} expired), loaded in {loaded:.0f} s; "
             f"p50 of {repeat} calls through the engine's facade (goal <= 50 ms)"]
    with tempfile.TemporaryDirectory(prefix="pe-bench-history-") as temp:
        folder = Path(temp)
        (folder / "one.ipd").write_text(RUN)
        pe = ops.new_engine(load_settings({}).with_overrides(
            storage={"url": url}, repository={"path": str(folder)}, engine={"node_id": "bench-history-scale"},
            history={"ttl_days": 3650}, services=())).start()  # (the master's own retention rounds: later)
        try:
            day_ago = clock.format_timestamp(clock.now() - timedelta(days=1))
            shapes = {
                "externalId equals": Query(_p("externalId", "equals", "ext-004242424")),
                "endState FAILED, processUri, finishedAt desc, limit 50": Query(
                    And((_p("endState", "equals", "FAILED"), _p("processUri", "equals", "bench/p7.ipd"))),
                    (SortCriterion("finishedAt", False),), limit=50),
                "finishedAt last 24 h, owner, limit 100": Query(
                    And((_p("finishedAt", "greaterThan", day_ago), _p("owner", "equals", "user7"))), limit=100),
                "processUri, durationMs > 59 s, limit 50": Query(
                    And((_p("processUri", "equals", "bench/p3.ipd"), _p("durationMs", "greaterThan", "59000"))), limit=50),
                "everything, finishedAt desc, offset 5000, limit 50": Query(
                    sort=(SortCriterion("finishedAt", False),), offset=5000, limit=50),
            }
            for name, query in shapes.items():
                lines.append(f"  findHistory {name:<52} {_p50(lambda: ops.find_history(pe, ANONYMOUS_ADMIN, query), repeat):8.1f} ms")
            lines += readers(pe, repeat)
            month_ago = clock.now() - timedelta(days=30)
            statistics_of = (lambda: ops.get_history_statistics(pe, ANONYMOUS_ADMIN, 'bench/p5.ipd', from_time=month_ago))
            lines.append(f"  getHistoryStatistics one processUri, 30 days, every record read {'':<4} "
                         f"{_p50(statistics_of, 3):8.1f} ms")
            begun = time.monotonic()
            days = history.roll_up(pe, most=100)  # what the master does, a day a minute
            lines.append(f"  (the master's roll-up of {days} closed days: {(time.monotonic() - begun) / max(days, 1):.1f} s a day)")
            lines.append(f"  getHistoryStatistics one processUri, 30 days, days rolled up {'':<5} "
                         f"{_p50(statistics_of, repeat):8.1f} ms")
            lines += _retention(pe)
        finally:
            pe.stop()
    drop(SCHEMA)
    return "\n".join(lines)


# owns 1 record in 200 (i % 200 = 7: all of bench/p7.ipd); team3 may read 1 in 1,000 (i % 1000 = 3: of bench/p3.ipd)
READER = Principal("user7", frozenset({"team3"}))


def readers(pe: Any, repeat: int) -> list[str]:
    """A user who is no admin: their records and those granted to their role, read apart (each down its
    own index), against the one condition `owner = … OR EXISTS (reader …)` in the same run."""
    from engine.operations.history import _page, _records_matching
    from engine.model.history import HISTORY_FIELDS
    from engine.storage import history as rows

    queries = {"everything, finishedAt desc, limit 50": Query(sort=(SortCriterion("finishedAt", False),), limit=50),
               "endState FAILED, finishedAt desc, limit 50": Query(
                   _p("endState", "equals", "FAILED"), (SortCriterion("finishedAt", False),), limit=50),
               "everything, finishedAt desc, offset 500, limit 50": Query(
                   sort=(SortCriterion("finishedAt", False),), offset=500, limit=50)}
    lines = [f"  as a user who is no admin (1/200 theirs, 1/1000 granted)  {'apart':>9} {'OR':>9}"]
    for name, query in queries.items():
        def one_condition() -> None:
            with pe.db.unit_of_work(write=False) as uow:
                where = _records_matching(query) & _one_condition(READER)
                _page(pe, uow.conn, query, where, HISTORY_FIELDS, rows.HISTORY_COLUMNS, rows.find_records,
                      rows.count_records)
        apart, joined = [], []
        for _ in range(repeat):  # the two take turns
            apart.append(_p50(lambda: ops.find_history(pe, READER, query), 1))
            joined.append(_p50(one_condition, 1))
        a, j = statistics.median(apart), statistics.median(joined)
        lines.append(f"    findHistory {name:<48} {a:8.1f} ms {j:8.1f} ms  {a / j:5.2f}x")
    month_ago = clock.now() - timedelta(days=30)
    for name, process_uri in (("theirs (1/200)", "bench/p7.ipd"), ("granted them (1/1000)", "bench/p3.ipd")):
        statistics_of = (lambda: ops.get_history_statistics(pe, READER, process_uri, from_time=month_ago))
        lines.append(f"    getHistoryStatistics 30 days, processUri {name:<21} {_p50(statistics_of, repeat):8.1f} ms")
    return lines


def _one_condition(reader: Principal) -> Any:
    """The records `reader` may read as one condition, `owner = … OR executionId IN (granted …)`: what
    the engine reads apart, to compare with."""
    from sqlalchemy import or_, select

    from engine.storage.tables import history_readers, process_history

    granted = select(history_readers.c.execution_id).where(history_readers.c.name.in_(sorted(reader.names)))
    return or_(process_history.c.owner == reader.name, process_history.c.execution_id.in_(granted))


def _latencies(pe: Any, runs: int) -> list[float]:
    took = []
    for _ in range(runs):
        begun = time.perf_counter()
        ops.run(pe, ANONYMOUS_ADMIN, "one.ipd")
        took.append(time.perf_counter() - begun)
    return took


def _p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100)[98] * 1000


def _retention(pe: Any, window_s: float = 5.0, most_s: float = 600.0) -> list[str]:
    """`run` p99 during a retention run paced as the master paces it (`history.Retention`), against the
    same without it: windows of `window_s` with retention and without take turns (no batch running
    into a quiet window) until it has deleted every expired row, or for `most_s`."""
    # the master's retention, with the retention's settings: its batches, its rests
    retention = history.Retention(SimpleNamespace(db=pe.db, settings=SimpleNamespace(history=HistorySettings(ttl_days=30))))
    active, done, batch = threading.Event(), threading.Event(), threading.Lock()

    def paced() -> None:  # as the master's retention thread goes, while its windows last
        while not done.is_set():
            if not active.wait(0.05):
                continue
            with batch:
                rest = retention.step()
            if not retention.more:
                break
            done.wait(rest)
        done.set()

    begun = time.monotonic()
    purging = threading.Thread(target=paced)
    purging.start()
    quiet: list[float] = []
    busy: list[float] = []
    try:
        while not done.is_set() and time.monotonic() - begun < most_s:
            for runs, on in ((busy, True), (quiet, False)):
                if on:
                    active.set()
                else:
                    active.clear()
                    with batch:  # the batch under way ends first
                        pass
                window_ends = time.monotonic() + window_s
                # (a quiet window lasts its time even once retention is done: every busy one has its turn)
                while time.monotonic() < window_ends and not (on and done.is_set()):
                    runs += _latencies(pe, 20)
    finally:
        done.set()
        purging.join()
    finished = "every expired row" if not retention.more else f"{retention.deleted:,} rows (stopped after {most_s:.0f} s)"
    return [f"  run p99 without retention {_p99(quiet):7.2f} ms ({len(quiet)} runs), during a retention run "
            f"{_p99(busy):7.2f} ms ({len(busy)} runs): {_p99(busy) / _p99(quiet):.2f}x (goal < 2x); windows of "
            f"{window_s:.0f} s taking turns; it deleted {finished} in {time.monotonic() - begun:.0f} s, resting "
            f"{1 / retention.share - 1:.0f}x as long as each batch took"]


if __name__ == "__main__":
    print(report(*(int(a) for a in sys.argv[1:3])))
