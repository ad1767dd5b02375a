"""The history's operations (CONTRACT §12, beyond the spec): process records, the operation log, and
statistics. Admins see everything; others see the records of processes they could read (their own, or
one an ACE let them read) and their own calls in the log."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from functools import partial
from typing import Any, Callable, Iterable, Sequence

from ..errors import InvalidParameter, NotFound
from ..model.datastore import DataStore
from ..model.history import (HISTORY_FIELDS, OPERATION_FIELDS, ElementStatistics, ElementVisit, HealthChange,
                             HistoryLevel, HistoryList, OperationEntry, OperationList, Outcome, ProcessHistory,
                             ProcessStatistics)
from ..model.query import Fields, Query, check, order_of, page
from ..runtime.history import Tally, catch_up, keeps, start_of
from ..runtime.node import ProcessEngine
from ..security.authorization import Principal
from ..storage import codec, history as rows, selection as sql
from ..storage.database import Connection
from ..support import clock, jsontext
from ..support.clock import parse_timestamp

OPERATIONS_SHOWN = 1000  # getHistory: the calls on one process it lists at most


def find_history(pe: ProcessEngine, principal: Principal, query: Query | None = None) -> HistoryList:
    """One page of the records the query matches that the caller may read, with the total before paging
    (exact up to `query.count_limit`, a lower bound past it)."""
    catch_up(pe)
    query = query or Query()
    reader = _reader(principal)
    with pe.db.unit_of_work(write=False) as uow:
        found, total, lower_bound = _page(pe, uow.conn, query, _records_matching(query), HISTORY_FIELDS,
                                          rows.HISTORY_COLUMNS, partial(rows.find_records, reader=reader),
                                          partial(rows.count_records, reader=reader))
        changes = rows.health_changes_of(uow.conn, [row.execution_id for row in found])
    return HistoryList(tuple(_record(row, changes.get(row.execution_id, ())) for row in found), total, lower_bound)


def count_history(pe: ProcessEngine, principal: Principal, query: Query | None = None) -> int:
    """The exact number of records the query matches that the caller may read."""
    catch_up(pe)
    where = _records_matching(query or Query())
    with pe.db.unit_of_work(write=False) as uow:
        return rows.count_records(uow.conn, where, reader=_reader(principal))


def get_history(pe: ProcessEngine, principal: Principal, execution_id: str) -> ProcessHistory:
    """One process's record, with the elements it passed and the calls made on it."""
    catch_up(pe)
    with pe.db.unit_of_work(write=False) as uow:
        row = rows.get_record(uow.conn, execution_id)
        if row is None or not _may_read(uow.conn, principal, row):
            raise NotFound("history of execution", execution_id)  # (not telling a stranger it exists)
        trails = rows.trails_of(uow.conn, execution_id)
        calls = rows.operations_on(uow.conn, execution_id, OPERATIONS_SHOWN)
        changes = rows.health_changes_of(uow.conn, [execution_id]).get(execution_id, ())
    record = _record(row, changes)
    return ProcessHistory(**{**record.__dict__, "elements": _visits(trails),
                             "operations": tuple(_operation(c) for c in calls)})


def find_operations(pe: ProcessEngine, principal: Principal, query: Query | None = None) -> OperationList:
    """One page of the operation log the query matches: every call for admins, one's own for others."""
    catch_up(pe)
    query = query or Query()
    where = sql.condition(check(query.tree, fields=OPERATION_FIELDS), rows.OPERATION_COLUMNS)
    if not principal.is_admin:
        where = where & (rows.OPERATION_COLUMNS["user"] == principal.name)
    with pe.db.unit_of_work(write=False) as uow:
        found, total, lower_bound = _page(pe, uow.conn, query, where, OPERATION_FIELDS, rows.OPERATION_COLUMNS,
                                          rows.find_operations, rows.count_operations)
    return OperationList(tuple(_operation(row) for row in found), total, lower_bound)


