"""How definitions execute: every element of the IPD language, handlers, waits, breakpoints, calls."""
from __future__ import annotations

import time

import pytest

from engine import operations as ops
from engine.model.datastore import DataStore, make_value
from engine.errors import InvalidParameter, InvalidState, NotFound
from engine.security.authorization import ANONYMOUS_ADMIN as ADMIN
from engine.model.states import ExecutionState as S, HealthState
from engine.storage import instances as store
from tests.support.common import settles, write_definition


def params(**entries: str | list[str]) -> DataStore:
    store_ = DataStore()
    for name, value in entries.items():
        values = value if isinstance(value, list) else [value]
        store_.set(name, [make_value(str(i), "text/plain", v) for i, v in enumerate(values, 1)])
    return store_


def texts(snapshot, name: str) -> list[str]:
    return [v.text for v in snapshot.pipeline.get(name)]


@pytest.fixture
def run_body(engine_factory, repo):
    """Run a definition made of `body`, synchronously, and return its end snapshot."""
    pe = engine_factory(repo)

    def run(body: str, name: str = "p.ipd", given: DataStore | None = None, **kw):
        write_definition(repo, name, body, kw.pop("declare", ""), kw.pop("constants", ""))
        return ops.run(pe, ADMIN, name, process_params=given, timeout=kw.pop("timeout", 10000), **kw)
    run.pe, run.repo = pe, repo
    return run


def test_assign_select_literal_append_and_remove(run_body):
    snap = run_body('<assign id="a" name="x" select="40 + 2"/><assign id="b" name="y">lit</assign>'
                    '<assign id="c" name="y" append="true" select="concat($y, \'!\')"/>'
                    '<assign id="d" name="gone">1</assign><remove id="e" name="gone"/><endElement id="end"/>')
    assert snap.state is S.FINISHED
    assert texts(snap, "x") == ["42"]
    assert texts(snap, "y") == ["lit", "lit!"]
    assert "gone" not in snap.pipeline


def test_assign_keeps_value_identity_when_copying_an_entry(run_body):
    snap = run_body('<assign id="a" name="a">v</assign><assign id="b" name="b" select="$a"/>')
    assert snap.pipeline.get("a")[0] is snap.pipeline.get("b")[0] or \
        snap.pipeline.get("a")[0].id == snap.pipeline.get("b")[0].id
    assert len(snap.pipeline.values()) == 1  # one value, shared by two entries


def test_xml_values_are_navigable_and_typed(run_body):
    snap = run_body('<assign id="o" name="order" type="text/xml"><order xmlns="" id="7"><item>a</item><item>b</item></order></assign>'
                    '<assign id="n" name="n" select="count($order/item)"/>'
                    '<assign id="i" name="items" select="$order/item"/><assign id="at" name="id" select="$order/@id"/>')
    assert texts(snap, "n") == ["2"]
    assert [v.type for v in snap.pipeline.get("items")] == ["text/xml", "text/xml"]
    assert texts(snap, "items") == ["<item>a</item>", "<item>b</item>"]
    assert texts(snap, "id") == ["7"]


def test_if_then_else_and_full_ids(run_body):
    body = ('<if id="check" test="$n &gt; 5"><then><assign id="big" name="r">big</assign></then>'
            '<else><assign id="small" name="r">small</assign></else></if><endElement id="end"/>')
    assert texts(run_body(body, given=params(n="9")), "r") == ["big"]
    assert texts(run_body(body, given=params(n="1")), "r") == ["small"]


def test_while_and_for_each(run_body):
    snap = run_body('<assign id="i" name="i">0</assign>'
                    '<while id="w" test="$i &lt; 5"><assign id="inc" name="i" select="$i + 1"/></while>'
                    '<assign id="s" name="sum">0</assign>'
                    '<forEach id="f" select="$list" var="x"><assign id="add" name="sum" select="$sum + $x"/></forEach>',
                    given=params(list=["1", "2", "3"]))
    assert texts(snap, "i") == ["5"] and texts(snap, "sum") == ["6"] and texts(snap, "x") == ["3"]


