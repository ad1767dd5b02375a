"""The history (CONTRACT §12, issue 17): what a process's record holds after the process is gone, the
operation log of both doors' calls, queries over both, statistics and retention — on SQLite and
PostgreSQL."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import timedelta
from types import SimpleNamespace

import pytest

from engine import operations as ops
from engine.errors import AuthorizationError, InvalidQuery, NotFound
from engine.model.datastore import DataStore, make_value
from engine.model.history import Outcome
from engine.model.query import And, Param, Query, SortCriterion
from engine.runtime import history
from engine.model.states import ExecutionState
from engine.security.authorization import ANONYMOUS_ADMIN as ADMIN, Principal
from engine.support import clock
from tests.support.common import ROOT, write_definition

ALICE = Principal("alice", frozenset({"clerk"}))
BOB = Principal("bob", frozenset({"clerk"}))


def entry(name: str, text: str) -> DataStore:
    return DataStore([(name, [make_value("1", "text/plain", text)])])


@pytest.fixture
def history_pe(engine_factory, repo):
    write_definition(repo, "ok.ipd", '<assign id="a" name="x">done</assign>')
    write_definition(repo, "fails.ipd", '<fail id="boom" type="OrderRejected" message="no stock"/>')
    write_definition(repo, "waits.ipd", '<wait id="hold"/><assign id="a" name="x">done</assign>')
    write_definition(repo, "parent.ipd", '<call id="child" processUri="ok.ipd"/>')
    return engine_factory(repo)


def where(*params: Param) -> Query:
    return Query(And(params) if len(params) > 1 else params[0])


def test_a_run_answered_and_disposed_in_its_call_keeps_its_record(history_pe):
    before = clock.now()
    done = ops.run(history_pe, ALICE, "ok.ipd", external_id="order-4711")
    assert ops.find_executions(history_pe, ADMIN, where(Param("externalId", "equals", ("order-4711",)))).snapshots == ()
    record = ops.get_history(history_pe, ALICE, done.execution_id)
    assert (record.process_uri, record.external_id, record.owner, record.end_state) == \
        ("ok.ipd", "order-4711", "alice", "FINISHED")
    assert record.definition_version == 1 and record.parent_execution_id is None
    assert before <= record.created_at <= record.started_at <= record.finished_at <= clock.now()
    assert record.duration_ms == int((record.finished_at - record.started_at).total_seconds() * 1000)
    assert record.nodes == (history_pe.node_id,) and record.exception_type is None
    assert record.pipeline is None  # level instance keeps no pipeline
    (call,) = record.operations
    assert (call.operation, call.user, call.target_kind, call.target, call.outcome) == \
        ("run", "alice", "execution", done.execution_id, Outcome.OK)
    assert ("externalId", "order-4711") in call.parameters and ("processUri", "ok.ipd") in call.parameters


def test_a_failure_keeps_its_message_type_and_source(history_pe):
    failed = ops.run(history_pe, ALICE, "fails.ipd", auto_dispose="never")
    record = ops.get_history(history_pe, ALICE, failed.execution_id)
    assert (record.end_state, record.exception_type, record.exception_source, record.message) == \
        ("FAILED", "OrderRejected", "root.boom", "no stock")


def test_a_record_outlives_dispose_and_the_terminate_is_in_the_log(history_pe):
    waiting = ops.run(history_pe, ALICE, "waits.ipd", states=["WAITING"], peek=True)
    ops.terminate_process(history_pe, ALICE, waiting.execution_id, kill=True, message="customer cancelled")
    ops.dispose_process(history_pe, ALICE, waiting.execution_id)
    with pytest.raises(NotFound):
        ops.get_process_snapshot(history_pe, ALICE, waiting.execution_id)
    record = ops.get_history(history_pe, ALICE, waiting.execution_id)
    assert (record.end_state, record.message) == ("TERMINATED", "customer cancelled")
    calls = [(c.operation, c.outcome) for c in record.operations]
    assert calls == [("run", Outcome.OK), ("terminateProcess", Outcome.OK), ("disposeProcess", Outcome.OK)]
    terminate = record.operations[1]
    assert ("kill", "true") in terminate.parameters and ("message", "customer cancelled") in terminate.parameters


def test_a_fetch_that_disposes_an_ended_process_is_in_the_log_and_other_reads_are_not(history_pe):
    """An auditor asking who made a process disappear finds the fetch that disposed it (autoDispose
    `fetch`); a read that changes nothing — of a live process, a peek, a refused one — is no call the
    log keeps."""
    fetched, waited = (ops.run(history_pe, ALICE, "waits.ipd", states=["WAITING"], peek=True) for _ in range(2))
    ops.get_process_snapshot(history_pe, ALICE, fetched.execution_id)  # still waiting: nothing disposed
    ops.wait_for_process(history_pe, ALICE, waited.execution_id, timeout=0)
    with pytest.raises(AuthorizationError):
        ops.get_process_snapshot(history_pe, BOB, fetched.execution_id)
    for held in (fetched, waited):
        ops.terminate_process(history_pe, ALICE, held.execution_id, kill=True, peek=True)
    ops.get_process_snapshot(history_pe, ALICE, fetched.execution_id, peek=True)  # ended, but peeked at

    ops.get_process_snapshot(history_pe, ALICE, fetched.execution_id)
    ops.wait_for_process(history_pe, ADMIN, waited.execution_id, timeout=1000, inspect_pipeline=True)
    for held, user, operation in ((fetched, "alice", "getProcessSnapshot"), (waited, ADMIN.name, "waitForProcess")):
        with pytest.raises(NotFound):
            ops.get_process_snapshot(history_pe, ADMIN, held.execution_id, peek=True)
        calls = ops.get_history(history_pe, ADMIN, held.execution_id).operations
        assert [(c.operation, c.outcome) for c in calls] == [
            ("run", Outcome.OK), ("terminateProcess", Outcome.OK), (operation, Outcome.OK)]
        assert (calls[2].user, calls[2].target_kind, calls[2].target) == (user, "execution", held.execution_id)
    assert ops.get_history(history_pe, ADMIN, waited.execution_id).operations[2].parameters == (
        ("timeout", "1000"), ("inspectPipeline", "true"))
    assert {c.user for c in ops.find_operations(history_pe, ADMIN, Query()).items} == {"alice", ADMIN.name}


def test_a_refused_call_is_in_the_log_and_changes_nothing(history_pe):
    waiting = ops.run(history_pe, ALICE, "waits.ipd", states=["WAITING"], peek=True)
    with pytest.raises(AuthorizationError):
        ops.set_owner(history_pe, BOB, waiting.execution_id, "bob")
    (refused,) = ops.find_operations(history_pe, BOB, Query()).items
    assert (refused.operation, refused.user, refused.target, refused.outcome) == \
        ("setOwner", "bob", waiting.execution_id, Outcome.REFUSED)
    assert ops.get_process_snapshot(history_pe, ALICE, waiting.execution_id, peek=True).owner == "alice"
    # others see their own calls only; admins every call
    assert [c.operation for c in ops.find_operations(history_pe, ALICE, Query()).items] == ["run"]
    assert {c.user for c in ops.find_operations(history_pe, ADMIN, Query()).items} == {"alice", "bob"}


def test_others_see_the_records_of_processes_they_could_read(history_pe):
    mine = ops.run(history_pe, ALICE, "waits.ipd", states=["WAITING"], peek=True)
    shared = ops.run(history_pe, ALICE, "waits.ipd", states=["WAITING"], peek=True)
    ops.set_permissions(history_pe, ALICE, shared.execution_id, "bob", ["read"])
    for snapshot in (mine, shared):
        ops.terminate_process(history_pe, ALICE, snapshot.execution_id, kill=True)
    assert [r.execution_id for r in ops.find_history(history_pe, BOB, Query()).items] == [shared.execution_id]
    assert ops.get_history(history_pe, BOB, shared.execution_id).end_state == "TERMINATED"
    with pytest.raises(NotFound):
        ops.get_history(history_pe, BOB, mine.execution_id)
    assert ops.count_history(history_pe, ADMIN) == 2 and ops.count_history(history_pe, BOB) == 1


CAROL = Principal("carol", frozenset({"other"}))


def granted_and_not(pe) -> list[str]:
    """Nine processes of `waits.ipd`, terminated: Bob's own; Alice's granted to his name, to his role
    (clerk), to both, or to neither; one of his own granted to him besides; Carol's granted to his role,
    or not. The IDs of the seven Bob may read."""
    readable = []
    for owner, grants in ((BOB, ()), (ALICE, ("bob",)), (ALICE, ("clerk",)), (ALICE, ("bob", "clerk")), (ALICE, ()),
                          (BOB, ("bob",)), (CAROL, ("clerk",)), (CAROL, ()), (BOB, ())):
        snapshot = ops.run(pe, owner, "waits.ipd", states=["WAITING"], peek=True)
        for name in grants:
            ops.set_permissions(pe, owner, snapshot.execution_id, name, ["read"])
        ops.terminate_process(pe, owner, snapshot.execution_id, kill=True)
        if owner is BOB or grants:
            readable.append(snapshot.execution_id)
    return readable


def test_a_readers_pages_are_their_records_and_those_granted_them_each_once_in_order(history_pe):
    """Bob owns some records; others are granted to his name, to his role, or to both; one of his own is
    granted to him besides. Every page, whatever the sort and filter, is the admin's list cut to what
    Bob may read: sorted by default or by the end (the granted records read off the readers' indexes),
    either way, and by another field (the granted records read whole)."""
    readable = set(granted_and_not(history_pe))
    assert ops.count_history(history_pe, BOB) == len(readable) == 7
    sorts = [(), *((SortCriterion(field, ascending),) for field in ("finishedAt", "createdAt", "owner", "externalId")
                   for ascending in (True, False))]
    alices = And((Param("owner", "equals", ("alice",)), Param("processUri", "like", ("wait%",)),
                  Param("endState", "in", ("TERMINATED", "FAILED"))))
    for sort in sorts:
        for tree in (None, alices):
            everyone = [r.execution_id for r in ops.find_history(history_pe, ADMIN, Query(tree, sort)).items]
            expected = [execution_id for execution_id in everyone if execution_id in readable]
            assert len(expected) == (7 if tree is None else 3)
            for offset, limit in ((0, 2), (2, 2), (4, 2), (6, 2), (0, 1), (1, 1), (0, 100)):
                found = ops.find_history(history_pe, BOB, Query(tree, sort, offset=offset, limit=limit))
                assert [r.execution_id for r in found.items] == expected[offset:offset + limit], (sort, tree, offset)
                assert found.total == len(expected) and not found.lower_bound


@pytest.mark.parametrize("limit", [1, 2, 3, 5, 6])
def test_a_readers_total_is_exact_up_to_the_count_limit_across_their_own_and_granted_records(engine_factory, repo,
                                                                                             limit):
    """Bob owns two records and his role may read three: the total counts his own first, then the
    granted ones only as far as the limit still needs; past it, the limit, marked a lower bound."""
    write_definition(repo, "waits.ipd", '<wait id="hold"/>')
    pe = engine_factory(repo, query={"count_limit": limit})
    for owner, grant in ((BOB, None), (BOB, None), (ALICE, "clerk"), (ALICE, "clerk"), (ALICE, "clerk"), (ALICE, None)):
        snapshot = ops.run(pe, owner, "waits.ipd", states=["WAITING"], peek=True)
        if grant:
            ops.set_permissions(pe, owner, snapshot.execution_id, grant, ["read"])
        ops.terminate_process(pe, owner, snapshot.execution_id, kill=True)
    found = ops.find_history(pe, BOB, Query(limit=1))
    assert (found.total, found.lower_bound) == (min(5, limit), 5 > limit)
    assert ops.count_history(pe, BOB) == 5


def test_a_called_child_names_its_parent(history_pe):
    parent = ops.run(history_pe, ADMIN, "parent.ipd", auto_dispose="never")
    (child,) = ops.find_history(history_pe, ADMIN, where(Param("parent", "equals", (parent.execution_id,)))).items
    assert (child.process_uri, child.end_state) == ("ok.ipd", "FINISHED")
    assert ops.get_history(history_pe, ADMIN, parent.execution_id).end_state == "FINISHED"


def test_the_history_query_filters_sorts_and_pages_with_its_own_fields(history_pe):
    for _ in range(3):
        ops.run(history_pe, ADMIN, "ok.ipd")
    for _ in range(2):
        ops.run(history_pe, ADMIN, "fails.ipd")
    failed = ops.find_history(history_pe, ADMIN, where(Param("endState", "equals", ("FAILED",))))
    assert failed.total == 2 and {r.process_uri for r in failed.items} == {"fails.ipd"}
    newest = ops.find_history(history_pe, ADMIN, Query(sort=(SortCriterion("finishedAt", False),), limit=2))
    assert newest.total == 5 and len(newest.items) == 2 and newest.items[0].finished_at >= newest.items[1].finished_at
    slow = ops.find_history(history_pe, ADMIN, where(Param("durationMs", "greaterThan", ("-1",)),
                                                      Param("processUri", "in", ("ok.ipd", "x.ipd"))))
    assert slow.total == 3
    with pytest.raises(InvalidQuery, match="durationMs"):
        ops.find_history(history_pe, ADMIN, where(Param("durationMs", "like", ("1%",))))
    with pytest.raises(InvalidQuery, match="unknown field 'health'"):  # a live process's field, not a record's
        ops.find_history(history_pe, ADMIN, where(Param("health", "equals", ("OK",))))


def test_statistics_count_end_states_and_durations_per_process(history_pe):
    start = clock.now()
    for _ in range(3):
        ops.run(history_pe, ADMIN, "ok.ipd")
    ops.run(history_pe, ADMIN, "fails.ipd")
    fails, ok = ops.get_history_statistics(history_pe, ADMIN, from_time=start)  # by processUri
    assert (ok.process_uri, ok.count, ok.by_end_state, ok.failure_rate) == ("ok.ipd", 3, (("FINISHED", 3),), 0.0)
    assert (fails.count, fails.failure_rate) == (1, 1.0)
    assert ok.duration_p50_ms is not None and ok.duration_p50_ms <= ok.duration_p95_ms <= ok.duration_max_ms
    (only,) = ops.get_history_statistics(history_pe, ADMIN, "fails.ipd")
    assert only.process_uri == "fails.ipd"
    assert ops.get_history_statistics(history_pe, ADMIN, from_time=clock.now() + timedelta(hours=1)) == ()


def test_level_none_keeps_nothing(engine_factory, repo):
    write_definition(repo, "ok.ipd", '<assign id="a" name="x">done</assign>')
    pe = engine_factory(repo, history={"level": "none"})
    done = ops.run(pe, ADMIN, "ok.ipd")
    with pytest.raises(NotFound):
        ops.get_history(pe, ADMIN, done.execution_id)
    assert ops.find_operations(pe, ADMIN, Query()).total == 0


def test_level_full_keeps_the_end_pipeline_and_each_assigns_entry_as_it_left_it(engine_factory, repo):
    write_definition(repo, "full.ipd",
                     '<assign id="a" name="x">one</assign><assign id="b" name="x" append="true" select="\'two\'"/>'
                     '<while id="w" test="count($x) &lt; 3"><assign id="n" name="x" append="true" select="$in"/></while>'
                     '<wait id="hold"/><remove id="r" name="x"/><assign id="c" name="y" select="concat($in, \'!\')"/>')
    pe = engine_factory(repo, history={"level": "full"})
    waiting = ops.run(pe, ADMIN, "full.ipd", process_params=entry("in", "three"), states=["WAITING"])
    ops.start_process(pe, ADMIN, waiting.execution_id, process_params=entry("in", "four"))
    record = ops.get_history(pe, ADMIN, waiting.execution_id)
    assert record.pipeline.first_text("y") == "four!" and "x" not in record.pipeline
    data = [(v.id, v.data and [(name, [value.text for value in values]) for name, values in v.data.entries()])
            for v in record.elements]
    assert data == [  # each assign's entry alone, as it left it — across the save at the wait too
        ("root.start", None), ("root.a", [("x", ["one"])]), ("root.b", [("x", ["one", "two"])]),
        ("root.w", None), ("root.w.n", [("x", ["one", "two", "three"])]), ("root.hold", None), ("root.r", None),
        ("root.c", [("y", ["four!"])])]


def test_level_activity_keeps_no_entry_data(engine_factory, repo):
    write_definition(repo, "ok.ipd", '<assign id="a" name="x">done</assign>')
    pe = engine_factory(repo, history={"level": "activity"})
    record = ops.get_history(pe, ADMIN, ops.run(pe, ADMIN, "ok.ipd").execution_id)
    assert [v.id for v in record.elements] == ["root.start", "root.a"] and record.pipeline is None
    assert all(v.data is None for v in record.elements)


@pytest.fixture
def five_staged(engine_factory, repo, monkeypatch) -> SimpleNamespace:
    """An engine that moves staged history in batches of two and never in the background (each of those
    rounds moves what is staged first), and the five runs whose records it has staged (`ended`)."""
    from engine.runtime.cluster import housekeeping

    for background in ("HISTORY_MOVE_EVERY_S", "HISTORY_ROLL_UP_EVERY_S"):
        monkeypatch.setattr(housekeeping, background, 1e9)
    monkeypatch.setattr(history, "MOVE_BATCH", 2)
    write_definition(repo, "ok.ipd", '<assign id="a" name="x">done</assign>')
    pe = engine_factory(repo)
    ended = {ops.run(pe, ADMIN, "ok.ipd", auto_dispose="never").execution_id for _ in range(5)}
    return SimpleNamespace(pe=pe, ended=ended)


def test_a_history_query_moves_all_that_was_staged_batch_after_batch(five_staged):
    """Ends stage their records, moved on a batch per transaction: a query first moves them all, however
    many batches that takes, and what it moved is not there to move again."""
    from engine.storage.tables import process_history_staged

    pe, ended = five_staged.pe, five_staged.ended
    with pe.db.unit_of_work(write=False) as uow:
        assert len(uow.conn.execute(process_history_staged.select()).all()) == 5
    assert ops.count_history(pe, ADMIN) == 5
    assert {r.execution_id for r in ops.find_history(pe, ADMIN).items} == ended
    assert len(ops.find_operations(pe, ADMIN, Query(Param("operation", "equals", ("run",)))).items) == 5
    assert history.catch_up(pe) == 0


def test_a_query_moves_all_that_was_staged_when_another_mover_holds_the_oldest(five_staged):
    """Another node's background move holds the oldest staged rows when a query moves what is staged:
    the query waits for it, and then moves the rest as well — it does not stop at the batch it found
    taken, and answers with every record ended before it."""
    import threading

    from engine.storage import history as staged_rows

    pe = five_staged.pe  # (the mover below is the only other one)
    counted: list[int] = []
    with pe.db.unit_of_work() as other:  # the other mover: the oldest two taken, not yet committed
        assert staged_rows.move_staged(other.conn, 2) == 2
        query = threading.Thread(target=lambda: counted.append(ops.count_history(pe, ADMIN)))
        query.start()
        query.join(0.5)
        assert counted == []  # waiting for the other mover's rows (or, on SQLite, for its write lock)
        other.commit()
    query.join(30)
    assert counted == [5]
    assert history.catch_up(pe) == 0


def test_retention_deletes_exactly_the_expired_rows(history_pe):
    from engine.storage.tables import history_days, operation_log, process_history

    old = ops.run(history_pe, ADMIN, "ok.ipd")
    new = ops.run(history_pe, ADMIN, "ok.ipd")
    long_ago = clock.now() - timedelta(days=history_pe.settings.history.ttl_days, minutes=1)
    history.catch_up(history_pe)  # the records as the engine's queries see them, staged ones moved
    with history_pe.db.unit_of_work() as uow:
        uow.conn.execute(process_history.update().where(process_history.c.execution_id == old.execution_id)
                         .values(created_at=long_ago, started_at=long_ago, finished_at=long_ago))
        uow.conn.execute(operation_log.update().where(operation_log.c.target == old.execution_id).values(at=long_ago))
        uow.conn.execute(history_days.insert(), [  # a day rolled up then, and one wholly inside the retention
            {"day": (long_ago - timedelta(days=1)).date(), "process_uri": "ok.ipd", "counts": "{}", "longest_ms": 0,
             "durations": "[]", "rolled_at": long_ago},
            {"day": (long_ago + timedelta(days=1)).date(), "process_uri": "ok.ipd", "counts": "{}", "longest_ms": 0,
             "durations": "[]", "rolled_at": long_ago}])
        uow.commit()
    assert history.purge(history_pe) <= 3  # (the master's own retention round may have come first)
    with history_pe.db.unit_of_work(write=False) as uow:
        days = {row.day for row in uow.conn.execute(history_days.select())}  # (the master may have rolled up one)
    assert (long_ago + timedelta(days=1)).date() in days and (long_ago - timedelta(days=1)).date() not in days
    with pytest.raises(NotFound):
        ops.get_history(history_pe, ADMIN, old.execution_id)
    assert ops.find_operations(history_pe, ADMIN, Query(Param("target", "equals", (old.execution_id,)))).total == 0
    assert [c.operation for c in ops.get_history(history_pe, ADMIN, new.execution_id).operations] == ["run"]
    assert history.purge(history_pe) == 0


def _expire(pe, execution_ids, ttl_days: int) -> None:
    """Records of these executions as if they had ended past a retention of `ttl_days`."""
    from engine.storage.tables import process_history

    long_ago = clock.now() - timedelta(days=ttl_days, minutes=1)
    history.catch_up(pe)
    with pe.db.unit_of_work() as uow:
        uow.conn.execute(process_history.update().where(process_history.c.execution_id.in_(execution_ids))
                         .values(created_at=long_ago, started_at=long_ago, finished_at=long_ago))
        uow.commit()


def test_retention_rests_nine_times_as_long_as_each_batch_took(engine_factory, repo):
    from engine.settings import HistorySettings

    write_definition(repo, "ok.ipd", '<assign id="a" name="x">done</assign>')
    pe = engine_factory(repo, history={"ttl_days": 3650})  # (its own retention finds nothing to delete)
    expired = [ops.run(pe, ADMIN, "ok.ipd").execution_id for _ in range(3)]
    kept = ops.run(pe, ADMIN, "ok.ipd").execution_id
    _expire(pe, expired, 30)
    retention = history.Retention(SimpleNamespace(db=pe.db, settings=SimpleNamespace(
        history=HistorySettings(ttl_days=30, purge_batch=1))), share=0.1, every_s=60.0)
    for _ in range(3):  # a full batch each: there may be more
        assert retention.step() == pytest.approx(9 * retention.took) and retention.more
    assert retention.step() == 60.0 and not retention.more  # nothing left: it looks again in a minute
    assert retention.deleted == 3
    for execution_id in expired:
        with pytest.raises(NotFound):
            ops.get_history(pe, ADMIN, execution_id)
    assert ops.get_history(pe, ADMIN, kept).execution_id == kept


def test_the_master_deletes_expired_history_by_itself(engine_factory, repo, monkeypatch):
    monkeypatch.setattr(history, "PURGE_EVERY_S", 0.2)  # (a minute, else)
    write_definition(repo, "ok.ipd", '<assign id="a" name="x">done</assign>')
    pe = engine_factory(repo)
    old, new = (ops.run(pe, ADMIN, "ok.ipd").execution_id for _ in range(2))
    _expire(pe, [old], pe.settings.history.ttl_days)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            ops.get_history(pe, ADMIN, old)
        except NotFound:
            break
        time.sleep(0.1)
    with pytest.raises(NotFound):
        ops.get_history(pe, ADMIN, old)
    assert ops.get_history(pe, ADMIN, new).execution_id == new


def test_a_state_change_and_its_log_row_are_one_commit(history_pe):
    waiting = ops.run(history_pe, ALICE, "waits.ipd", states=["WAITING"], peek=True)
    ops.set_owner(history_pe, ALICE, waiting.execution_id, "carol")
    (call,) = [c for c in ops.find_operations(history_pe, ADMIN, Query()).items if c.operation == "setOwner"]
    assert call.outcome is Outcome.OK and ("owner", "carol") in call.parameters
    assert ops.get_process_snapshot(history_pe, ADMIN, waiting.execution_id, peek=True).state is ExecutionState.WAITING


def visits(record) -> list[tuple]:
    return [(v.id, v.outcome, v.iteration) for v in record.elements]


def test_level_activity_keeps_each_element_passed_with_its_outcome_and_iteration(engine_factory, repo):
    write_definition(repo, "trail.ipd",
                     '<assign id="i" name="i">0</assign>'
                     '<while id="w" test="$i &lt; 2"><assign id="n" name="i" select="$i + 1"/></while>'
                     '<scope id="s"><fail id="boom" type="X" message="m"/><assign id="never" name="x">1</assign>'
                     '<onError><assign id="h" name="handled">yes</assign></onError></scope>'
                     '<wait id="hold"/><endElement id="end"/>')
    pe = engine_factory(repo, history={"level": "activity"})
    waiting = ops.run(pe, ADMIN, "trail.ipd", states=["WAITING"], peek=True)
    done = ops.start_process(pe, ADMIN, waiting.execution_id)
    assert done.state is ExecutionState.FINISHED
    record = ops.get_history(pe, ADMIN, waiting.execution_id)
    assert visits(record) == [  # in the order they were entered
        ("root.start", "completed", None), ("root.i", "completed", None), ("root.w", "completed", None),
        ("root.w.n", "completed", 1), ("root.w.n", "completed", 2),
        ("root.s", "completed", None), ("root.s.boom", "caught", None), ("root.s.h", "completed", None),
        ("root.hold", "completed", None), ("root.end", "completed", None)]
    hold = next(v for v in record.elements if v.id == "root.hold")
    assert hold.left_at - hold.entered_at >= timedelta(0) and hold.left_at <= record.finished_at
    assert all(v.node == pe.node_id for v in record.elements)


def test_level_activity_marks_what_a_failure_or_a_kill_leaves_unfinished(engine_factory, repo):
    write_definition(repo, "fails.ipd", '<scope id="s"><fail id="boom" type="X" message="m"/></scope>')
    write_definition(repo, "waits.ipd", '<scope id="s"><wait id="hold"/></scope>')
    pe = engine_factory(repo, history={"level": "activity"})
    failed = ops.run(pe, ADMIN, "fails.ipd")
    assert visits(ops.get_history(pe, ADMIN, failed.execution_id))[1:] == [("root.s", "failed", None),
                                                                          ("root.s.boom", "failed", None)]
    waiting = ops.run(pe, ADMIN, "waits.ipd", states=["WAITING"], peek=True, auto_dispose="never")
    ops.terminate_process(pe, ADMIN, waiting.execution_id)
    ended = ops.wait_for_process(pe, ADMIN, waiting.execution_id, timeout=10000, peek=True)
    assert ended.state is ExecutionState.TERMINATED
    assert visits(ops.get_history(pe, ADMIN, waiting.execution_id))[1:] == [("root.s", "terminated", None),
                                                                           ("root.s.hold", "terminated", None)]


def test_level_instance_keeps_no_trail(history_pe):
    done = ops.run(history_pe, ADMIN, "ok.ipd")
    assert ops.get_history(history_pe, ADMIN, done.execution_id).elements == ()


def test_statistics_at_level_activity_count_each_element(engine_factory, repo):
    write_definition(repo, "mixed.ipd", '<if id="odd" test="$n = \'1\'"><then><fail id="boom" type="X" message="m"/>'
                     '</then></if><assign id="a" name="x">done</assign>',
                     params='<parameter name="n" type="text/plain">0</parameter>')
    pe = engine_factory(repo, history={"level": "activity"})
    from engine.model.datastore import DataStore, make_value
    for n in ("0", "0", "1"):
        ops.run(pe, ADMIN, "mixed.ipd", process_params=DataStore([("n", [make_value("1", "text/plain", n)])]))
    (stats,) = ops.get_history_statistics(pe, ADMIN, "mixed.ipd")
    assert (stats.count, stats.failure_rate) == (3, pytest.approx(1 / 3))
    by_id = {e.id: e for e in stats.elements}
    assert (by_id["root.odd"].count, by_id["root.odd"].failed) == (3, 1)
    assert (by_id["root.odd.boom"].count, by_id["root.odd.boom"].failed) == (1, 1)
    assert (by_id["root.a"].count, by_id["root.a"].failed) == (2, 0)
    assert by_id["root.a"].duration_max_ms is not None


def test_a_readers_statistics_are_those_of_the_records_they_may_read_each_once(engine_factory, repo):
    """Bob's statistics count his own records and those granted to his name or role — one granted to
    both, once — and no other: by end state, durations (nearest rank) and, at level activity, per
    element."""
    write_definition(repo, "waits.ipd", '<wait id="hold"/><assign id="a" name="x">done</assign>')
    pe = engine_factory(repo, history={"level": "activity"})
    readable = granted_and_not(pe)
    (stats,) = ops.get_history_statistics(pe, BOB, "waits.ipd")
    assert (stats.count, stats.by_end_state, stats.failure_rate) == (7, (("TERMINATED", 7),), 0.0)
    durations = sorted(ops.get_history(pe, ADMIN, e).duration_ms for e in readable)
    assert (stats.duration_p50_ms, stats.duration_p95_ms, stats.duration_max_ms) == \
        (durations[-(-50 * 7 // 100) - 1], durations[-(-95 * 7 // 100) - 1], durations[-1])
    assert {e.id: e.count for e in stats.elements} == {"root.start": 7}  # (killed waiting: the wait never left)
    (everyone,) = ops.get_history_statistics(pe, ADMIN, "waits.ipd")
    assert everyone.count == 9
    (carols,) = ops.get_history_statistics(pe, CAROL, "waits.ipd")
    assert carols.count == 2


KILLED_AFTER_ANSWER = """
import os, signal, sys
from config.settings import load_settings
from engine import operations as ops
from engine.security.authorization import Principal
pe = ops.new_engine(load_settings({}).with_overrides(
    storage={"url": sys.argv[1]}, repository={"path": sys.argv[2]}, engine={"node_id": "doomed"},
    history={"level": sys.argv[3]}, services=())).start()
answer = ops.run(pe, Principal("alice"), "ok.ipd", external_id="answered")
print(answer.execution_id, answer.state.value, flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


@pytest.mark.parametrize("level", ["instance", "activity"])
def test_a_run_killed_right_after_its_answer_keeps_its_record(engine_factory, repo, storage_url, level):
    """kill -9 the moment `run` has answered: the record of the process it ran is there (it was
    committed before the answer), and so are the call in the log and, at `activity`, its elements."""
    write_definition(repo, "ok.ipd", '<assign id="a" name="x">done</assign>')
    done = subprocess.run([sys.executable, "-c", KILLED_AFTER_ANSWER, storage_url, str(repo), level], cwd=ROOT,
                          capture_output=True, text=True, timeout=60, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == -9, done.stderr
    execution_id, state = done.stdout.split()
    assert state == "FINISHED"
    pe = engine_factory(repo)
    record = ops.get_history(pe, ADMIN, execution_id)
    assert (record.end_state, record.external_id, record.nodes) == ("FINISHED", "answered", ("doomed",))
    assert [(c.operation, c.user) for c in record.operations] == [("run", "alice")]
    assert [(v.id, v.node) for v in record.elements] == ([] if level == "instance" else
                                                         [("root.start", "doomed"), ("root.a", "doomed")])


def test_statistics_durations_are_nearest_rank_percentiles(history_pe):
    from engine.storage.tables import process_history

    ran = [ops.run(history_pe, ADMIN, "ok.ipd").execution_id for _ in range(20)]
    history.catch_up(history_pe)  # the records as the engine's queries see them, staged ones moved
    with history_pe.db.unit_of_work() as uow:
        for i, execution_id in enumerate(ran, start=1):
            uow.conn.execute(process_history.update().where(process_history.c.execution_id == execution_id)
                             .values(duration_ms=10 * i))
        uow.commit()
    (stats,) = ops.get_history_statistics(history_pe, ADMIN, "ok.ipd")
    assert (stats.count, stats.duration_p50_ms, stats.duration_p95_ms, stats.duration_max_ms) == (20, 100, 190, 200)


def test_statistics_over_rolled_up_days_agree_with_the_records(history_pe):
    from engine.storage.tables import history_days, process_history

    ran = [ops.run(history_pe, ADMIN, "fails.ipd" if i % 4 == 0 else "ok.ipd").execution_id for i in range(40)]
    now = clock.now()
    history.catch_up(history_pe)  # the records as the engine's queries see them, staged ones moved
    with history_pe.db.unit_of_work() as uow:  # spread over today and the 5 days before, 40 ms to ~40 s long
        for i, execution_id in enumerate(ran):
            uow.conn.execute(process_history.update().where(process_history.c.execution_id == execution_id)
                             .values(finished_at=now - timedelta(days=i % 6, minutes=i), duration_ms=37 * i * i + 40))
        uow.commit()
    window = {"from_time": now - timedelta(days=4, hours=12)}  # half a day, then whole days, then today
    exact = ops.get_history_statistics(history_pe, ADMIN, **window)
    history.roll_up(history_pe, most=10)  # (the master's own round may roll up one of them first)
    assert history.roll_up(history_pe, most=10) == 0  # each day once
    with history_pe.db.unit_of_work(write=False) as uow:  # the 5 days before today (yesterday once ROLL_AFTER old)
        rolled = {row.day for row in uow.conn.execute(history_days.select())}
    assert {(now - timedelta(days=d)).date() for d in range(2, 6)} <= rolled <= \
        {(now - timedelta(days=d)).date() for d in range(1, 6)}
    summed = ops.get_history_statistics(history_pe, ADMIN, **window)
    assert [(s.process_uri, s.count, s.by_end_state, s.failure_rate, s.duration_max_ms) for s in summed] == \
        [(s.process_uri, s.count, s.by_end_state, s.failure_rate, s.duration_max_ms) for s in exact]
    for rolled, read in zip(summed, exact):  # percentiles from 1 % buckets
        for approximate, value in ((rolled.duration_p50_ms, read.duration_p50_ms),
                                   (rolled.duration_p95_ms, read.duration_p95_ms)):
            assert value * 0.99 <= approximate <= value
    assert ops.get_history_statistics(history_pe, ADMIN) == ops.get_history_statistics(history_pe, ADMIN, **{
        "from_time": now - timedelta(days=30)})  # no start: every record, the rolled-up days among them
    with history_pe.db.unit_of_work() as uow:  # a whole day inside the window is read from its sums alone
        two_days_ago = history.start_of((now - timedelta(days=2)).date())
        uow.conn.execute(process_history.delete().where(process_history.c.finished_at >= two_days_ago,
                                                        process_history.c.finished_at < two_days_ago + timedelta(days=1)))
        uow.commit()
    assert [s.count for s in ops.get_history_statistics(history_pe, ADMIN, **window)] == [s.count for s in exact]


def test_element_statistics_over_rolled_up_days_agree_with_the_trails(engine_factory, repo):
    from engine.storage.tables import history_trails, process_history

    write_definition(repo, "steps.ipd", '<assign id="a" name="x">1</assign><if id="i" test="$in = \'no\'"><then>'
                     '<fail id="f" type="X" message="m"/></then></if>',
                     params='<parameter name="in" type="text/plain">yes</parameter>')
    pe = engine_factory(repo, history={"level": "activity"})
    ran = [ops.run(pe, ADMIN, "steps.ipd", process_params=entry("in", "no" if i % 3 == 0 else "yes")).execution_id
           for i in range(12)]
    now = clock.now()
    history.catch_up(pe)
    with pe.db.unit_of_work() as uow:  # ended over the 4 days before today
        for i, execution_id in enumerate(ran):
            uow.conn.execute(process_history.update().where(process_history.c.execution_id == execution_id)
                             .values(finished_at=now - timedelta(days=1 + i % 4, hours=1)))
        uow.commit()
    window = {"from_time": now - timedelta(days=4, hours=12)}
    (exact,) = ops.get_history_statistics(pe, ADMIN, **window)
    history.roll_up(pe, most=10)
    (summed,) = ops.get_history_statistics(pe, ADMIN, **window)
    assert [(e.id, e.count, e.failed) for e in summed.elements] == [(e.id, e.count, e.failed) for e in exact.elements]
    assert ("root.i.f", 4, 4) in [(e.id, e.count, e.failed) for e in summed.elements]
    assert [(e.duration_p50_ms, e.duration_max_ms) for e in summed.elements] == \
        [(e.duration_p50_ms, e.duration_max_ms) for e in exact.elements]  # (short: exact in buckets too)
    with pe.db.unit_of_work() as uow:  # read from the sums: the trails of whole days are not read again
        uow.conn.execute(history_trails.delete())
        uow.commit()
    rolled = {(now - timedelta(days=d)).date() for d in range(2, 5)}  # (yesterday only once ROLL_AFTER old)
    (after,) = ops.get_history_statistics(pe, ADMIN, from_time=history.start_of(min(rolled)),
                                          to_time=history.start_of(max(rolled) + timedelta(days=1)))
    assert ("root.a", 9, 0) in [(e.id, e.count, e.failed) for e in after.elements]


def test_a_bulk_call_shows_in_the_history_of_each_process_it_changed(history_pe):
    ended = [ops.run(history_pe, ALICE, "fails.ipd", external_id="bulk", auto_dispose="never").execution_id
             for _ in range(2)]
    ops.dispose_processes(history_pe, ALICE, where(Param("externalId", "equals", ("bulk",))))
    for execution_id in ended:
        assert [c.operation for c in ops.get_history(history_pe, ALICE, execution_id).operations] == \
            ["run", "disposeProcesses"]
    (bulk,) = [c for c in ops.find_operations(history_pe, ALICE, Query()).items if c.target_kind == "executions"]
    assert bulk.operation == "disposeProcesses" and bulk.outcome is Outcome.OK
