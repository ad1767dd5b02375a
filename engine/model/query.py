"""The query tree of CONTRACT §5: read, checked, and ordered — what a query means.

The wire forms (XML and JSON) are read by `schemas/query.py` into these objects. `check` refuses what
cannot be asked (InvalidQuery names the part) and types each param's values into a `Test`; `order_of`
says the whole order, tie-breakers included. Storage (`storage/selection.py`) turns the checked tree and
the order into SQL, so a query always runs in the database, never over rows loaded into Python.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Union

from ..support.clock import parse_timestamp
from .datastore import BINARY, kind_of
from ..errors import InvalidQuery
from .states import ExecutionState, HealthState


class QueryField(str, Enum):
    EXECUTION_ID = "executionId"
    EXTERNAL_ID = "externalId"
    STATE = "state"
    OWNER = "owner"
    PROCESS_URI = "processUri"
    ONLINE = "online"
    HEALTH = "health"
    PREVIOUS_NODE = "previousNode"
    OWNER_NODE = "ownerNode"
    CREATED_AT = "createdAt"
    STARTED_AT = "startedAt"
    FINISHED_AT = "finishedAt"


class QueryOperation(str, Enum):
    IS_NULL = "isNull"
    EQUALS = "equals"
    IN = "in"
    LIKE = "like"
    LESS_THAN = "lessThan"
    GREATER_THAN = "greaterThan"


@dataclass(frozen=True)
class Param:
    """Tests one property: `field` and `operation` as the wire names them, `values` as raw text."""

    field: str
    operation: str
    values: tuple[str, ...] = ()
    value_type: str = "text/plain"


@dataclass(frozen=True)
class And:
    nodes: tuple["Node", ...]


@dataclass(frozen=True)
class Or:
    nodes: tuple["Node", ...]


@dataclass(frozen=True)
class Not:
    node: "Node"


Node = Union[Param, "Test", And, Or, Not]  # Test: a Param once `check` has read it


@dataclass(frozen=True)
class SortCriterion:
    field: str
    ascending: bool = True


@dataclass(frozen=True)
class Query:
    """A whole query; `limit` None means the configured default."""

    tree: Node | None = None
    sort: tuple[SortCriterion, ...] = ()
    offset: int = 0
    limit: int | None = None


# -- checking -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Test:
    """A param checked: its field and operation known, its values typed as the field holds them (a
    `like` pattern stays text)."""

    field: str  # as the query's Fields name it (a QueryField for processes)
    operation: QueryOperation
    values: tuple[object, ...]


@dataclass(frozen=True)
class Fields:
    """What a query over one kind of record may name (CONTRACT §5 for processes, §12 for the history):
    its fields, how each compares, and the tie-breakers every order ends with. `aliases` are other
    names a field answers to."""

    names: tuple[str, ...]
    times: frozenset[str] = frozenset()
    numbers: frozenset[str] = frozenset()
    booleans: frozenset[str] = frozenset()
    enums: tuple[tuple[str, type[Enum]], ...] = ()
    as_written: frozenset[str] = frozenset()  # values are their text: an `in` over them can be split
    ties: tuple[str, ...] = ()
    aliases: tuple[tuple[str, str], ...] = ()

    def field(self, name: str, what: str = "field") -> str:
        """The field a name means, or InvalidQuery listing the names."""
        name = dict(self.aliases).get(name, name)
        if name not in self.names:
            raise InvalidQuery(f"unknown {what} {name!r} (one of: {', '.join(self.names)})")
        return name

    def enum(self, field: str) -> type[Enum] | None:
        return dict(self.enums).get(field)


_TIMES = {QueryField.CREATED_AT, QueryField.STARTED_AT, QueryField.FINISHED_AT}
MAX_DEPTH = 64
SPLIT_MAX = 16

# The processes of findExecutions and the other operations that take a query (CONTRACT §5).
PROCESSES = Fields(
    names=tuple(f.value for f in QueryField), times=frozenset(f.value for f in _TIMES),
    booleans=frozenset({QueryField.ONLINE.value}),
    enums=((QueryField.STATE.value, ExecutionState), (QueryField.HEALTH.value, HealthState)),
    as_written=frozenset(f.value for f in (QueryField.EXECUTION_ID, QueryField.EXTERNAL_ID, QueryField.STATE,
                                           QueryField.OWNER, QueryField.PROCESS_URI, QueryField.HEALTH,
                                           QueryField.PREVIOUS_NODE, QueryField.OWNER_NODE)),
    ties=(QueryField.CREATED_AT.value, QueryField.EXECUTION_ID.value))


def check(node: Node | None, depth: int = 0, fields: Fields = PROCESSES) -> Node | None:
    """The tree with each param checked into a `Test`; InvalidQuery names the part that cannot be asked."""
    if depth > MAX_DEPTH:
        raise InvalidQuery(f"the query tree is nested deeper than {MAX_DEPTH} levels")
    if node is None:
        return None
    if isinstance(node, And):
        return And(tuple(check(n, depth + 1, fields) for n in node.nodes))
    if isinstance(node, Or):
        return Or(tuple(check(n, depth + 1, fields) for n in node.nodes))
    if isinstance(node, Not):
        return Not(check(node.node, depth + 1, fields))
    return _check_param(node, fields)


def order_of(sort: tuple[SortCriterion, ...], fields: Fields = PROCESSES) -> tuple[tuple[str, bool], ...]:
    """(field, ascending) in order: the criteria, then the tie-breakers (createdAt and executionId for
    processes), so that pages never overlap. Empty values sort after all others ascending, before them
    descending; text by code point (storage makes both databases do so).

    The tie-breakers go the way the last criterion goes: an index of (field, createdAt, executionId)
    then serves a sort by the field either way, read forwards or backwards. A field named again adds
    nothing, and nothing after the last tie-breaker could (it is unique)."""
    criteria: dict[str, bool] = {}
    unique = fields.ties[-1]
    for criterion in sort:
        field = fields.field(criterion.field, "sort field")
        if unique not in criteria:
            criteria.setdefault(field, criterion.ascending)
    last = sort[-1].ascending if sort else True
    for tie in fields.ties:
        if unique not in criteria:
            criteria.setdefault(tie, last)
    return tuple(criteria.items())


def split_by_in(node: Node | None, fields: Fields = PROCESSES) -> list[Node]:
    """The tree as one tree per value of the one `in` at its top, that `in` an equality in each
    (`state = WAITING and processUri in (a, b)` → `… processUri = a`, `… processUri = b`); [] for a tree
    without such an `in`. The parts select disjoint rows that together are the whole's, and each part's
    rows can come off an index in the sort's order ((state, processUri, createdAt) here), which the
    whole's cannot past its first value: the database would read every match to sort them."""
    children = node.nodes if isinstance(node, And) else (node,) if isinstance(node, Param) else ()
    found = [i for i, child in enumerate(children) if isinstance(child, Param) and child.operation == QueryOperation.IN.value]
    if len(found) != 1:
        return []
    split = children[found[0]]
    values = tuple(dict.fromkeys(split.values))
    if not 1 < len(values) <= SPLIT_MAX or split.field not in fields.as_written:
        return []
    parts = [children[:found[0]] + (Param(split.field, QueryOperation.EQUALS.value, (v,), split.value_type),)
             + children[found[0] + 1:] for v in values]
    return [And(part) for part in parts]


