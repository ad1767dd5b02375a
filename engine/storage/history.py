"""The history's rows (CONTRACT §12): process records, the elements they passed, the operation log.
Each function takes a connection and never commits: a record is written in the transaction of the
change it records."""
from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass
from datetime import date, datetime
from operator import itemgetter
from typing import Any, Callable, Iterable, Sequence

from sqlalchemy import (Column, Integer, Select, Table, and_, bindparam, delete, exists, func, insert, literal_column,
                        or_, select, union_all)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection
from sqlalchemy.sql import ColumnElement
from sqlalchemy.sql.visitors import replacement_traverse

from ..model.states import END_STATES
from .prepared import Prepared, Statement, cursor_of, execute_in
from .tables import (CARRIED_CALL, RECORD_QUERY_COLUMNS, history_days, history_health_changes, history_readers,
                     history_readers_staged, history_trails, operation_log, operation_log_staged, process_history,
                     process_history_staged)

_END_STATES = tuple(state.value for state in END_STATES)

HISTORY_COLUMNS = {  # the query fields of a process record (engine.model.history: HISTORY fields)
    "executionId": process_history.c.execution_id, "externalId": process_history.c.external_id,
    "processUri": process_history.c.process_uri, "definitionVersion": process_history.c.definition_version,
    "owner": process_history.c.owner, "parentExecutionId": process_history.c.parent_execution_id,
    "createdAt": process_history.c.created_at, "startedAt": process_history.c.started_at,
    "finishedAt": process_history.c.finished_at, "durationMs": process_history.c.duration_ms,
    "endState": process_history.c.end_state, "exceptionType": process_history.c.exception_type,
}
OPERATION_COLUMNS = {  # the query fields of the operation log
    "at": operation_log.c.at, "user": operation_log.c.user_name, "operation": operation_log.c.operation,
    "targetKind": operation_log.c.target_kind, "target": operation_log.c.target, "outcome": operation_log.c.outcome,
    "node": operation_log.c.node, "id": operation_log.c.id,
}


def _whole_row(table: Any, generated: str = "stage_id", but: str | None = None) -> Prepared:
    """An INSERT of a whole row into `table` but its `generated` key (and the columns whose names start
    with `but`): written at every end, save or call, compiled once."""
    return Prepared(lambda _: insert(table).values({c.name: bindparam(c.name, type_=c.type) for c in table.c
                                                    if c.name != generated and not (but and c.name.startswith(but))}))


# Written at the end of every process (and every call): staged, compiled once, sent to the driver.
_RECORD, _RECORD_AND_CALL = _whole_row(process_history_staged, but=CARRIED_CALL), _whole_row(process_history_staged)
_READERS, _OPERATION = _whole_row(history_readers_staged), _whole_row(operation_log_staged)
_TRAIL = _whole_row(history_trails, "id")
# Each staged table, the table it moves to, the key a row moved twice meets there (None: none), and
# whether its rows may carry a call for the operation log
_STAGED = ((process_history_staged, process_history, ("execution_id",), True),
           (history_readers_staged, history_readers, ("execution_id", "name"), False),
           (operation_log_staged, operation_log, None, False))
_CALL_COLUMNS = [c.name for c in operation_log.c if c.name != "id"]  # what a staged record may carry
_CARRIED_AS = [(f"{CARRIED_CALL}{name}", name) for name in _CALL_COLUMNS]  # (its columns there, and the log's)
_CARRIED, _CALL_VALUES = [column for column, _ in _CARRIED_AS], itemgetter(*_CALL_COLUMNS)


def record_statements(dialect: Any, values: dict[str, Any], readers: Iterable[str] = (),
                      call: dict[str, Any] | None = None) -> list[Statement]:
    """The statements that stage a process's record whole (its end), and the names that may read it:
    for `execute_in` or `Database.execute_together`. `call`: an operation-log row (its columns by
    name) that the record carries, staged with it."""
    if call is None:
        statements = [_RECORD.statement(dialect, values)]
    else:
        statements = [_RECORD_AND_CALL.statement(dialect, {**values, **dict(zip(_CARRIED, _CALL_VALUES(call)))})]
    names = sorted(set(readers))
    if names:
        carried = {key: values[key] for key in ("execution_id", *RECORD_QUERY_COLUMNS)}
        statements.append(_READERS.statement_many(dialect, [{**carried, "name": n} for n in names]))
    return statements


