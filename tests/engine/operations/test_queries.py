"""findExecutions, disposeProcesses and recoverProcesses: the query tree compiled to SQL."""
from __future__ import annotations

import time

import pytest
from sqlalchemy import select

from engine import operations as ops
from engine.errors import InvalidQuery
from engine.model.query import And, Not, Or, Param, Query, QueryField, SortCriterion, check, order_of
from engine.security.authorization import ANONYMOUS_ADMIN as ADMIN, Principal
from engine.storage.instances import LIVE
from engine.storage.selection import condition, order
from engine.storage.tables import instances
from tests.support.common import write_definition
from tests.support.storage import plant


@pytest.fixture
def populated(engine_factory, repo):
    """Six instances: 2 finished, 2 waiting (one with externalId), 2 created; all kept."""
    pe = engine_factory(repo)
    write_definition(repo, "done.ipd", '<endElement id="end"/>')
    write_definition(repo, "hold.ipd", '<wait id="hold"/>')
    ids = {"done": [ops.run(pe, ADMIN, "done.ipd", auto_dispose="never").execution_id for _ in range(2)],
           "hold": [ops.run(pe, ADMIN, "hold.ipd", states=["WAITING"], external_id=f"ext-{i}").execution_id
                    for i in range(2)],
           "new": [ops.instantiate(pe, ADMIN, "done.ipd", external_id="fresh").execution_id for _ in range(2)]}
    return pe, ids


def find(pe, tree=None, **kw):
    return ops.find_executions(pe, ADMIN, Query(tree, **kw))


def ids_of(result):
    return {s.execution_id for s in result.snapshots}


def test_empty_query_finds_everything_with_total(populated):
    pe, ids = populated
    result = find(pe)
    assert result.total == 6 and len(result.snapshots) == 6


@pytest.mark.parametrize("tree, expect", [
    (Param("state", "equals", ("FINISHED",)), "done"),
    (Param("state", "in", ("WAITING",)), "hold"),
    (Param("externalId", "like", ("ext-%",)), "hold"),
    (Param("externalId", "equals", ("fresh",)), "new"),
    (Param("startedAt", "isNull"), "new"),
    (Param("processUri", "equals", ("hold.ipd",)), "hold"),
])
def test_single_params(populated, tree, expect):
    pe, ids = populated
    assert ids_of(find(pe, tree)) == set(ids[expect])


def test_and_or_not(populated):
    pe, ids = populated
    tree = Or((And((Param("processUri", "equals", ("done.ipd",)), Not(Param("state", "equals", ("CREATED",))))),
               Param("externalId", "equals", ("ext-1",))))
    assert ids_of(find(pe, tree)) == set(ids["done"]) | {ids["hold"][1]}


def test_timestamps_compare_as_timestamps(populated):
    pe, ids = populated
    everything = find(pe).snapshots
    latest = max(s.created_at for s in everything)
    from engine.support.clock import format_timestamp
    before = find(pe, Param("createdAt", "lessThan", (format_timestamp(latest),)))
    assert before.total == len([s for s in everything if s.created_at < latest])
    after = find(pe, Param("createdAt", "greaterThan", ("2000-01-01T00:00:00.000Z",)))
    assert after.total == 6


def test_online_is_a_boolean(populated):
    pe, ids = populated
    ops.set_online(pe, ADMIN, ids["new"][0], False)
    assert ids_of(find(pe, Param("online", "equals", ("false",)))) == {ids["new"][0]}


def test_sort_offset_limit_and_total(populated):
    pe, ids = populated
    result = find(pe, sort=(SortCriterion("processUri", False), SortCriterion("createdAt")), offset=1, limit=2)
    assert result.total == 6 and len(result.snapshots) == 2
    assert [s.definition.uri for s in result.snapshots] == ["hold.ipd", "done.ipd"]


def test_limit_is_capped(engine_factory, repo):
    pe = engine_factory(repo, query={"default_limit": 2, "max_limit": 3})
    write_definition(repo, "x.ipd", '<endElement id="e"/>')
    for _ in range(4):
        ops.instantiate(pe, ADMIN, "x.ipd")
    assert len(find(pe).snapshots) == 2 and len(find(pe, limit=100).snapshots) == 3
    assert find(pe).total == 4