def _check_param(param: Param, fields: Fields) -> Test:
    field = fields.field(param.field)
    operation = _member(QueryOperation, param.operation, "operation")
    if kind_of(param.value_type or "text/plain") == BINARY:
        raise InvalidQuery(f"param {field}: values of type {param.value_type} cannot be compared")
    ordered = fields.times | fields.numbers
    if operation is QueryOperation.LIKE and (field in ordered or field in fields.booleans):
        raise InvalidQuery(f"param {field}: like compares text, not {field}")
    if operation in (QueryOperation.LESS_THAN, QueryOperation.GREATER_THAN) and field not in ordered:
        what = "timestamps" if not fields.numbers else "timestamps and numbers"
        raise InvalidQuery(f"param {field}: {operation.value} compares {what} only")
    _check_arity(field, operation, param.values)
    return Test(field, operation, tuple(v if operation is QueryOperation.LIKE else _typed(field, v, fields)
                                        for v in param.values))


def _check_arity(field: str, operation: QueryOperation, values: tuple[str, ...]) -> None:
    if operation is QueryOperation.IS_NULL and values:
        raise InvalidQuery(f"param {field}: isNull takes no values")
    if operation is QueryOperation.IN and not values:
        raise InvalidQuery(f"param {field}: in needs at least one value")
    if operation not in (QueryOperation.IS_NULL, QueryOperation.IN) and len(values) != 1:
        raise InvalidQuery(f"param {field}: {operation.value} needs exactly one value, got {len(values)}")


def _typed(field: str, text: str, fields: Fields) -> object:
    """The value as the column holds it (a like pattern is text on every field it applies to)."""
    if field in fields.times:
        try:
            return parse_timestamp(text)
        except (ValueError, OverflowError):
            raise InvalidQuery(f"param {field}: {text!r} is not an ISO 8601 timestamp") from None
    if field in fields.numbers:
        try:
            return int(text.strip())
        except ValueError:
            raise InvalidQuery(f"param {field}: {text!r} is not a whole number") from None
    if field in fields.booleans:
        lowered = text.strip().lower()
        if lowered not in ("true", "false", "1", "0"):
            raise InvalidQuery(f"param {field}: {text!r} is not a boolean")
        return lowered in ("true", "1")
    enum = fields.enum(field)
    if enum is not None:
        return _member(enum, text, f"{field} value").value
    return text


def _member(enum: type, value: str, what: str):  # type: ignore[no-untyped-def]
    try:
        return enum(value)
    except ValueError:
        allowed = ", ".join(m.value for m in enum)
        raise InvalidQuery(f"unknown {what} {value!r} (one of: {allowed})") from None


def page(query: Query, default_limit: int, max_limit: int) -> tuple[int, int]:
    """(offset, limit): the defaults and cap of CONTRACT §5."""
    if query.offset < 0 or (query.limit is not None and query.limit < 0):
        raise InvalidQuery("offset and limit must not be negative")
    limit = default_limit if query.limit is None else query.limit
    return query.offset, min(limit, max_limit)