def _calls_into_log(records: Any) -> Any:
    """The INSERT into the operation log of the calls that staged `records` (a selectable of staged
    records) carry."""
    carried = {name: records.c[column] for column, name in _CARRIED_AS}
    return insert(operation_log).from_select(_CALL_COLUMNS, select(*carried.values()).where(
        carried["operation"].is_not(None)))


def _taking(staged: Table, target: Table, key: tuple[str, ...] | None, calls: bool) -> Prepared:
    """PostgreSQL: the move of a batch of `staged`'s oldest rows as one statement that counts them."""
    names = [c.name for c in target.c if c.name != "id"]
    oldest = select(staged.c.stage_id).order_by(staged.c.stage_id).limit(bindparam("batch", type_=Integer))

    def build(_: Any) -> Any:
        taken = delete(staged).where(staged.c.stage_id.in_(oldest.scalar_subquery())).returning(
            *(c for c in staged.c if c.name != "stage_id")).cte("taken")
        moving = pg_insert(target).from_select(names, select(*(taken.c[n] for n in names)))
        if key:
            moving = moving.on_conflict_do_nothing(index_elements=list(key))
        counted = select(func.count()).select_from(taken).add_cte(moving.cte("moving"))
        return counted.add_cte(_calls_into_log(taken).cte("logging")) if calls else counted
    return Prepared(build)


def _copying(staged: Table, target: Table, key: tuple[str, ...] | None, calls: bool) -> tuple[Prepared, ...]:
    """SQLite: the statements that move `staged`'s rows up to `last` (a stage ID): the last of the
    batch's, the copy (and the calls the rows carry), and the deletion of what was copied."""
    names = [c.name for c in target.c if c.name != "id"]
    last = bindparam("last", type_=Integer)
    oldest = select(staged.c.stage_id).order_by(staged.c.stage_id).limit(bindparam("batch", type_=Integer))
    copy = sqlite_insert(target).from_select(names, select(*(staged.c[n] for n in names)).where(staged.c.stage_id <= last))
    statements = [select(func.max(oldest.subquery().c.stage_id)),
                  copy.on_conflict_do_nothing(index_elements=list(key)) if key else copy]
    if calls:
        statements.append(_calls_into_log(select(staged).where(staged.c.stage_id <= last).subquery()))
    statements.append(delete(staged).where(staged.c.stage_id <= last))
    return tuple(Prepared(lambda _, statement=statement: statement) for statement in statements)


# Compiled once each: the background move runs every second on every node, and before every history
# query, with the write lock held (SQLite): building and compiling its statements cost more than
# moving a second's rows.
_TAKING = [_taking(*staged) for staged in _STAGED]
_COPYING = [_copying(*staged) for staged in _STAGED]
_LAST_STAGED = Prepared(lambda _: select(*(select(func.max(staged.c.stage_id)).scalar_subquery()
                                            for staged, *_ in _STAGED)))
_STAGED_BEFORE = Prepared(lambda _: select(or_(*(
    exists(select(staged.c.stage_id).where(staged.c.stage_id <= bindparam(f"last_{i}", type_=Integer)))
    for i, (staged, *_) in enumerate(_STAGED)))))


def move_staged(conn: Connection, batch: int) -> int:
    """Move up to `batch` staged rows of each kind to their tables, oldest first (and the calls staged
    records carry, to the operation log): how many moved. An end recorded twice keeps its first record.
    Concurrent movers never move a row twice: on PostgreSQL each takes its rows in one DELETE …
    RETURNING (a second waits for the first's rows, then finds them gone); SQLite writes one
    transaction at a time."""
    dialect = conn.dialect
    with cursor_of(conn) as cursor:
        if dialect.name == "postgresql":
            return sum(_scalar(cursor, *taking(dialect, {"batch": batch})) for taking in _TAKING)
        moved = 0
        for last_of, *copies, deleting in _COPYING:
            last = _scalar(cursor, *last_of(dialect, {"batch": batch}))
            if last is not None:
                for copy in copies:
                    cursor.execute(*copy(dialect, {"last": last}))
                cursor.execute(*deleting(dialect, {"last": last}))
                moved += cursor.rowcount
        return moved


def _scalar(cursor: Any, sql: str, params: Any) -> Any:
    cursor.execute(sql, params)
    return cursor.fetchone()[0]


def staged_up_to(conn: Connection) -> tuple[Any, ...] | None:
    """The last stage ID of each kind of staged row (None for a kind with none), or None if nothing is
    staged: what a move that must take everything staged by now takes (`staged_before`)."""
    last = tuple(_LAST_STAGED.first_row(conn, {}))
    return last if any(stage_id is not None for stage_id in last) else None


