"""findExecutions, disposeProcesses and recoverProcesses: the query tree compiled to SQL."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from engine import operations as ops
from engine.errors import InvalidQuery
from engine.query import And, Not, Or, Param, Query, SortCriterion, compile_where
from engine.security import ANONYMOUS_ADMIN as ADMIN, Principal
from engine.storage.instances import LIVE
from engine.storage.tables import instances
from tests.conftest import write_definition


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
    from engine.clock import format_timestamp
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
        statement = select(instances.c.execution_id).where(LIVE, compile_where(tree))  # as find_instances
        plan = explain(pe, statement)
        assert f"ix_process_instances_{column}" in plan, (column, plan)


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

    from engine import clock
    from engine.query import And

    pe = engine_factory(repo)
    uri = f"whole-{uuid.uuid4().hex[:8]}.ipd"
    write_definition(repo, uri, '<endElement id="end"/>')
    monkeypatch.setattr(clock, "now", lambda: datetime(2031, 1, 2, 3, 4, 5, tzinfo=timezone.utc))
    created = ops.instantiate(pe, ADMIN, uri).execution_id
    mine = Param("processUri", "equals", (uri,))
    for operator, expected in (("lessThan", set()), ("greaterThan", set()), ("equals", {created})):
        found = find(pe, And((mine, Param("createdAt", operator, ("2031-01-02T03:04:05Z",)))))
        assert ids_of(found) == expected, operator