def get_history_statistics(pe: ProcessEngine, principal: Principal, process_uri: str | None = None, *,
                           from_time: datetime | str | None = None,
                           to_time: datetime | str | None = None) -> tuple[ProcessStatistics, ...]:
    """Per processUri, the processes that ended in [from, to): how many, by end state, the failure
    rate, and durations (p50, p95, max); at level `activity`, the same per element.

    For an admin, the closed days inside the window that the master rolled up are read from their
    sums, and only the records at the window's edges: counts and max stay exact, p50 and p95 come
    from 1 % buckets (`support.durations`: exact below 100 ms, within 1 % above). Otherwise, and for
    a window without a rolled-up day, every record is read and the percentiles are exact."""
    catch_up(pe)
    start, end = _moment(from_time, "from"), _moment(to_time, "to")
    if start is not None and end is not None and end <= start:
        raise InvalidParameter("to", "the window ends before it starts")
    reader = _reader(principal)
    per_element = keeps(pe, HistoryLevel.ACTIVITY)
    with pe.db.unit_of_work(write=False) as uow:
        days = _rolled_run(uow.conn, start, end) if reader is None else None
        summaries = _summed(_tallies(uow.conn, process_uri, start, end, days, per_element)) if days \
            else _counted(uow.conn, process_uri, start, end, reader, per_element)
    found = []
    for uri, counts, p50, p95, longest, elements in summaries:
        total = sum(counts.values())
        found.append(ProcessStatistics(uri, total, tuple(sorted(counts.items())),
                                       counts.get("FAILED", 0) / total if total else 0.0, p50, p95, longest, elements))
    return tuple(found)


# uri, counts by end state, p50, p95, max, per element
_Summary = tuple[str, dict[str, int], "int | None", "int | None", "int | None", tuple[ElementStatistics, ...]]


def _counted(conn: Connection, process_uri: str | None, start: datetime | None, end: datetime | None,
             reader: rows.Reader | None, per_element: bool) -> list[_Summary]:
    """Every record in the window read in SQL: exact percentiles."""
    by_uri: dict[str, list[Any]] = {}
    for row in rows.end_counts(conn, process_uri, start, end, reader):
        by_uri.setdefault(row.process_uri, []).append(row)
    found = []
    for uri in sorted(by_uri):
        counts = {row.end_state: row[2] for row in by_uri[uri]}
        p50, p95 = rows.duration_percentiles(conn, uri, start, end, reader, sum(counts.values()), (50, 95))
        trails = rows.trails_ended_between(conn, uri, start, end, reader) if per_element else ()
        found.append((uri, counts, p50, p95, max(row[3] for row in by_uri[uri]),
                      _element_statistics(visits for _, visits in trails)))
    return found


def _rolled_run(conn: Connection, start: datetime | None, end: datetime | None) -> tuple[date, date] | None:
    """The longest run of consecutive rolled-up days wholly inside [start, end), if any."""
    first = (start.astimezone(timezone.utc) + timedelta(days=1, microseconds=-1)).date() if start else date(1970, 1, 1)
    last = (end.astimezone(timezone.utc).date() if end else clock.now().date()) - timedelta(days=1)
    if last < first:
        return None
    best: tuple[date, date] | None = None
    run_start: date | None = None
    previous: date | None = None
    for day in sorted(rows.rolled_days(conn, first, last)):
        run_start = run_start if previous is not None and day == previous + timedelta(days=1) else day
        if best is None or (day - run_start) > (best[1] - best[0]):
            best = (run_start, day)
        previous = day
    return best


def _tallies(conn: Connection, process_uri: str | None, start: datetime | None, end: datetime | None,
             days: tuple[date, date], per_element: bool) -> dict[str, Tally]:
    """The rolled-up days' sums, and the records (and trails) before and after them in the window, per
    processUri."""
    tallies: dict[str, Tally] = {}
    for row in rows.days_of(conn, process_uri, *days):
        (tallies.get(row.process_uri) or tallies.setdefault(row.process_uri, Tally())).add_day(row)
    for edge_start, edge_end in ((start, start_of(days[0])), (start_of(days[1] + timedelta(days=1)), end)):
        if edge_start is None or edge_end is None or edge_start < edge_end:
            for uri, end_state, duration_ms in rows.ended_rows(conn, process_uri, edge_start, edge_end):
                (tallies.get(uri) or tallies.setdefault(uri, Tally())).add(end_state, duration_ms)
            for uri, visits in rows.trails_ended_between(conn, process_uri, edge_start, edge_end, None) \
                    if per_element else ():
                tallies[uri].add_trail(visits)
    return tallies


def _summed(tallies: dict[str, Tally]) -> list[_Summary]:
    return [(uri, dict(t.counts), t.durations.percentile(50), t.durations.percentile(95), t.longest,
             tuple(ElementStatistics(element_id, e.count, e.failed, e.durations.percentile(50),
                                     e.durations.percentile(95), e.longest) for element_id, e in sorted(t.elements.items())))
            for uri, t in sorted(tallies.items())]