@pytest.mark.parametrize("tree, message", [
    (Param("color", "equals", ("red",)), "unknown field 'color'"),
    (Param("state", "approx", ("x",)), "unknown operation 'approx'"),
    (Param("state", "equals", ("DONE",)), "unknown state value 'DONE'"),
    (Param("createdAt", "equals", ("yesterday",)), "not an ISO 8601 timestamp"),
    (Param("state", "lessThan", ("FINISHED",)), "compares timestamps only"),
    (Param("createdAt", "like", ("2026%",)), "like compares text"),
    (Param("state", "equals", ()), "needs exactly one value"),
    (Param("state", "in", ()), "needs at least one value"),
    (Param("state", "isNull", ("x",)), "isNull takes no values"),
    (Param("online", "equals", ("maybe",)), "not a boolean"),
    (Param("state", "equals", ("RUNNING",), "application/octet-stream"), "cannot be compared"),
])
def test_bad_queries_are_invalid_query(pe, tree, message):
    with pytest.raises(InvalidQuery, match=message):
        find(pe, tree)


def test_negative_offset_is_invalid(pe):
    with pytest.raises(InvalidQuery):
        find(pe, offset=-1)


def test_find_leaves_out_what_the_caller_may_not_read(populated):
    pe, ids = populated
    bob = Principal("bob", frozenset({"clerks"}))
    assert find_as(pe, bob).total == 0
    ops.set_permissions(pe, ADMIN, ids["done"][0], "clerks", ["read"])
    ops.set_owner(pe, ADMIN, ids["hold"][0], "bob")
    assert ids_of(find_as(pe, bob)) == {ids["done"][0], ids["hold"][0]}


def find_as(pe, principal):
    return ops.find_executions(pe, principal, Query())


def test_dispose_processes_all_or_nothing(populated):
    pe, ids = populated
    gone = ops.dispose_processes(pe, ADMIN, Query(Param("processUri", "equals", ("done.ipd",))),
                                 report_execution_ids=True)
    assert gone.count == 4 and set(gone.execution_ids) == set(ids["done"]) | set(ids["new"])
    assert find(pe).total == 2
    assert ops.dispose_processes(pe, ADMIN, Query()).execution_ids is None


def test_common_filters_use_indexes(populated, storage_url):
    """The columns the common filters name are indexed, and the database uses those indexes."""
    pe, _ = populated
    cases = {"state": Param("state", "equals", ("WAITING",)), "health": Param("health", "equals", ("BROKEN",)),
             "owner": Param("owner", "equals", ("nobody",)), "external_id": Param("externalId", "equals", ("x",)),
             "process_uri": Param("processUri", "equals", ("x",)),
             "created_at": Param("createdAt", "greaterThan", ("2030-01-01T00:00:00Z",)),
             "finished_at": Param("finishedAt", "lessThan", ("2000-01-01T00:00:00Z",))}
    for column, tree in cases.items():
        statement = select(instances.c.execution_id).where(LIVE, condition(check(tree)))  # as find_instances
        plan = explain(pe, statement)
        assert f"ix_process_instances_{column}" in plan, (column, plan)


@pytest.mark.parametrize("ascending", [True, False])
def test_a_sort_by_any_field_comes_off_an_index_in_order(populated, ascending):
    """Every field a query may sort by, either way, paged deep: the rows come off one index in the
    sort's order, with no sort of every live instance (at 1M instances that sort took up to 9 s)."""
    pe, _ = populated
    for field in QueryField:
        statement = (select(instances.c.execution_id).where(LIVE)
                     .order_by(*order(order_of((SortCriterion(field.value, ascending),)))).offset(5000).limit(50))
        plan = explain(pe, statement)
        assert "TEMP B-TREE" not in plan and "Sort" not in plan, (field, plan)
        assert any(name in plan for name in ("ix_process_instances_", "pk_process_instances",
                                             "sqlite_autoindex_process_instances")), (field, plan)