def test_while_max_iterations_fails_the_process(run_body):
    snap = run_body('<while id="w" test="true()" maxIterations="3"><assign id="a" name="a">x</assign></while>')
    assert snap.state is S.FAILED
    assert snap.exception.type == "MaxIterationsExceeded" and snap.exception.source == "root.w"


def test_sample_loop_counts_and_sums(pe):
    snap = ops.run(pe, ADMIN, "loop.ipd", process_params=params(count="20"))
    assert snap.state is S.FINISHED and snap.pipeline.first_text("sum") == str(sum(range(21)))


def test_unhandled_fail_ends_failed_with_report(run_body):
    snap = run_body('<fail id="boom" type="Bad" message="went {$what}"/><endElement id="end"/>',
                    given=params(what="wrong"))
    assert snap.state is S.FAILED and snap.message == "went wrong"
    assert (snap.exception.type, snap.exception.message, snap.exception.source) == ("Bad", "went wrong", "root.boom")
    assert snap.current_element == "root.boom"


def test_on_error_handles_a_failure_and_sees_the_error(pe):
    snap = ops.run(pe, ADMIN, "handled-failure.ipd")
    assert snap.state is S.FINISHED
    assert snap.pipeline.first_text("stage") == "compensated"
    assert snap.pipeline.first_text("error") == "PaymentDeclined: card declined at root.attempt.charge"
    failed = ops.run(pe, ADMIN, "handled-failure.ipd", process_params=params(failHard="true"))
    assert failed.state is S.FAILED and failed.message == "giving up after compensated"


def test_expression_errors_are_failures_a_scope_can_handle(run_body):
    snap = run_body('<scope id="s"><assign id="a" name="x" select="$missing + 1"/>'
                    '<onError><assign id="h" name="t" select="$error.type"/></onError></scope>')
    assert snap.state is S.FINISHED and texts(snap, "t") == ["ExpressionError"]
    bare = run_body('<assign id="a" name="x" select="$missing"/>', name="q.ipd")
    assert bare.state is S.FAILED and "missing" in bare.message


def test_end_element_state_and_message(run_body):
    snap = run_body('<endElement id="stop" state="TERMINATED" message="enough"/><assign id="never" name="x">1</assign>')
    assert snap.state is S.TERMINATED and snap.message == "enough" and "x" not in snap.pipeline


def test_required_parameter_missing_is_refused_and_nothing_is_created(run_body):
    with pytest.raises(InvalidParameter, match="amount"):
        run_body('<endElement id="end"/>', declare='<parameter name="amount" required="true"/>')
    with run_body.pe.db.unit_of_work(write=False) as uow:
        assert store.find_ids(uow.conn, store.instances.c.execution_id.is_not(None)) == []


def test_parameter_defaults_apply(run_body):
    snap = run_body('<endElement id="end"/>', declare='<parameter name="greeting">hi</parameter>')
    assert texts(snap, "greeting") == ["hi"]


def test_constants_instance_over_process_over_public(engine_factory, repo):
    pe = engine_factory(repo, constants={"region": "eu", "tier": "gold", "billing": {"vat": "0.2"}})
    write_definition(repo, "c.ipd", '<wait id="w"/><assign id="a" name="r" select="concat(pe:constant(\'region\'),'
                     ' \'/\', pe:constant(\'tier\'), \'/\', pe:constant(\'billing/vat\'), \'/\', pe:constant(\'fixed\'))"/>',
                     constants='<constant name="tier">silver</constant>'
                               '<constant name="fixed" overridable="false">f</constant>')
    snap = ops.run(pe, ADMIN, "c.ipd", timeout=0)
    snap = ops.wait_for_process(pe, ADMIN, snap.execution_id, states=["WAITING"], timeout=5000)
    ops.set_instance_constants(pe, ADMIN, snap.execution_id, params(tier="platinum"))
    end = ops.start_process(pe, ADMIN, snap.execution_id, timeout=5000)
    assert texts(end, "r") == ["eu/platinum/0.2/f"]