# -- reading --------------------------------------------------------------------------------------
def _page(pe: ProcessEngine, conn: Connection, query: Query, where: Any, fields: Fields, columns: Any,
          find: Callable[..., list[Any]], count: Callable[..., int]) -> tuple[list[Any], int, bool]:
    """The page of rows the query's sort, offset and limit pick, and the total before paging (exact up
    to `query.count_limit`, a lower bound past it: CONTRACT §5)."""
    offset, limit = page(query, pe.settings.query.default_limit, pe.settings.query.max_limit)
    order = sql.order(order_of(query.sort, fields), columns)
    cap = pe.settings.query.count_limit
    found = find(conn, where, order, offset, limit)
    counted = count(conn, where, up_to=cap)
    return found, min(counted, cap), counted > cap


def _records_matching(query: Query) -> Any:
    order_of(query.sort, HISTORY_FIELDS)  # refused alike by every operation that takes the query
    return sql.condition(check(query.tree, fields=HISTORY_FIELDS), rows.HISTORY_COLUMNS)


def _reader(principal: Principal) -> rows.Reader | None:
    """Whose records a caller may read: everyone's for an admin (None)."""
    return None if principal.is_admin else rows.Reader(principal.name, principal.names)


def _may_read(conn: Connection, principal: Principal, row: Any) -> bool:
    return principal.is_admin or row.owner == principal.name \
        or bool(set(rows.readers_of(conn, row.execution_id)) & set(principal.names))


def _record(row: Any, changes: Sequence[Any]) -> ProcessHistory:
    """The record `row` with its health `changes`: its nodes are those that ran it last and those that
    had run it by each change (a node that lost it, say)."""
    nodes = dict.fromkeys(n for change in changes for n in jsontext.loads(change.nodes))
    nodes.update(dict.fromkeys(jsontext.loads(row.nodes)))
    pipeline: DataStore | None = codec.decode_store(row.pipeline) if row.pipeline else None
    return ProcessHistory(
        execution_id=row.execution_id, external_id=row.external_id, process_uri=row.process_uri,
        definition_version=row.definition_version, owner=row.owner, parent_execution_id=row.parent_execution_id,
        created_at=row.created_at, started_at=row.started_at, finished_at=row.finished_at,
        duration_ms=row.duration_ms, end_state=row.end_state, message=row.message, exception_type=row.exception_type,
        exception_source=row.exception_source, nodes=tuple(nodes),
        health_changes=tuple(HealthChange(c.at, c.health, c.node, c.message) for c in changes),
        pipeline=pipeline)


def _visits(trails: Sequence[Any]) -> tuple[ElementVisit, ...]:
    """The elements of a process's trails (a row a save), in the order it entered them."""
    visits = sorted((visit, trail.node) for trail in trails for visit in jsontext.loads(trail.visits))
    return tuple(ElementVisit(element_id, parse_timestamp(entered), parse_timestamp(left), node, outcome, iteration,
                              codec.decode_store(data) if data else None)
                 for (_, element_id, entered, left, outcome, iteration, data), node in visits)


def _operation(row: Any) -> OperationEntry:
    return OperationEntry(row.at, row.user_name, row.operation, row.target_kind, row.target, Outcome(row.outcome),
                          tuple((name, value) for name, value in jsontext.loads(row.parameters)), row.node, row.message)


def _moment(value: datetime | str | None, name: str) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    try:
        return parse_timestamp(value)
    except (ValueError, OverflowError):
        raise InvalidParameter(name, f"{value!r} is not an ISO 8601 timestamp") from None


def _element_statistics(trails: Iterable[str]) -> tuple[ElementStatistics, ...]:
    """Per element, from the processes' trails (their `visits`): how often passed and failed, durations."""
    by_element: dict[str, list[Any]] = {}
    for visits in trails:
        for visit in jsontext.loads(visits):
            by_element.setdefault(visit[1], []).append(visit)
    found = []
    for element_id in sorted(by_element):
        passed = by_element[element_id]
        durations = sorted(int((parse_timestamp(v[3]) - parse_timestamp(v[2])).total_seconds() * 1000) for v in passed)
        found.append(ElementStatistics(element_id, len(passed), sum(1 for v in passed if v[4] == "failed"),
                                       _percentile(durations, 50), _percentile(durations, 95),
                                       durations[-1] if durations else None))
    return tuple(found)


def _percentile(ordered: Sequence[int], percent: int) -> int | None:
    """The nearest-rank percentile of ordered values."""
    if not ordered:
        return None
    rank = max(1, -(-percent * len(ordered) // 100))  # ceil(p/100 · n)
    return ordered[rank - 1]