def test_a_like_prefix_is_a_range_of_its_index(populated):
    """`externalId like 'ext-00%'` reads the index from the prefix on (at 1M instances: 6 ms, not 1.1 s)."""
    pe, _ = populated
    statement = select(instances.c.execution_id).where(LIVE, condition(check(Param("externalId", "like", ("ext-00%",)))))
    plan = explain(pe, statement)
    assert "ix_process_instances_external_id" in plan
    if pe.db.is_sqlite:
        assert "external_id>? AND external_id<?" in plan, plan
    else:
        assert "Index Cond" in plan and "~>=~" not in plan and ">=" in plan, plan


@pytest.mark.parametrize("query", ["due_timers", "next_timer"])
def test_timers_are_read_from_their_index_first(populated, query):
    """The housekeeper's timer queries (the due ones; when the next is due) walk the timers, then look
    their instances up: they never read every healthy or online instance (what SQLite chose at 1M
    instances: 0.4 s and 0.14 s every round)."""
    from datetime import datetime, timezone

    from engine.storage import instances as store

    pe, _ = populated
    if not pe.db.is_sqlite:
        pytest.skip("PostgreSQL plans the join itself (a merge of small sides)")
    seen = []

    class Capture:
        def execute(self, statement):
            seen.append(statement)
            return Capture()

        def scalar(self):
            return None

        def __iter__(self):
            return iter(())
    if query == "due_timers":
        store.due_timers(Capture(), datetime.now(timezone.utc), 500)
    else:
        store.next_timer(Capture())
    plan = explain(pe, seen[0]).splitlines()
    assert "wait_states" in plan[0] and "ix_wait_states_due_at" in plan[0], plan


def test_a_query_split_by_its_in_pages_as_one(engine_factory, repo):
    """`processUri in (…)` under an `and` is run as one query per value, merged: every page, sorted
    either way, is the slice of the whole order, with no instance twice or missing."""
    pe = engine_factory(repo)
    uris = ["a.ipd", "b.ipd", "c.ipd"]
    for uri in uris + ["other.ipd"]:
        write_definition(repo, uri, '<endElement id="e"/>')
    made = []
    for i in range(14):  # interleaved, some at the same millisecond
        made.append((ops.instantiate(pe, ADMIN, uris[i % 3] if i % 5 else "other.ipd").execution_id, i))
        if i % 2:
            time.sleep(0.002)
    tree = And((Param("state", "equals", ("CREATED",)), Param("processUri", "in", ("c.ipd", "a.ipd", "b.ipd", "a.ipd"))))
    for ascending in (True, False):
        sort = (SortCriterion("createdAt", ascending),)
        whole = [s.execution_id for s in ops.find_executions(pe, ADMIN, Query(tree, sort, 0, 100)).snapshots]
        unsplit = [s.execution_id for s in ops.find_executions(
            pe, ADMIN, Query(Or((tree,)), sort, 0, 100)).snapshots]  # an `or` is never split
        assert whole == unsplit and len(whole) == 11
        paged = [s.execution_id for offset in range(0, 12, 4)
                 for s in ops.find_executions(pe, ADMIN, Query(tree, sort, offset, 4)).snapshots]
        assert paged == whole


def explain(pe, statement) -> str:
    with pe.db.engine.connect() as conn:
        compiled = statement.compile(conn, compile_kwargs={"literal_binds": True})
        if pe.db.is_sqlite:
            rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}").fetchall()
        else:
            conn.exec_driver_sql("ANALYZE process_instances")  # else any index of the live rows looks as good
            conn.exec_driver_sql("SET enable_seqscan = off")
            rows = conn.exec_driver_sql(f"EXPLAIN {compiled}").fetchall()
        return "\n".join(str(r) for r in rows)


def test_dispose_processes_handles_more_than_one_batch(engine_factory, repo):
    pe = engine_factory(repo)
    write_definition(repo, "x.ipd", '<endElement id="e"/>')
    for _ in range(620):
        ops.instantiate(pe, ADMIN, "x.ipd")
    assert ops.dispose_processes(pe, ADMIN, Query()).count == 620
    assert find(pe).total == 0