def test_wait_without_timer_waits_until_continued_with_params(engine_factory, repo):
    pe = engine_factory(repo)
    write_definition(repo, "w.ipd", '<wait id="hold"/><assign id="a" name="r" select="concat(\'got \', $answer)"/>')
    snap = ops.run(pe, ADMIN, "w.ipd", states=["WAITING"])
    assert snap.state is S.WAITING and snap.current_element == "root.hold"
    assert snap.pipeline is not None  # an inactive process shows its pipeline
    assert pe.executor.running_count() == 0  # a waiting process holds no thread
    end = ops.start_process(pe, ADMIN, snap.execution_id, process_params=params(answer="yes"))
    assert end.state is S.FINISHED and texts(end, "r") == ["got yes"]


def test_timer_wait_fires(engine_factory, repo):
    pe = engine_factory(repo)
    write_definition(repo, "t.ipd", '<wait id="nap" duration="PT0.3S"/><assign id="a" name="done">yes</assign>')
    started = time.monotonic()
    snap = ops.run(pe, ADMIN, "t.ipd")
    assert snap.state is S.FINISHED and texts(snap, "done") == ["yes"]
    assert time.monotonic() - started >= 0.3


def test_timer_can_be_ended_early_by_start_process(pe):
    snap = ops.run(pe, ADMIN, "approval.ipd", process_params=params(amount="10", deadline="PT60S"), states=["WAITING"])
    end = ops.start_process(pe, ADMIN, snap.execution_id, process_params=params(approved="true"))
    assert end.state is S.FINISHED and end.pipeline.first_text("status") == "approved"


def test_approval_expires_without_a_decision(pe):
    snap = ops.run(pe, ADMIN, "approval.ipd", process_params=params(amount="10", deadline="PT0.2S"))
    assert snap.pipeline.first_text("status") == "expired: no decision in time"


def test_until_in_the_past_does_not_wait(run_body):
    snap = run_body('<wait id="w" until="2000-01-01T00:00:00Z"/><assign id="a" name="x">1</assign>')
    assert snap.state is S.FINISHED


def test_bad_computed_timer_fails_the_process(run_body):
    snap = run_body('<wait id="w" duration="{$d}"/>', given=params(d="soon"))
    assert snap.state is S.FAILED and snap.exception.type == "InvalidTimer"


def test_breakpoint_pauses_before_the_element_and_continues(engine_factory, repo):
    pe = engine_factory(repo)
    write_definition(repo, "b.ipd", '<assign id="one" name="a">1</assign><assign id="two" name="b">2</assign>')
    created = ops.instantiate(pe, ADMIN, "b.ipd")
    paused = ops.set_breakpoint(pe, ADMIN, created.execution_id, "root.two")
    assert paused.state is S.CREATED  # inactive already: returns at once
    paused = ops.start_process(pe, ADMIN, created.execution_id, states=["PAUSED"])
    assert paused.state is S.PAUSED and paused.current_element == "root.two"
    assert texts(paused, "a") == ["1"] and "b" not in paused.pipeline
    end = ops.start_process(pe, ADMIN, created.execution_id)
    assert end.state is S.FINISHED and texts(end, "b") == ["2"]


def test_breakpoint_on_unknown_element_is_not_found(pe):
    created = ops.instantiate(pe, ADMIN, "greeting.ipd")
    with pytest.raises(NotFound, match="root.nope"):
        ops.set_breakpoint(pe, ADMIN, created.execution_id, "root.nope")


