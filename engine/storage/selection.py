"""A checked query (`engine.model.query`) as SQL over the live instances (or, given their columns, over
the history): its WHERE, its ORDER BY, and who may see what (CONTRACT §5, §8).

Matching is two-valued (CONTRACT §5): a condition on an empty field is false, never SQL's unknown, so
`not` of it is true. Every condition compiles to a predicate that is never NULL; positive conditions stay
plain `column = value` (guarded by `column IS NOT NULL` where the column may be empty), so the indexes
serve them. `like` and the order of text are made the same on both databases by `portable`.
"""
from __future__ import annotations

from typing import Iterable, Mapping, Sequence

from sqlalchemy import and_, exists, false, not_, or_, select, true
from sqlalchemy.sql import ColumnElement

from ..model.query import And, Node, Not, Or, QueryField, QueryOperation, Test
from .portable import like, sort_keys
from .tables import instances, permissions

# What `condition` builds and the storage functions that take a query read: opaque above storage.
Condition = ColumnElement

_COLUMNS = {
    QueryField.EXECUTION_ID: instances.c.execution_id, QueryField.EXTERNAL_ID: instances.c.external_id,
    QueryField.STATE: instances.c.state, QueryField.OWNER: instances.c.owner,
    QueryField.PROCESS_URI: instances.c.process_uri, QueryField.ONLINE: instances.c.online,
    QueryField.HEALTH: instances.c.health, QueryField.PREVIOUS_NODE: instances.c.previous_node,
    QueryField.OWNER_NODE: instances.c.owner_node, QueryField.CREATED_AT: instances.c.created_at,
    QueryField.STARTED_AT: instances.c.started_at, QueryField.FINISHED_AT: instances.c.finished_at,
}


Columns = Mapping[str, ColumnElement]  # each field of a query's Fields, as a column


def condition(tree: Node | None, columns: Columns = _COLUMNS) -> ColumnElement:
    """The WHERE clause of a checked tree (`query.check`) over `columns` (the instances' by default)."""
    if tree is None:
        return true()
    if isinstance(tree, And):
        return and_(true(), *(condition(n, columns) for n in tree.nodes))
    if isinstance(tree, Or):
        return or_(false(), *(condition(n, columns) for n in tree.nodes))
    if isinstance(tree, Not):
        return not_(condition(tree.node, columns))
    if not isinstance(tree, Test):
        raise TypeError(f"a query tree is checked before it is compiled, not {type(tree).__name__}")
    return _test(tree, columns)


def order(keys: Iterable[tuple[str, bool]], columns: Columns = _COLUMNS) -> list[ColumnElement]:
    """ORDER BY (field, ascending) in turn (`query.order_of`)."""
    return [key for field, ascending in keys for key in sort_keys(columns[field], ascending)]


def permitted(owner: str, names: Iterable[str], privileges: Sequence[str]) -> ColumnElement:
    """The instances `owner` owns, or on which an ACE grants one of `privileges` to one of `names`."""
    granted = exists(select(permissions.c.execution_id).where(
        permissions.c.execution_id == instances.c.execution_id, permissions.c.name.in_(sorted(names)),
        permissions.c.privilege.in_(list(privileges))))
    return or_(instances.c.owner == owner, granted)


def _test(test: Test, columns: Columns) -> ColumnElement:
    """The test, false (never NULL) where the field is empty: only isNull sees empty fields."""
    column, values = columns[test.field], test.values
    if test.operation is QueryOperation.IS_NULL:
        return column.is_(None)
    if test.operation is QueryOperation.EQUALS:
        compared = column == values[0]
    elif test.operation is QueryOperation.IN:
        compared = column.in_(values)
    elif test.operation is QueryOperation.LIKE:
        compared = like(column, values[0])
    else:
        compared = column < values[0] if test.operation is QueryOperation.LESS_THAN else column > values[0]
    return and_(column.is_not(None), compared) if column.nullable else compared