def test_a_moment_on_a_whole_second_compares_as_the_same_moment(engine_factory, repo, monkeypatch):
    """Timestamps are written in one text form on SQLite, whichever statement writes them: an instance
    created exactly on a second is neither before nor after that second."""
    import uuid
    from datetime import datetime, timezone

    from engine.support import clock
    from engine.model.query import And

    pe = engine_factory(repo)
    uri = f"whole-{uuid.uuid4().hex[:8]}.ipd"
    write_definition(repo, uri, '<endElement id="end"/>')
    monkeypatch.setattr(clock, "now", lambda: datetime(2031, 1, 2, 3, 4, 5, tzinfo=timezone.utc))
    created = ops.instantiate(pe, ADMIN, uri).execution_id
    mine = Param("processUri", "equals", (uri,))
    for operator, expected in (("lessThan", set()), ("greaterThan", set()), ("equals", {created})):
        found = find(pe, And((mine, Param("createdAt", operator, ("2031-01-02T03:04:05Z",)))))
        assert ids_of(found) == expected, operator


# -- two-valued matching, like, the order of empty values (CONTRACT §5) ---------------------------------
def test_not_of_a_condition_on_an_empty_field_is_true(populated):
    """A condition on an empty field is false, so its `not` finds the processes without that field."""
    pe, ids = populated
    everything = set(ids["done"] + ids["hold"] + ids["new"])
    assert ids_of(find(pe, Not(Param("externalId", "equals", ("ext-0",))))) == everything - {ids["hold"][0]}
    assert ids_of(find(pe, Not(Param("externalId", "like", ("%",))))) == set(ids["done"])
    assert ids_of(find(pe, Not(Param("externalId", "in", ("ext-0", "fresh"))))) == set(ids["done"]) | {ids["hold"][1]}
    unfinished = set(ids["hold"] + ids["new"])
    assert ids_of(find(pe, Not(Param("finishedAt", "greaterThan", ("2000-01-01T00:00:00Z",))))) == unfinished
    assert ids_of(find(pe, Not(Not(Param("finishedAt", "lessThan", ("2999-01-01T00:00:00Z",)))))) == set(ids["done"])
    assert ids_of(find(pe, Not(Param("externalId", "isNull")))) == set(ids["hold"] + ids["new"])


def test_a_positive_condition_on_a_nullable_column_still_uses_its_index(populated):
    pe, _ = populated
    statement = select(instances.c.execution_id).where(LIVE, condition(check(Param("externalId", "equals", ("x",)))))
    assert "ix_process_instances_external_id" in explain(pe, statement)


@pytest.fixture
def named(engine_factory, repo):
    """Instances by external ID (None: without one), created in this order."""
    pe = engine_factory(repo)
    write_definition(repo, "x.ipd", '<endElement id="e"/>')

    def make(*external_ids):
        made = []
        for external_id in external_ids:  # createdAt counts milliseconds: one apart, so that order is theirs
            made.append(ops.instantiate(pe, ADMIN, "x.ipd", external_id=external_id).execution_id)
            time.sleep(0.002)
        return made
    return pe, make


def externals(result):
    return [s.external_id for s in result.snapshots]


def test_like_is_case_sensitive(named):
    pe, make = named
    make("Order-1", "order-2", "ORDER-3")
    assert externals(find(pe, Param("externalId", "like", ("order%",)))) == ["order-2"]
    assert externals(find(pe, Param("externalId", "like", ("%R%",)))) == ["ORDER-3"]
    assert externals(find(pe, Param("externalId", "like", ("_rder-_",)))) == ["Order-1", "order-2"]
    assert externals(find(pe, Param("externalId", "equals", ("order-1",)))) == []


def test_like_wildcards_and_their_escapes(named):
    pe, make = named
    make("50%_off", "50xyoff", "a*b?[c]", "back\\slash", "50%", "ends\\")
    like = lambda pattern: externals(find(pe, Param("externalId", "like", (pattern,))))  # noqa: E731
    assert like("50%off") == ["50%_off", "50xyoff"]
    assert like("50\\%\\_off") == ["50%_off"]
    assert like("50\\%") == ["50%"]
    assert like("50__off") == ["50%_off", "50xyoff"]   # _ is one character, whichever
    assert like("50_off") == []
    assert like("a*b?[c]") == ["a*b?[c]"]       # GLOB's own wildcards are plain characters
    assert like("a_b_[_]") == ["a*b?[c]"]
    assert like("back\\\\slash") == ["back\\slash"]
    assert like("back\\slash") == []           # a backslash makes any next character literal: "\s" is "s"
    assert like("%\\") == ["ends\\"]           # a lone backslash at the end stands for itself