def test_terminate_runs_on_terminate_handlers(engine_factory, repo):
    pe = engine_factory(repo)
    write_definition(repo, "t.ipd", '<scope id="s"><wait id="hold"/><onTerminate>'
                     '<assign id="cleanup" name="cleaned">yes</assign></onTerminate></scope>')
    snap = ops.run(pe, ADMIN, "t.ipd", states=["WAITING"])
    end = ops.terminate_process(pe, ADMIN, snap.execution_id, message="stop it")
    assert end.state is S.TERMINATED and end.message == "stop it" and texts(end, "cleaned") == ["yes"]
    assert end.health.state is HealthState.OK


def test_terminate_with_fail_ends_failed(engine_factory, repo):
    pe = engine_factory(repo)
    write_definition(repo, "t.ipd", '<wait id="hold"/>')
    snap = ops.run(pe, ADMIN, "t.ipd", states=["WAITING"])
    assert ops.terminate_process(pe, ADMIN, snap.execution_id, fail=True).state is S.FAILED


def test_kill_skips_handlers_and_marks_killed(engine_factory, repo):
    pe = engine_factory(repo)
    write_definition(repo, "t.ipd", '<scope id="s"><wait id="hold"/><onTerminate>'
                     '<assign id="cleanup" name="cleaned">yes</assign></onTerminate></scope>')
    snap = ops.run(pe, ADMIN, "t.ipd", states=["WAITING"])
    end = ops.terminate_process(pe, ADMIN, snap.execution_id, kill=True)
    assert end.state is S.TERMINATED and end.health.state is HealthState.KILLED
    assert "cleaned" not in end.pipeline


def test_terminate_a_running_loop(engine_factory, repo):
    pe = engine_factory(repo)
    write_definition(repo, "spin.ipd", '<scope id="s"><while id="w" test="true()"><assign id="a" name="x" select="1"/>'
                     '</while><onTerminate><assign id="c" name="stopped">yes</assign></onTerminate></scope>')
    snap = ops.run(pe, ADMIN, "spin.ipd", states=["RUNNING"])
    assert snap.state is S.RUNNING
    end = ops.terminate_process(pe, ADMIN, snap.execution_id)
    assert end.state is S.TERMINATED and texts(end, "stopped") == ["yes"]


def test_kill_a_running_loop(engine_factory, repo):
    pe = engine_factory(repo)
    write_definition(repo, "spin.ipd", '<while id="w" test="true()"><assign id="a" name="x" select="1"/></while>')
    snap = ops.run(pe, ADMIN, "spin.ipd", states=["RUNNING"], auto_dispose="never")
    end = ops.terminate_process(pe, ADMIN, snap.execution_id, kill=True)
    assert end.state is S.TERMINATED and end.health.state is HealthState.KILLED
    time.sleep(0.5)  # the driver lets go; nothing it saves may overwrite the kill
    again = ops.get_process_snapshot(pe, ADMIN, snap.execution_id, peek=True)
    assert again.state is S.TERMINATED and again.state_change_index == end.state_change_index


def test_terminate_an_ended_process_is_invalid_state(engine_factory, repo):
    pe = engine_factory(repo)
    write_definition(repo, "e.ipd", '<endElement id="end"/>')
    snap = ops.run(pe, ADMIN, "e.ipd", auto_dispose="never")
    with pytest.raises(InvalidState):
        ops.terminate_process(pe, ADMIN, snap.execution_id)


def test_call_runs_a_child_and_maps_outputs(pe):
    snap = ops.run(pe, ADMIN, "order.ipd", process_params=params(customers=["Ann", "Bo"]))
    assert snap.state is S.FINISHED, snap.exception
    assert [v.text for v in snap.pipeline.get("all")] == ["Hello, Ann!", "Hello, Bo!"]
    assert len(snap.pipeline.first_text("orderId")) == 36
    children = ops.find_executions(pe, ADMIN, __import__("engine.model.query", fromlist=["Query"]).Query())
    assert children.total == 0  # children are disposed once their parent took their output