def staged_before(conn: Connection, last: tuple[Any, ...]) -> bool:
    """Whether any row staged up to `last` (`staged_up_to`) is still staged."""
    return bool(_STAGED_BEFORE.first_row(conn, {f"last_{i}": stage_id or 0 for i, stage_id in enumerate(last)})[0])


def add_health_change(conn: Connection, row: dict[str, Any]) -> None:
    conn.execute(insert(history_health_changes).values(row))


def health_changes_of(conn: Connection, execution_ids: Sequence[str]) -> dict[str, list[Any]]:
    """The health changes of these processes, each one's in the order they were made."""
    found: dict[str, list[Any]] = {}
    if execution_ids:
        h = history_health_changes.c
        for row in conn.execute(select(history_health_changes).where(h.execution_id.in_(list(execution_ids)))
                                .order_by(h.execution_id, h.id)):
            found.setdefault(row.execution_id, []).append(row)
    return found


def get_record(conn: Connection, execution_id: str) -> Any:
    return conn.execute(select(process_history).where(process_history.c.execution_id == execution_id)).first()


def readers_of(conn: Connection, execution_id: str) -> list[str]:
    return list(conn.execute(select(history_readers.c.name).where(history_readers.c.execution_id == execution_id))
                .scalars())


@dataclass(frozen=True)
class Reader:
    """Someone who is no admin: the records they may read are theirs, or granted to one of `names`."""
    owner: str
    names: frozenset[str]

    def own(self) -> ColumnElement:
        return process_history.c.owner == self.owner

    def granted(self, where: ColumnElement, name: str | None = None) -> Select:
        """The IDs of the records granted to `name` (to any of theirs: each once) that are not their own
        and that `where` selects, read on the readers' copies of the records' query fields."""
        r = history_readers.c
        granted = select(r.execution_id).where(r.name == name if name is not None else r.name.in_(sorted(self.names)),
                                               r.owner != self.owner, _on_readers(where))
        return granted if name is not None else granted.distinct()


def _on_readers(clause: ColumnElement) -> ColumnElement:
    """`clause` (a condition or a sort key over the records' query fields) over the readers' copies."""
    def swap(element: Any) -> Any:
        return history_readers.c[element.name] if isinstance(element, Column) and element.table is process_history \
            else None
    return replacement_traverse(clause, {}, swap)


def find_records(conn: Connection, where: ColumnElement, order: Sequence[ColumnElement], offset: int,
                 limit: int, reader: Reader | None = None) -> list[Any]:
    """The page, picked by ID first: an index that holds the filtered and sorted fields (and the ID)
    picks it alone, and only the page's rows are read — not every match, before the sort.

    For a `reader` (not an admin), the records they own, and those granted to each of their names, are
    read apart, each as far as the page reaches (offset + limit) down an index of its own — the owner's;
    the readers' by name, sorted by default or by the end —, and the page is picked from them:
    `owner = … OR EXISTS (…)` is served by no index, and walked every record of the sort's index in
    turn (issue 17, at 10M records)."""
    if reader is None:
        ids = select(process_history.c.execution_id).where(where).order_by(*order).offset(offset).limit(limit)
        return list(conn.execute(select(process_history).where(
            process_history.c.execution_id.in_(ids.correlate(None).scalar_subquery())).order_by(*order)))
    reach = offset + limit
    branches = [select(process_history.c.execution_id).where(where, reader.own()).order_by(*order).limit(reach)]
    # (a record granted to two of their names comes twice: the page's IN takes it once)
    branches += [reader.granted(where, name).order_by(*(_on_readers(key) for key in order)).limit(reach)
                 for name in sorted(reader.names)]
    subqueries = [branch.subquery() for branch in branches]
    ids = union_all(*(select(sub.c.execution_id) for sub in subqueries))
    return list(conn.execute(select(process_history).where(process_history.c.execution_id.in_(ids.scalar_subquery()))
                             .order_by(*order).offset(offset).limit(limit)))


def count_records(conn: Connection, where: ColumnElement, up_to: int | None = None, reader: Reader | None = None) -> int:
    """How many records `where` selects (that `reader` may read), `up_to` + 1 at most: the reader's own
    first, then the granted ones only as many as are still wanted."""
    if reader is None:
        return _count(conn, select(literal_column("1")).select_from(process_history).where(where), up_to)
    counted = _count(conn, select(literal_column("1")).select_from(process_history).where(where, reader.own()), up_to)
    if up_to is not None and counted > up_to:
        return counted
    return counted + _count(conn, reader.granted(where), None if up_to is None else up_to - counted)


