"""The query language means what CONTRACT §5 says, identically on SQLite and PostgreSQL.

A property-based differential test: one fixed set of process instances (empty fields, mixed case,
non-ASCII, wildcard characters, tied timestamps, ACEs) is written once into SQLite and once into
PostgreSQL; hypothesis generates queries — every field and operation, nested and/or/not, sort on any
fields, offset, limit — and each runs on both databases through `findExecutions` and `countExecutions`
and through `evaluate`, a small reference of CONTRACT §5 in plain Python over the same rows. Members,
order and totals must be the same all three ways.

On PostgreSQL the text columns are given an ICU collation first, as a database created under en_US
would have them: the order of text must not depend on how the database was created.
"""
from __future__ import annotations

import functools
import os
import random
import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import insert, text

from config.settings import load_settings
from engine import operations as ops
from engine.model.datastore import DataStore
from engine.model.query import And, Node, Not, Or, Param, Query, SortCriterion
from engine.runtime.node import ProcessEngine
from engine.security.authorization import ANONYMOUS_ADMIN as ADMIN, Principal
from engine.model.states import ExecutionState, HealthState
from engine.storage import codec, instances as store
from engine.storage.instances import InstanceRecord
from engine.storage.tables import definitions, permissions
from tests.support.common import SKIP_PG
from tests.support.strategies import criteria

EXAMPLES = int(os.environ.get("PE_QUERY_EXAMPLES", "600"))
DEFAULT_LIMIT, MAX_LIMIT, COUNT_LIMIT = 17, 23, 20   # small, so that defaulting, capping and "gte" all happen
BOB = Principal("bob", frozenset({"clerks"}))

# -- the fixed rows ---------------------------------------------------------------------------------
TEXTS = ["a", "A", "b", "B", "order-1", "Order-1", "ORDER-2", "order-10", "50%_off", "50xoff", "x_y", "xay",
         "naïve", "naive", "Ä", "ä", "z", "a*b?[c]", "back\\slash", "日本", " lead", "trail ", ""]
URIS = ["a.ipd", "B.ipd", "b.ipd", "sub/c.ipd", "Sub/c.ipd"]
OWNERS = ["admin", "bob", "Bob", "carol"]
NODES = [None, None, "node-1", "Node-2", "node-10", "nöde"]
ACES = [{}, {}, {"bob": ["read"]}, {"clerks": ["read"]}, {"clerks": ["admin"]}, {"bob": ["write"]},
        {"others": ["read"]}]
BASE = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)
FIELDS = {"executionId": "execution_id", "externalId": "external_id", "state": "state", "owner": "owner",
          "processUri": "process_uri", "online": "online", "health": "health", "previousNode": "previous_node",
          "ownerNode": "owner_node", "createdAt": "created_at", "startedAt": "started_at",
          "finishedAt": "finished_at"}
TIMES = ("createdAt", "startedAt", "finishedAt")
ENUMS = {"state": [s.value for s in ExecutionState], "health": [h.value for h in HealthState]}
TEXT_FIELDS = [f for f in FIELDS if f not in TIMES and f != "online"]


def moment(rng: random.Random) -> datetime:
    """A time near BASE; few distinct values, so that ties are common (microseconds included)."""
    return BASE + timedelta(minutes=rng.choice([0, 0, 1, 5, 60, 60 * 24]), microseconds=rng.choice([0, 0, 1, 999]))


def make_rows() -> list[dict[str, Any]]:
    rng = random.Random(20261122)
    rows = []
    for i in range(48):
        created = moment(rng)
        started = None if rng.random() < 0.3 else created + timedelta(seconds=rng.choice([0, 1, 30]))
        finished = None if started is None or rng.random() < 0.4 else started + timedelta(seconds=rng.choice([0, 2]))
        rows.append({
            "execution_id": str(uuid.UUID(int=rng.getrandbits(128))),
            "external_id": TEXTS[i] if i < len(TEXTS) else None if rng.random() < 0.5 else rng.choice(TEXTS),
            "state": rng.choice(ENUMS["state"]), "health": rng.choice(ENUMS["health"]),
            "owner": rng.choice(OWNERS), "process_uri": rng.choice(URIS), "online": rng.random() < 0.6,
            "previous_node": rng.choice(NODES), "owner_node": rng.choice(NODES),
            "created_at": created, "started_at": started, "finished_at": finished, "acl": rng.choice(ACES)})
    return rows


ROWS = make_rows()