def test_like_on_state_takes_a_pattern(named):
    pe, make = named
    make("a")
    assert externals(find(pe, Param("state", "like", ("CREA%",)))) == ["a"]
    assert externals(find(pe, Param("state", "like", ("crea%",)))) == []


def test_empty_values_sort_last_ascending_and_first_descending(named):
    pe, make = named
    make("b", None, "B", "a", None)
    up = externals(find(pe, sort=(SortCriterion("externalId", True),)))
    down = externals(find(pe, sort=(SortCriterion("externalId", False),)))
    assert up == ["B", "a", "b", None, None]          # code point order: upper case first
    assert down == [None, None, "b", "a", "B"]


def test_ties_keep_the_creation_order(named):
    """Ties on the sort fall back to createdAt, then executionId (two instances created within the same
    millisecond tie on createdAt too), the way the sort goes: a descending page is the ascending one
    reversed, as one index read backwards gives it."""
    pe, make = named
    made = make("same", "same", "same")
    created = {e: ops.get_process_snapshot(pe, ADMIN, e, peek=True).created_at for e in made}
    in_creation_order = sorted(made, key=lambda e: (created[e], e))
    for ascending in (True, False):
        result = find(pe, sort=(SortCriterion("externalId", ascending),))
        assert [s.execution_id for s in result.snapshots] == in_creation_order[::1 if ascending else -1]


# -- the query is optional; count; the bounded total ---------------------------------------------------
def test_no_query_finds_and_counts_everything_the_caller_may_read(populated):
    pe, ids = populated
    assert ops.find_executions(pe, ADMIN).total == 6 == ops.find_executions(pe, ADMIN, None).total
    assert ops.count_executions(pe, ADMIN) == 6
    bob = Principal("bob")
    ops.set_owner(pe, ADMIN, ids["done"][0], "bob")
    assert ops.count_executions(pe, bob) == 1 == ops.find_executions(pe, bob).total


def test_count_is_exact_and_ignores_paging(populated):
    pe, _ = populated
    query = Query(Param("processUri", "equals", ("done.ipd",)), (SortCriterion("state"),), offset=3, limit=1)
    assert ops.count_executions(pe, ADMIN, query) == 4
    with pytest.raises(InvalidQuery):
        ops.count_executions(pe, ADMIN, Query(sort=(SortCriterion("color"),)))


def test_the_total_is_exact_up_to_the_count_limit(engine_factory, repo):
    pe = engine_factory(repo, query={"count_limit": 3})
    write_definition(repo, "x.ipd", '<endElement id="e"/>')
    for _ in range(3):
        ops.instantiate(pe, ADMIN, "x.ipd")
    exact = find(pe, limit=1)
    assert (exact.total, exact.total_is_lower_bound, exact.total_relation) == (3, False, "eq")
    ops.instantiate(pe, ADMIN, "x.ipd")
    ops.instantiate(pe, ADMIN, "x.ipd")
    bounded = find(pe, limit=1)
    assert (bounded.total, bounded.total_is_lower_bound, bounded.total_relation) == (3, True, "gte")
    assert len(find(pe, offset=3).snapshots) == 2   # paging goes on past the count
    assert ops.count_executions(pe, ADMIN) == 5


# -- disposeProcesses and recoverProcesses honour paging and refuse rather than skip -------------------
def test_dispose_processes_disposes_one_page_in_the_querys_order(named):
    pe, make = named
    made = make("e", "d", "c", "b", "a")
    by_name = Query(sort=(SortCriterion("externalId"),), offset=1, limit=2)
    gone = ops.dispose_processes(pe, ADMIN, by_name, report_execution_ids=True)
    assert gone.execution_ids == (made[3], made[2])        # "b", "c", in that order
    assert externals(find(pe, sort=(SortCriterion("externalId"),))) == ["a", "d", "e"]
    assert ops.dispose_processes(pe, ADMIN, Query(limit=2)).count == 2   # a batch of 2 disposes 2
    assert find(pe).total == 1


def test_dispose_processes_needs_a_query(pe):
    from engine.errors import InvalidParameter
    with pytest.raises(InvalidParameter, match="query"):
        ops.dispose_processes(pe, ADMIN, None)


