"""SQL that means the same on SQLite and on PostgreSQL (CONTRACT §5: one query, one answer, one order).

Two places where the databases disagree by default, each as a construct that compiles to what the
dialect at hand needs:

- `like`: SQLite's LIKE ignores ASCII case, PostgreSQL's does not. On SQLite the pattern becomes a GLOB
  (case-sensitive, and still served by an index for a literal prefix); on PostgreSQL it stays a LIKE.
- `leading_join`: SQLite's planner, without statistics that tell it a table is small, may loop over the
  wrong side of a join; there the left side leads (`CROSS JOIN … ON`), PostgreSQL plans as it sees fit.
- `sort_keys`: PostgreSQL sorts text by the database's collation (`a` before `B` under en_US), SQLite
  by code point. Sorting under PostgreSQL's "C" collation is code point order too, whatever the
  database was created with. And PostgreSQL puts NULLs after all other values ascending, SQLite before
  them: a nullable column sorts as `(column IS NULL), column` on both, which one index of those two
  expressions serves in either direction on both.

The pattern language of `like` is the query's own: `%` any run of characters, `_` one character, and
`\\` makes the character after it literal (`\\%`, `\\_`, `\\\\`); a `\\` at the very end stands for itself.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import Boolean, String, TypeDecorator, bindparam
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql import ColumnElement, FromClause
from sqlalchemy.sql.selectable import Join
from sqlalchemy.sql.visitors import InternalTraversal

ANY_RUN, ONE_CHAR = object(), object()
Token = Any  # ANY_RUN, ONE_CHAR, or a str: one literal character


def like_tokens(pattern: str) -> list[Token]:
    """The pattern as wildcards and literal characters, escapes resolved."""
    tokens: list[Token] = []
    chars = iter(pattern)
    for char in chars:
        if char == "\\":
            tokens.append(next(chars, "\\"))
        else:
            tokens.append(ANY_RUN if char == "%" else ONE_CHAR if char == "_" else char)
    return tokens


def _as_glob(tokens: list[Token]) -> str:
    """SQLite GLOB has no escape character: a literal `*`, `?` or `[` is written as a bracket class."""
    special = {"*": "[*]", "?": "[?]", "[": "[[]"}
    return "".join("*" if t is ANY_RUN else "?" if t is ONE_CHAR else special.get(t, t) for t in tokens)


def _as_like(tokens: list[Token]) -> str:
    escaped = {"%": "\\%", "_": "\\_", "\\": "\\\\"}
    return "".join("%" if t is ANY_RUN else "_" if t is ONE_CHAR else escaped.get(t, t) for t in tokens)


class _Pattern(TypeDecorator):
    """A like pattern as bound: translated for the dialect it is sent to, so the statement itself (and
    SQLAlchemy's cache of it) is the same for every pattern."""

    impl = String
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> Any:
        if value is None:
            return None
        tokens = like_tokens(value)
        return _as_glob(tokens) if dialect.name == "sqlite" else _as_like(tokens)

    def process_literal_param(self, value: Any, dialect: Any) -> Any:
        return self.process_bind_param(value, dialect)


class _Like(ColumnElement[bool]):
    """`column` matches `pattern`, case-sensitively on every dialect."""

    type = Boolean()
    inherit_cache = True
    # A comparison already: in a WHERE, SQLite (no native boolean) would otherwise get `… GLOB ? = 1`,
    # which no index serves (a prefix match over 1M instances: 0.4 s instead of a range scan).
    _is_implicitly_boolean = True
    _traverse_internals = [("column", InternalTraversal.dp_clauseelement),
                           ("pattern", InternalTraversal.dp_clauseelement)]

    def __init__(self, column: ColumnElement, pattern: str) -> None:
        self.column = column
        self.pattern = bindparam(None, pattern, type_=_Pattern())


@compiles(_Like)
def _compile_like(element: _Like, compiler: Any, **kw: Any) -> str:
    return f"{compiler.process(element.column, **kw)} LIKE {compiler.process(element.pattern, **kw)} ESCAPE '\\'"


@compiles(_Like, "sqlite")
def _compile_glob(element: _Like, compiler: Any, **kw: Any) -> str:
    return f"{compiler.process(element.column, **kw)} GLOB {compiler.process(element.pattern, **kw)}"


def like(column: ColumnElement, pattern: str) -> ColumnElement[bool]:
    return _Like(column, pattern)


class _BinaryOrder(ColumnElement):
    """A text column to sort by code point."""

    inherit_cache = True
    _traverse_internals = [("column", InternalTraversal.dp_clauseelement)]

    def __init__(self, column: ColumnElement) -> None:
        self.column = column
        self.type = column.type


@compiles(_BinaryOrder)
def _compile_binary_order(element: _BinaryOrder, compiler: Any, **kw: Any) -> str:
    return f'{compiler.process(element.column, **kw)} COLLATE "C"'


@compiles(_BinaryOrder, "sqlite")
def _compile_binary_order_sqlite(element: _BinaryOrder, compiler: Any, **kw: Any) -> str:
    return compiler.process(element.column, **kw)  # BINARY, SQLite's default collation, is code point order


def sort_keys(column: ColumnElement, ascending: bool) -> list[ColumnElement]:
    """ORDER BY terms for `column` in the one order: text by code point, NULLs after all other values
    ascending and before them descending."""
    key = _BinaryOrder(column) if isinstance(column.type, String) else column
    keys = [column.is_(None), key] if column.nullable else [key]
    return [k.asc() if ascending else k.desc() for k in keys]


class _LeadingJoin(Join):
    """An inner join whose left side SQLite loops over first."""

    inherit_cache = True


@compiles(_LeadingJoin, "sqlite")
def _compile_leading_join(element: _LeadingJoin, compiler: Any, **kw: Any) -> str:
    # SQLite's documented way to fix the loop order: its planner never reorders a CROSS JOIN.
    return compiler.visit_join(element, **kw).replace(" JOIN ", " CROSS JOIN ", 1)


def leading_join(left: FromClause, right: FromClause, onclause: ColumnElement[bool]) -> Join:
    """`left JOIN right ON onclause`, with `left` the outer loop on SQLite (the small, indexed side)."""
    return _LeadingJoin(left, right, onclause)