def instance(row: dict[str, Any]) -> InstanceRecord:
    fields = {k: v for k, v in row.items() if k != "acl"}
    return InstanceRecord(
        **fields, definition_id=1, definition_name=None, definition_location="x", definition_changed_at=None,
        definition_version=1, definition_origin="repository", definition_revision="r1", state_change_index=0,
        state_changed_at=row["created_at"], health_message=None, health_exception_type=None, debug=False,
        locked=False, auto_dispose="never", thread_pool_id=None, message=None, current_user=row["owner"],
        current_roles="[]", permissions=codec.dumps(row["acl"]), process_engine_id="n",
        parent_execution_id=None, disposed_at=None, state_format=codec.STATE_FORMAT, current_element=None,
        position=None, pipeline=codec.encode_store(DataStore()),
        exception_report=None, attributes="{}", instance_constants="{}", breakpoints="[]", log_settings="{}",
        terminate_request=None, exec_version=0)


def populate(pe: ProcessEngine) -> None:
    with pe.db.unit_of_work() as uow:
        uow.conn.execute(insert(definitions).values(id=1, uri="a.ipd", revision="r1", version=1, name=None,
                                                    origin="repository", changed_at=BASE, source=b""))
        for row in ROWS:
            store.insert_instance(uow.conn, instance(row))
        grants = [{"execution_id": r["execution_id"], "name": name, "privilege": p}
                  for r in ROWS for name, privileges in r["acl"].items() for p in privileges]
        uow.conn.execute(insert(permissions), grants)
        uow.commit()


def with_icu_collation(pe: ProcessEngine) -> None:
    """Text columns under ICU's root collation (`a` < `B`), as under a database created for en_US."""
    with pe.db.engine.begin() as conn:
        if not conn.execute(text("SELECT 1 FROM pg_collation WHERE collname = 'und-x-icu'")).first():
            return
        for column, length in (("external_id", 255), ("process_uri", 1000), ("state", 16), ("health", 24),
                               ("owner", 255), ("owner_node", 255), ("previous_node", 255)):
            conn.execute(text(f'ALTER TABLE process_instances ALTER COLUMN {column} '
                              f'TYPE varchar({length}) COLLATE "und-x-icu"'))


def open_engine(url: str) -> ProcessEngine:
    """An engine that is not started: no threads, no node registry — nothing but storage and settings,
    which is all the query operations use, so the rows stay exactly as written."""
    base = load_settings({})
    configured = base.with_overrides(storage={"url": url}, query={"default_limit": DEFAULT_LIMIT,
                                                                  "max_limit": MAX_LIMIT, "count_limit": COUNT_LIMIT})
    pe = ProcessEngine(configured)
    pe.db.upgrade()
    return pe