def test_dispose_processes_refuses_all_when_one_may_not_be_disposed(named):
    """A process the caller may read but not dispose is refused by name, and nothing goes; one the
    caller may dispose without reading it is selected; one the caller may neither read nor dispose is
    not selected at all."""
    pe, make = named
    mine, readable, disposable, hidden = make("mine", "readable", "disposable", "hidden")
    bob = Principal("bob")
    ops.set_owner(pe, ADMIN, mine, "bob")
    ops.set_permissions(pe, ADMIN, readable, "bob", ["read", "write", "execute"])
    ops.set_permissions(pe, ADMIN, disposable, "bob", ["dispose"])
    ops.set_permissions(pe, ADMIN, hidden, "bob", ["write"])
    from engine.errors import AuthorizationError
    with pytest.raises(AuthorizationError) as refused:
        ops.dispose_processes(pe, bob, Query())
    assert (refused.value.resource_id, refused.value.permission_name) == (readable, "dispose")
    assert find(pe).total == 4
    gone = ops.dispose_processes(pe, bob, Query(Not(Param("externalId", "equals", ("readable",))),
                                                (SortCriterion("externalId"),)), report_execution_ids=True)
    assert gone.execution_ids == (disposable, mine)
    ops.set_permissions(pe, ADMIN, readable, "bob", ["read", "dispose"])
    assert ops.dispose_processes(pe, bob, Query(), report_execution_ids=True).execution_ids == (readable,)
    assert ids_of(find(pe)) == {hidden}


def test_dispose_processes_names_the_active_process_and_disposes_nothing(named):
    pe, make = named
    first, second = make("first", "second")
    plant(pe, second, state="RUNNING", online=False)
    with pytest.raises(Exception) as refused:
        ops.dispose_processes(pe, ADMIN, Query())
    assert refused.value.type == "InvalidState" and second in str(refused.value)
    assert find(pe).total == 2
    page = Query(sort=(SortCriterion("externalId"),), limit=1)  # "first": not the order of creation, which may tie
    assert ops.dispose_processes(pe, ADMIN, page).count == 1   # the page without it
    plant(pe, second, state="FAILED")


def lost(pe, make, *names):
    made = make(*names)
    for execution_id in made:
        plant(pe, execution_id, state="READY", health="LOST", owner_node="gone-node", online=False)
    return made


def test_recover_processes_recovers_one_page_of_the_lost(named):
    pe, make = named
    make("healthy")
    made = lost(pe, make, "c", "b", "a")
    first = ops.recover_processes(pe, ADMIN, Query(sort=(SortCriterion("externalId", False),), limit=2),
                                  report_execution_ids=True)
    assert first.execution_ids == (made[0], made[1])            # "c", "b": the page is of LOST ones
    rest = ops.recover_processes(pe, ADMIN, None, report_execution_ids=True)
    assert rest.execution_ids == (made[2],)
    assert ops.recover_processes(pe, ADMIN).count == 0
    assert {s.health.state.value for s in find(pe).snapshots} == {"OK"}


def test_recover_processes_refuses_rather_than_skip(named):
    pe, make = named
    mine, readable, executable, hidden = lost(pe, make, "mine", "readable", "executable", "hidden")
    bob = Principal("bob")
    ops.set_owner(pe, ADMIN, mine, "bob")
    ops.set_permissions(pe, ADMIN, readable, "bob", ["read", "dispose"])
    ops.set_permissions(pe, ADMIN, executable, "bob", ["execute"])
    from engine.errors import AuthorizationError
    with pytest.raises(AuthorizationError) as refused:
        ops.recover_processes(pe, bob)
    assert (refused.value.resource_id, refused.value.permission_name) == (readable, "execute")
    assert ops.count_executions(pe, ADMIN, Query(Param("health", "equals", ("LOST",)))) == 4
    ops.set_permissions(pe, ADMIN, readable, "bob", ["read", "execute"])
    recovered = ops.recover_processes(pe, bob, report_execution_ids=True).execution_ids
    assert set(recovered) == {mine, readable, executable}
    assert ids_of(find(pe, Param("health", "equals", ("LOST",)))) == {hidden}
