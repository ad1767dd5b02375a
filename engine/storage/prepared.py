"""Statements sent straight to the driver's cursor, for the hottest writes (every `run` ends in one)."""
from __future__ import annotations

from contextlib import closing
from operator import itemgetter
from typing import Any, Callable, Sequence

from sqlalchemy.engine import Connection

# A statement for the driver: its SQL, its parameters (or, for many rows, a list of them), whether many.
Statement = tuple[str, Any, bool]


class Prepared:
    """A statement sent straight to the driver's cursor.

    Every `run` ends in an INSERT of the whole row (and of its history record), and every asynchronous
    one in an UPDATE of its own row; SQLAlchemy's per-execution bookkeeping costs as much as such a
    statement itself. SQLAlchemy
    still does the work that matters, once per dialect and shape (`build`'s argument): it compiles the
    statement and supplies each parameter type's bind processor.
    """

    def __init__(self, build: Callable[[Any], Any]) -> None:
        self._build = build
        self._prepared: dict[Any, _Compiled] = {}

    def __call__(self, dialect: Any, values: dict[str, Any], shape: Any = None) -> tuple[str, Any]:
        """The SQL and the driver's parameters for `values`."""
        prepared = self._prepared.get((dialect.name, shape))
        if prepared is None:
            prepared = self._prepared[(dialect.name, shape)] = _Compiled(self._build(shape), dialect)
        return prepared.sql, prepared.parameters(values)

    def statement(self, dialect: Any, values: dict[str, Any], shape: Any = None) -> Statement:
        """The statement for `Database.execute_together`, for one row."""
        return (*self(dialect, values, shape), False)

    def statement_many(self, dialect: Any, rows: Sequence[dict[str, Any]], shape: Any = None) -> Statement:
        """The statement for `Database.execute_together`, for several rows (at least one)."""
        prepared = [self(dialect, row, shape) for row in rows]
        return prepared[0][0], [params for _, params in prepared], True

    def execute(self, conn: Connection, values: dict[str, Any], shape: Any = None) -> int:
        """Run it inside the unit of work that `conn` belongs to; how many rows it changed."""
        with cursor_of(conn) as cursor:
            cursor.execute(*self(conn.dialect, values, shape))
            return cursor.rowcount

    def first_row(self, conn: Connection, values: dict[str, Any], shape: Any = None) -> Any:
        """Run it (a query) inside the unit of work that `conn` belongs to; its first row, or None."""
        with cursor_of(conn) as cursor:
            cursor.execute(*self(conn.dialect, values, shape))
            return cursor.fetchone()

    def execute_many(self, conn: Connection, rows: Sequence[dict[str, Any]], shape: Any = None) -> None:
        if rows:
            execute_in(conn, [self.statement_many(conn.dialect, rows, shape)])


def execute_each(target: Any, statements: Sequence[Statement]) -> None:
    """Each statement on a driver's connection or cursor: `executemany` for those with many rows."""
    for sql, params, many in statements:
        if many:
            target.executemany(sql, params)
        else:
            target.execute(sql, params)


def execute_in(conn: Connection, statements: Sequence[Statement]) -> None:
    """The statements inside the unit of work that `conn` belongs to."""
    with cursor_of(conn) as cursor:
        execute_each(cursor, statements)


def cursor_of(conn: Connection) -> "closing[Any]":
    """A driver cursor inside the unit of work that `conn` belongs to, closed after the `with`."""
    return closing(conn.connection.driver_connection.cursor())


class _Compiled:
    """A statement compiled for one dialect: its SQL, and how a row's values become the driver's
    parameters — taken in one call (`itemgetter`), only those with a bind processor converted (on
    SQLite, the timestamps: a record's 27 values cost five calls, not 27)."""

    def __init__(self, statement: Any, dialect: Any) -> None:
        compiled = statement.compile(dialect=dialect)
        self.sql = str(compiled)
        self.keys = list(compiled.positiontup) if compiled.positional else list(compiled.binds)
        self.positional = bool(compiled.positional)
        # (values the statement fixed itself, such as the OFFSET 0 SQLite adds to a bound LIMIT)
        self.fixed = {k: compiled.binds[k].value for k in self.keys if not compiled.binds[k].required}
        processors = [dialect.type_descriptor(compiled.binds[k].type).bind_processor(dialect) for k in self.keys]
        self.converted = [(i, p) for i, p in enumerate(processors) if p is not None]
        getter = itemgetter(*self.keys) if self.keys else None
        self.taken = getter if len(self.keys) > 1 else (lambda values: (getter(values),)) if getter else (lambda _: ())

    def parameters(self, values: dict[str, Any]) -> Any:
        taken = self.taken({**self.fixed, **values} if self.fixed else values)
        if self.converted:
            taken = list(taken)
            for i, process in self.converted:
                taken[i] = process(taken[i])
        return tuple(taken) if self.positional else dict(zip(self.keys, taken))