@pytest.fixture(scope="module")
def engines(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator[dict]:
    urls = {"sqlite": f"sqlite:///{tmp_path_factory.mktemp('semantics') / 'engine.db'}"}
    if not SKIP_PG:
        urls["postgres"] = request.getfixturevalue("pg_schemas")()
    opened = {name: open_engine(url) for name, url in urls.items()}
    for name, pe in opened.items():
        if name == "postgres":
            with_icu_collation(pe)
        populate(pe)
    yield opened
    for pe in opened.values():
        pe.db.dispose()


# -- the reference: CONTRACT §5 in plain Python ------------------------------------------------------
def parse_time(value: str) -> datetime:
    value = value.strip()
    moment_ = datetime.fromisoformat(value[:-1] + "+00:00" if value[-1:] in "Zz" else value)
    return (moment_ if moment_.tzinfo else moment_.replace(tzinfo=timezone.utc)).astimezone(timezone.utc)


def typed(field: str, value: str) -> Any:
    if field in TIMES:
        return parse_time(value)
    if field == "online":
        return value.strip().lower() in ("true", "1")
    return value


def like_regex(pattern: str) -> re.Pattern:
    """`%` any run, `_` one character, `\\` makes the next character literal (alone at the end: itself)."""
    parts, i = [], 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            parts.append(re.escape(pattern[i + 1] if i + 1 < len(pattern) else "\\"))
            i += 2
            continue
        parts.append(".*" if char == "%" else "." if char == "_" else re.escape(char))
        i += 1
    return re.compile("".join(parts), re.DOTALL)


def matches(node: Node | None, row: dict[str, Any]) -> bool:
    """Two-valued: a test of an empty field is false (isNull aside), so `not` of it is true."""
    if node is None:
        return True
    if isinstance(node, And):
        return all(matches(n, row) for n in node.nodes)
    if isinstance(node, Or):
        return any(matches(n, row) for n in node.nodes)
    if isinstance(node, Not):
        return not matches(node.node, row)
    held = row[FIELDS[node.field]]
    if node.operation == "isNull":
        return held is None
    if held is None:
        return False
    if node.operation == "like":
        return like_regex(node.values[0]).fullmatch(held) is not None
    values = [typed(node.field, v) for v in node.values]
    return {"equals": lambda: held == values[0], "in": lambda: held in values,
            "lessThan": lambda: held < values[0], "greaterThan": lambda: held > values[0]}[node.operation]()


def may_read(principal: Principal, row: dict[str, Any]) -> bool:
    if principal.is_admin or row["owner"] == principal.name:
        return True
    return any({"read", "admin"} & set(row["acl"].get(name, ())) for name in principal.names)


def compare(sort: tuple[SortCriterion, ...], a: dict[str, Any], b: dict[str, Any]) -> int:
    """The sort's criteria, then createdAt and executionId the way the last criterion goes; empty values
    after all others ascending, before them descending; text by code point, false before true."""
    last = sort[-1].ascending if sort else True
    keys = [(FIELDS[c.field], c.ascending) for c in sort] + [("created_at", last), ("execution_id", last)]
    for column, ascending in keys:
        x, y = a[column], b[column]
        if x == y:
            continue
        if x is None or y is None:
            order = 1 if x is None else -1          # empty is the largest value
        else:
            order = -1 if x < y else 1
        return order if ascending else -order
    return 0


def ordered(principal: Principal, query: Query) -> list[dict[str, Any]]:
    """Every match the principal may read, in the query's order."""
    found = [r for r in ROWS if may_read(principal, r) and matches(query.tree, r)]
    return sorted(found, key=functools.cmp_to_key(lambda a, b: compare(query.sort, a, b)))


def evaluate(principal: Principal, query: Query) -> tuple[list[str], int]:
    """(the page's execution IDs in order, the number of matches before paging)."""
    found = ordered(principal, query)
    limit = min(DEFAULT_LIMIT if query.limit is None else query.limit, MAX_LIMIT)
    return [r["execution_id"] for r in found[query.offset:query.offset + limit]], len(found)


# -- generated queries: values that hit the rows most of the time -------------------------------------
def held_values(field: str) -> list[Any]:
    return sorted({r[FIELDS[field]] for r in ROWS if r[FIELDS[field]] is not None}, key=repr)


def written_time(draw: Callable, moment_: datetime) -> str:
    """A moment as a client may write it: Z, an offset, or naive (taken as UTC)."""
    form = draw(st.sampled_from(["z", "offset", "naive"]))
    if form == "offset":
        return moment_.astimezone(timezone(timedelta(hours=2))).isoformat()
    return moment_.isoformat().replace("+00:00", "Z" if form == "z" else "")


@st.composite
def a_time(draw: Callable, field: str) -> str:
    held = held_values(field)
    base = draw(st.sampled_from(held)) if held and draw(st.integers(0, 4)) else BASE
    shift = draw(st.sampled_from([timedelta(0), timedelta(0), timedelta(microseconds=1), -timedelta(microseconds=1),
                                  timedelta(minutes=3), -timedelta(days=1)]))
    return written_time(draw, base + shift)


@st.composite
def a_text(draw: Callable, field: str) -> str:
    if field in ENUMS:
        return draw(st.sampled_from(ENUMS[field]))
    held = held_values(field)
    if held and draw(st.integers(0, 5)):
        value = draw(st.sampled_from(held))
        return value.swapcase() if draw(st.integers(0, 6)) == 0 else value
    return draw(st.sampled_from(TEXTS + URIS + OWNERS + ["node-1", "x"]))


def escaped(value: str) -> str:
    return "".join("\\" + c if c in "%_\\" else c for c in value)


@st.composite
def a_pattern(draw: Callable, field: str) -> str:
    """A like pattern, most often made from a value the rows hold: wildcards put in, the rest escaped."""
    held = held_values(field)
    if not held or draw(st.integers(0, 5)) == 0:
        return draw(st.text(st.sampled_from("aAbB%_\\-1.*?[z"), max_size=6))
    value = draw(st.sampled_from(held))
    pieces = []
    for char in value:
        pieces.append(draw(st.sampled_from([escaped(char)] * 4 + ["_", "%", char.swapcase() if char.isalpha()
                                                                   else escaped(char)])))
    if draw(st.booleans()):
        cut = draw(st.integers(0, len(pieces)))
        pieces = pieces[:cut] + ["%"] if draw(st.booleans()) else ["%"] + pieces[cut:]
    return "".join(pieces)


ONLINE_TEXTS = ["true", "false", "1", "0", "TRUE", " False "]


@st.composite
def params(draw: Callable) -> Param:
    field = draw(st.sampled_from(list(FIELDS)))
    operations = ["isNull", "equals", "in"]
    if field in TIMES:
        operations += ["lessThan", "greaterThan"]
    elif field != "online":
        operations += ["like"]
    operation = draw(st.sampled_from(operations))
    one = (st.sampled_from(ONLINE_TEXTS) if field == "online" else a_time(field) if field in TIMES
           else a_pattern(field) if operation == "like" else a_text(field))
    count = {"isNull": 0, "in": draw(st.integers(1, 4))}.get(operation, 1)
    return Param(field, operation, tuple(draw(one) for _ in range(count)))


trees = st.recursive(params(), lambda kids: st.one_of(
    st.lists(kids, max_size=3).map(lambda n: And(tuple(n))),
    st.lists(kids, max_size=3).map(lambda n: Or(tuple(n))),
    kids.map(Not)), max_leaves=8)
queries = st.builds(Query, st.none() | trees, st.lists(criteria, max_size=3).map(tuple),
                    st.integers(0, 50) | st.just(0), st.none() | st.integers(0, 50))


# -- the property -------------------------------------------------------------------------------------
@dataclass
class Answer:
    page: list[str]
    total: int
    lower_bound: bool
    count: int


def answer(pe: ProcessEngine, principal: Principal, query: Query) -> Answer:
    found = ops.find_executions(pe, principal, query)
    return Answer([s.execution_id for s in found.snapshots], found.total, found.total_is_lower_bound,
                  ops.count_executions(pe, principal, query))


def expected(principal: Principal, query: Query) -> Answer:
    page, count = evaluate(principal, query)
    return Answer(page, min(count, COUNT_LIMIT), count > COUNT_LIMIT, count)


@pytest.mark.slow
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow],
          )