def test_failed_child_fails_the_call(engine_factory, repo):
    pe = engine_factory(repo)
    write_definition(repo, "child.ipd", '<fail id="f" type="ChildBroke" message="nope"/>')
    write_definition(repo, "parent.ipd", '<scope id="s"><call id="c" processUri="child.ipd"/>'
                     '<onError><assign id="e" name="err" select="$error.type"/></onError></scope>')
    snap = ops.run(pe, ADMIN, "parent.ipd")
    assert snap.state is S.FINISHED and texts(snap, "err") == ["CallFailed"]


def test_call_of_missing_definition_fails(run_body):
    snap = run_body('<call id="c" processUri="nowhere.ipd"/>')
    assert snap.state is S.FAILED and snap.exception.type == "CallFailed"


def test_a_child_process_carries_its_parents_permissions(engine_factory, repo):
    """Who was granted the parent may see and act on the child it calls (its owner is the parent's)."""
    from engine.model.query import Param, Query
    from engine.security.authorization import Principal

    clerk = Principal("bob", frozenset({"clerks"}))
    pe = engine_factory(repo)
    write_definition(repo, "child.ipd", '<wait id="hold"/>')
    write_definition(repo, "parent.ipd", '<call id="c" processUri="child.ipd"/>')
    parent = ops.instantiate(pe, ADMIN, "parent.ipd", auto_dispose="never")
    ops.set_permissions(pe, ADMIN, parent.execution_id, "clerks", ["read", "execute"])
    ops.start_process(pe, ADMIN, parent.execution_id, states=["WAITING"])
    children = ops.find_executions(pe, clerk, Query(Param("processUri", "equals", ("child.ipd",))))
    assert children.total == 1
    child = ops.get_process_snapshot(pe, clerk, children.snapshots[0].execution_id)
    assert [(a.name, a.privileges) for a in child.permissions] == [("clerks", ("execute", "read"))]
    assert child.owner == "admin"
    assert ops.terminate_process(pe, clerk, child.execution_id).state is S.TERMINATED


def test_terminating_a_parent_terminates_its_child(engine_factory, repo):
    pe = engine_factory(repo)
    write_definition(repo, "child.ipd", '<wait id="hold"/>')
    write_definition(repo, "parent.ipd", '<call id="c" processUri="child.ipd"/>')
    snap = ops.run(pe, ADMIN, "parent.ipd", states=["WAITING"])
    from engine.model.query import Param, Query
    children = ops.find_executions(pe, ADMIN, Query(Param("processUri", "equals", ("child.ipd",))))
    assert children.total == 1
    ops.wait_for_process(pe, ADMIN, children.snapshots[0].execution_id, states=["WAITING"])
    end = ops.terminate_process(pe, ADMIN, snap.execution_id)
    assert end.state is S.TERMINATED
    child_id = children.snapshots[0].execution_id
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with pe.db.unit_of_work(write=False) as uow:
            child = store.get_instance(uow.conn, child_id, include_disposed=True)
        if child.state == "TERMINATED":
            break
        time.sleep(0.05)
    assert child.state == "TERMINATED"
    assert child.disposed_at is not None  # nobody waits for it any more


def test_invoke_builtin_module(run_body):
    snap = run_body('<invoke id="h" module="util" operation="sha256" result="digest"><param name="data">abc</param></invoke>'
                    '<invoke id="u" module="util" operation="upper" result="loud"><param name="text" select="$who"/></invoke>',
                    given=params(who="ada"))
    assert texts(snap, "digest") == ["ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"]
    assert texts(snap, "loud") == ["ADA"]


def test_invoke_failure_is_a_process_fault(run_body):
    snap = run_body('<invoke id="s" module="util" operation="sleep"><param name="ms">-5</param></invoke>')
    assert snap.state is S.FAILED and snap.exception.type == "InvalidParameter"