def _count(conn: Connection, selected: Any, up_to: int | None) -> int:
    """How many rows `selected` (which names no column: an index may count alone) gives, `up_to` + 1 at most."""
    if up_to is not None:
        selected = selected.limit(up_to + 1)
    return int(conn.execute(select(func.count()).select_from(selected.subquery())).scalar_one())


def trail_statement(dialect: Any, row: dict[str, Any]) -> Statement:
    """The INSERT of one save's trail row, for `execute_in` or `Database.execute_together`."""
    return _TRAIL.statement(dialect, row)


def trails_of(conn: Connection, execution_id: str) -> list[Any]:
    return list(conn.execute(select(history_trails).where(history_trails.c.execution_id == execution_id)
                             .order_by(history_trails.c.id)))


def add_operations(conn: Connection, rows: list[dict[str, Any]]) -> None:
    _OPERATION.execute_many(conn, rows)


class PendingOperation:
    """The operation-log row of the call this thread is making, until a transaction of the call writes
    it: the first write transaction the call commits carries it (`flush_pending`), so the log says
    what was committed, in the same commit."""

    def __init__(self, row: dict[str, Any] | None = None, ready: bool = True,
                 build: Callable[[], dict[str, Any]] | None = None) -> None:
        self._row, self._build, self.written = row, build, False
        self.ready = ready  # False until the call knows its target (what it creates): written no sooner
        self.each: list[str] = []  # a bulk call's executions: a row on each too, so each one's history shows it

    @property
    def row(self) -> dict[str, Any]:
        """The row (`build` makes it when first asked: for a read, which seldom writes it)."""
        if self._row is None:
            self._row = self._build()  # type: ignore[misc]
        return self._row

    def rows(self) -> list[dict[str, Any]]:
        return [self.row, *({**self.row, "target_kind": "execution", "target": e} for e in self.each)]


PENDING: ContextVar[PendingOperation | None] = ContextVar("pending_operation", default=None)


def pending_operation() -> PendingOperation | None:
    """The calling thread's operation-log row that a transaction has yet to write (None: there is none,
    or it cannot be written yet)."""
    pending = PENDING.get()
    return None if pending is None or pending.written or not pending.ready else pending


def operation_statement(dialect: Any, pending: PendingOperation) -> Statement:
    """The statement that stages `pending`'s rows, for `execute_in` or `Database.execute_together`."""
    return _OPERATION.statement_many(dialect, pending.rows())


def flush_pending(conn: Connection) -> PendingOperation | None:
    """Write the calling thread's pending operation-log row, if any, into this transaction; the caller
    marks it written once the transaction commits."""
    pending = pending_operation()
    if pending is not None:
        execute_in(conn, [operation_statement(conn.dialect, pending)])
    return pending


def find_operations(conn: Connection, where: ColumnElement, order: Sequence[ColumnElement], offset: int,
                    limit: int) -> list[Any]:
    return list(conn.execute(select(operation_log).where(where).order_by(*order).offset(offset).limit(limit)))


def count_operations(conn: Connection, where: ColumnElement, up_to: int | None = None) -> int:
    return _count(conn, select(literal_column("1")).select_from(operation_log).where(where), up_to)


def operations_on(conn: Connection, execution_id: str, limit: int) -> list[Any]:
    return list(conn.execute(select(operation_log).where(operation_log.c.target == execution_id,
                                                         operation_log.c.target_kind == "execution")
                             .order_by(operation_log.c.at, operation_log.c.id).limit(limit)))


def _ended(process_uri: str | None, start: datetime | None, end: datetime | None, reader: Reader | None) -> Any:
    """(execution_id, process_uri, end_state, duration_ms) of the records that ended in [start, end)
    that `reader` may read (None: every one). A reader's own records and those granted to their
    names are read apart, down the owner's index and the readers' by name: `owner = … OR …` over a
    processUri's records read every one of them (1.3 s for 50,000 of a user's among 500,000)."""
    def ended(table: Any, *visible: ColumnElement) -> Select:  # (the records, or their readers' copies)
        t = table.c
        # Every end state named: the index of (processUri, endState, finishedAt, …) then serves the
        # window (a range per end state), not only the processUri.
        window = [t.end_state.in_(_END_STATES), *([t.process_uri == process_uri] if process_uri is not None else []),
                  *([t.finished_at >= start] if start is not None else []), *([t.finished_at < end] if end is not None else [])]
        return select(t.execution_id, t.process_uri, t.end_state, t.duration_ms).where(*window, *visible)
    if reader is None:
        return ended(process_history).subquery("ended")
    r = history_readers.c
    granted = ended(history_readers, r.name.in_(sorted(reader.names)), r.owner != reader.owner).distinct()
    return union_all(ended(process_history, reader.own()), granted).subquery("ended")