@given(queries, st.sampled_from([ADMIN, ADMIN, BOB]))
def test_every_query_answers_alike_on_sqlite_postgresql_and_the_reference(engines, query, principal):
    want = expected(principal, query)
    for name, pe in engines.items():
        assert answer(pe, principal, query) == want, name


# -- the fixture itself covers what the property is about ---------------------------------------------
def test_the_rows_hold_empty_fields_mixed_case_and_ties():
    assert any(r["external_id"] is None for r in ROWS) and any(r["external_id"] == "" for r in ROWS)
    assert {"a", "A"} <= {r["external_id"] for r in ROWS}
    assert all(any(r[FIELDS[f]] is None for r in ROWS) for f in ("startedAt", "finishedAt", "ownerNode"))
    created = [r["created_at"] for r in ROWS]
    assert len(set(created)) < len(created)                     # ties for the tie-breakers
    assert {r["online"] for r in ROWS} == {True, False}
    assert any(may_read(BOB, r) for r in ROWS) and not all(may_read(BOB, r) for r in ROWS)


def test_the_reference_agrees_with_hand_written_answers():
    """The reference is checked too, on cases whose answer is plain."""
    def ids(query: Query) -> list[str]:
        return [r["execution_id"] for r in ordered(ADMIN, query)]
    without = {r["execution_id"] for r in ROWS if r["external_id"] is None}
    assert set(ids(Query(Not(Param("externalId", "equals", ("a",)))))) == {r["execution_id"] for r in ROWS
                                                                          if r["external_id"] != "a"}
    assert set(ids(Query(Param("externalId", "like", ("%",))))) == set(ids(Query())) - without
    ascending, descending = ids(Query(sort=(SortCriterion("externalId"),))), ids(Query(sort=(SortCriterion(
        "externalId", False),)))
    assert set(ascending[-len(without):]) == without == set(descending[:len(without)])
    cased = ordered(ADMIN, Query(Param("externalId", "in", ("a", "A", "B", "b")), (SortCriterion("externalId"),)))
    assert list(dict.fromkeys(r["external_id"] for r in cased)) == ["A", "B", "a", "b"]   # by code point
    assert like_regex("50\\%\\_off").fullmatch("50%_off") and not like_regex("50\\%\\_off").fullmatch("50x_off")
    assert like_regex("a_c").fullmatch("abc") and not like_regex("a_c").fullmatch("Abc")