def test_log_honours_log_settings(engine_factory, repo):
    pe = engine_factory(repo)
    write_definition(repo, "l.ipd", '<wait id="hold"/><log id="d" level="debug">debug {$x}</log>'
                     '<log id="i" level="info" select="concat(\'info \', $x)"/>')
    snap = ops.run(pe, ADMIN, "l.ipd", process_params=params(x="1"), states=["WAITING"])
    ops.set_log_settings(pe, ADMIN, snap.execution_id, diagnostic_level="debug", trace=True)
    ops.start_process(pe, ADMIN, snap.execution_id, peek=True)
    with pe.db.unit_of_work(write=False) as uow:
        lines = [(r["level"], r["message"]) for r in store.read_log(uow.conn, snap.execution_id)]
    assert ("debug", "debug 1") in lines and ("info", "info 1") in lines
    assert any(level == "trace" for level, _ in lines)
    quiet = ops.run(pe, ADMIN, "l.ipd", process_params=params(x="2"), states=["WAITING"])
    ops.set_log_settings(pe, ADMIN, quiet.execution_id, diagnostic_level="warning")
    ops.start_process(pe, ADMIN, quiet.execution_id, peek=True)
    with pe.db.unit_of_work(write=False) as uow:
        assert store.read_log(uow.conn, quiet.execution_id) == []


def test_thread_pool_is_used_and_unknown_pool_refused(engine_factory, repo):
    pe = engine_factory(repo)
    write_definition(repo, "p.ipd", '<endElement id="end"/>')
    assert ops.run(pe, ADMIN, "p.ipd", thread_pool_id="batch").thread_pool_id == "batch"
    with pytest.raises(InvalidParameter, match="threadPoolId"):
        ops.run(pe, ADMIN, "p.ipd", thread_pool_id="nope")


def test_a_pool_runs_no_more_instances_at_once_than_it_has_threads(engine_factory, repo):
    """A caller drives its run on its own thread only with one of the pool's permits: with the pool
    busy, the run is queued instead, and runs once a permit comes back."""
    pe = engine_factory(repo, engine={"thread_pools": {"default": 2}})
    write_definition(repo, "spin.ipd", '<while id="w" test="true()"><assign id="n" name="i">1</assign></while>')
    write_definition(repo, "p.ipd", '<endElement id="end"/>')
    assert ops.run(pe, ADMIN, "p.ipd", peek=True, timeout=10000).state is S.FINISHED
    spinning = [ops.run(pe, ADMIN, "spin.ipd", states=["RUNNING"], timeout=10000) for _ in range(2)]
    assert pe.executor.permits_in_use("default") == 2
    queued = ops.run(pe, ADMIN, "p.ipd", peek=True, timeout=500)
    assert queued.state is S.READY  # no permit free: it did not run on the caller's thread either
    for snapshot in spinning:
        ops.terminate_process(pe, ADMIN, snapshot.execution_id, kill=True)
    assert settles(lambda: ops.get_process_snapshot(pe, ADMIN, queued.execution_id).state is S.FINISHED)
    assert settles(lambda: pe.executor.permits_in_use("default") == 0)
    assert ops.run(pe, ADMIN, "p.ipd", peek=True, timeout=10000).state is S.FINISHED


def test_many_waiting_processes_hold_no_threads(engine_factory, repo):
    pe = engine_factory(repo, engine={"thread_pools": {"default": 2}})
    write_definition(repo, "w.ipd", '<wait id="hold"/><assign id="a" name="done">yes</assign>')
    waiting = [ops.run(pe, ADMIN, "w.ipd", states=["WAITING"]) for _ in range(30)]
    assert all(s.state is S.WAITING for s in waiting) and pe.executor.running_count() == 0
    ends = [ops.start_process(pe, ADMIN, s.execution_id) for s in waiting]
    assert all(e.state is S.FINISHED and texts(e, "done") == ["yes"] for e in ends)