def end_counts(conn: Connection, process_uri: str | None, start: datetime | None, end: datetime | None,
               reader: Reader | None) -> list[Any]:
    """(process_uri, end_state, count, longest duration) of the records that ended in [start, end)."""
    e = _ended(process_uri, start, end, reader).c
    return list(conn.execute(select(e.process_uri, e.end_state, func.count(), func.max(e.duration_ms))
                             .group_by(e.process_uri, e.end_state)))


def duration_percentiles(conn: Connection, process_uri: str, start: datetime | None, end: datetime | None,
                         reader: Reader | None, counted: int, percents: Sequence[int]) -> list[int | None]:
    """The nearest-rank percentiles of the durations of `process_uri`'s `counted` records that ended in
    [start, end): on PostgreSQL in one aggregate, elsewhere the value at each rank."""
    duration = _ended(process_uri, start, end, reader).c.duration_ms
    if conn.dialect.name == "postgresql":
        row = conn.execute(select(*(func.percentile_disc(p / 100).within_group(duration) for p in percents))).one()
        return [int(v) if v is not None else None for v in row]
    found = []
    for percent in percents:
        rank = max(1, -(-percent * counted // 100))
        found.append(conn.execute(select(duration).order_by(duration).offset(rank - 1).limit(1)).scalar())
    return found


def ended_rows(conn: Connection, process_uri: str | None, start: datetime | None, end: datetime | None) -> Any:
    """(process_uri, end_state, duration_ms) of each record that ended in [start, end)."""
    e = _ended(process_uri, start, end, None).c
    return conn.execute(select(e.process_uri, e.end_state, e.duration_ms))


def oldest_end(conn: Connection) -> datetime | None:
    """When the oldest record's process ended (the first entry of the finishedAt index)."""
    return conn.execute(select(func.min(process_history.c.finished_at))).scalar()


def rolled_days(conn: Connection, first: date, last: date) -> set[date]:
    """The days in [first, last] that are rolled up (`history_days`)."""
    day = history_days.c.day
    return set(conn.execute(select(day).where(day >= first, day <= last).distinct()).scalars())


def put_days(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Write rolled-up days; a day rolled up meanwhile (by a master a moment ago) stays as it is."""
    conn.execute((pg_insert if conn.dialect.name == "postgresql" else sqlite_insert)(history_days)
                 .on_conflict_do_nothing(), rows)


def days_of(conn: Connection, process_uri: str | None, first: date, last: date) -> list[Any]:
    """The rolled-up days in [first, last], of `process_uri` or of every processUri."""
    d = history_days.c
    where = and_(d.day >= first, d.day <= last, *([d.process_uri == process_uri] if process_uri is not None else []))
    return list(conn.execute(select(history_days).where(where)))


def trails_ended_between(conn: Connection, process_uri: str | None, start: datetime | None, end: datetime | None,
                         reader: Reader | None) -> Any:
    """(process_uri, visits) of the trails of the processes (of `process_uri`) that ended in [start, end)."""
    ended = _ended(process_uri, start, end, reader)
    return conn.execute(select(ended.c.process_uri, history_trails.c.visits).select_from(
        history_trails.join(ended, history_trails.c.execution_id == ended.c.execution_id)))


def purge(conn: Connection, before: datetime, batch: int) -> tuple[int, bool]:
    """Delete up to `batch` of each kind of row from before `before` (records of processes that ended
    then): how many went, and whether there may be more."""
    gone, more = 0, False
    for table, key, old in ((process_history, process_history.c.execution_id, process_history.c.finished_at < before),
                            (history_trails, history_trails.c.id, history_trails.c.recorded_at < before),
                            (history_health_changes, history_health_changes.c.id, history_health_changes.c.at < before),
                            # a day goes once all of it is past
                            (history_days, history_days.c.day, history_days.c.day < before.date()),
                            (operation_log, operation_log.c.id, operation_log.c.at < before)):
        expired = select(key).where(old).limit(batch)
        if table is process_history:
            conn.execute(delete(history_readers).where(history_readers.c.execution_id.in_(expired)))
        deleted = conn.execute(delete(table).where(key.in_(expired))).rowcount or 0
        gone, more = gone + deleted, more or deleted >= batch
    return gone, more
