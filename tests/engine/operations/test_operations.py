"""Every lifecycle and state-query operation of the facade, with its error cases."""
from __future__ import annotations

import time

import pytest

from engine.support import clock
from engine import operations as ops
from engine.model.datastore import DataStore, make_value
from engine.errors import (AuthorizationError, EngineOffline, FeatureUnavailable, InvalidDefinition,
                           InvalidParameter, InvalidState, MultiError, NotFound)
from engine.model.query import Query
from engine.security.authorization import ANONYMOUS_ADMIN as ADMIN, Principal
from engine.model.states import AutoDispose, ExecutionState as S, HealthState as H
from tests.support.common import settles, write_definition
from tests.support.storage import plant

BOB = Principal("bob", frozenset({"clerks"}))
HOLD = '<wait id="hold"/><assign id="a" name="after">yes</assign>'


def one(name: str, value: str) -> DataStore:
    return DataStore([(name, [make_value("1", "text/plain", value)])])


@pytest.fixture
def pe(engine_factory, repo):
    write_definition(repo, "hold.ipd", HOLD)
    write_definition(repo, "done.ipd", '<endElement id="end"/>')
    write_definition(repo, "spin.ipd", '<assign id="i" name="i">0</assign><while id="w" test="true()">'
                     '<assign id="n" name="i" select="$i + 1"/></while>')
    return engine_factory(repo)



def waiting(pe, **kw):
    return ops.run(pe, ADMIN, "hold.ipd", states=["WAITING"], **kw)


# -- disposeProcess ---------------------------------------------------------------------------------
def test_dispose_process(pe):
    assert ops.dispose_process(pe, ADMIN, "no-such-id") is None
    snap = waiting(pe)
    gone = ops.dispose_process(pe, ADMIN, snap.execution_id)
    assert gone.execution_id == snap.execution_id and gone.state is S.WAITING
    with pytest.raises(NotFound):
        ops.get_process_snapshot(pe, ADMIN, snap.execution_id)


def test_dispose_refuses_an_active_process(pe):
    running = ops.run(pe, ADMIN, "spin.ipd", states=["RUNNING"])
    with pytest.raises(InvalidState, match="RUNNING"):
        ops.dispose_process(pe, ADMIN, running.execution_id)
    ops.terminate_process(pe, ADMIN, running.execution_id, kill=True)


def test_dispose_processes_refuses_all_when_one_is_active(pe):
    done = ops.run(pe, ADMIN, "done.ipd", auto_dispose="never")
    running = ops.run(pe, ADMIN, "spin.ipd", states=["RUNNING"])
    with pytest.raises(InvalidState):
        ops.dispose_processes(pe, ADMIN, Query())
    assert ops.get_process_snapshot(pe, ADMIN, done.execution_id, peek=True).state is S.FINISHED
    ops.terminate_process(pe, ADMIN, running.execution_id, kill=True)


# -- instantiate --------------------------------------------------------------------------------------
def test_instantiate_creates_a_created_instance(pe):
    snap = ops.instantiate(pe, ADMIN, "done.ipd", external_id="order-1", debug=True, auto_dispose="never",
                           locked=True, thread_pool_id="batch")
    assert (snap.state, snap.state_change_index, snap.external_id) == (S.CREATED, 0, "order-1")
    assert snap.debug and snap.locked and snap.auto_dispose is AutoDispose.NEVER and snap.thread_pool_id == "batch"
    assert snap.owner == snap.current_user == "admin" and snap.owner_node == pe.node_id
    assert snap.pipeline is not None and snap.started_at is None and snap.health.state is H.OK


def test_instantiate_from_a_stream(pe):
    source = b'<process xmlns="http://www.infinica.com/process-engine" version="4" name="S"><startElement id="s"/></process>'
    snap = ops.instantiate(pe, ADMIN, "streams/one.ipd", process=source)
    assert snap.definition.name == "S" and snap.definition.uri == "streams/one.ipd"
    assert ops.start_process(pe, ADMIN, snap.execution_id).state is S.FINISHED
    with pytest.raises(AuthorizationError) as denied:
        ops.instantiate(pe, BOB, "x.ipd", process=source)
    assert denied.value.user_id == "bob"


@pytest.mark.parametrize("uri, error", [
    ("missing.ipd", NotFound), ("../outside.ipd", InvalidParameter), ("/etc/passwd", NotFound),
    ("a/../../b.ipd", InvalidParameter), ("", InvalidParameter), ("http://evil/x.ipd", InvalidParameter),
])
def test_instantiate_bad_uris(pe, uri, error):
    with pytest.raises(error):
        ops.instantiate(pe, ADMIN, uri)


def test_instantiate_invalid_definition_names_line_and_column(pe, repo):
    (repo / "bad.ipd").write_text('<process xmlns="http://www.infinica.com/process-engine" version="4">\n'
                                  '  <startElement id="s"/>\n  <assign id="a"/>\n</process>')
    with pytest.raises(InvalidDefinition) as raised:
        ops.instantiate(pe, ADMIN, "bad.ipd")
    assert (raised.value.line, raised.value.column) == (3, 3) and "name" in raised.value.message


def test_instantiate_bad_auto_dispose(pe):
    with pytest.raises(InvalidParameter, match="autoDispose"):
        ops.instantiate(pe, ADMIN, "done.ipd", auto_dispose="sometimes")


def test_instantiate_before_start_up_finished(engine_factory, repo):
    write_definition(repo, "done.ipd", '<endElement id="end"/>')
    slow = engine_factory(repo, engine={"startup_delay_ms": 400})
    with pytest.raises(FeatureUnavailable):
        ops.instantiate(slow, ADMIN, "done.ipd")
    assert settles(lambda: slow.features["instantiate"] == "active")  # 400 ms on
    assert ops.instantiate(slow, ADMIN, "done.ipd").state is S.CREATED


# -- reload -------------------------------------------------------------------------------------------
def test_reload_a_created_instance_from_another_uri(pe, repo):
    created = ops.instantiate(pe, ADMIN, "done.ipd")
    reloaded = ops.reload(pe, ADMIN, created.execution_id, process_uri="hold.ipd", set_online=True)
    assert reloaded.definition.uri == "hold.ipd"
    assert ops.start_process(pe, ADMIN, created.execution_id, states=["WAITING"]).current_element == "root.hold"


# -- recoverProcess(es) --------------------------------------------------------------------------------
def test_recover_requires_lost(pe):
    with pytest.raises(InvalidState, match="LOST"):
        ops.recover_process(pe, ADMIN, waiting(pe).execution_id)
    with pytest.raises(NotFound):
        ops.recover_process(pe, ADMIN, "nope")


def test_recover_processes_by_query(pe):
    lost = [ops.instantiate(pe, ADMIN, "done.ipd").execution_id for _ in range(2)]
    for execution_id in lost:
        plant(pe, execution_id, state="READY", health="LOST", owner_node="gone-node", online=False)
    result = ops.recover_processes(pe, ADMIN, Query(), set_online=True, report_execution_ids=True)
    assert result.count == 2 and set(result.execution_ids) == set(lost)
    for execution_id in lost:
        assert ops.wait_for_process(pe, ADMIN, execution_id, peek=True).state is S.FINISHED
    assert ops.recover_processes(pe, ADMIN, Query()).count == 0


# -- run ----------------------------------------------------------------------------------------------
def test_run_with_timeout_zero_returns_at_once(pe):
    snap = ops.run(pe, ADMIN, "hold.ipd", timeout=0)
    assert snap.state in (S.READY, S.RUNNING, S.WAITING)


def test_run_on_an_offline_engine(pe):
    pe.set_online(False)
    with pytest.raises(EngineOffline):
        ops.run(pe, ADMIN, "done.ipd")


def test_an_offline_engine_stops_running_processes_and_resumes_them(pe):
    running = ops.run(pe, ADMIN, "spin.ipd", states=["RUNNING"], auto_dispose="never")
    pe.set_online(False)
    handed_back = ops.wait_for_process(pe, ADMIN, running.execution_id, states=["READY"], timeout=5000)
    assert handed_back.state is S.READY and settles(lambda: pe.executor.running_count() == 0)
    pe.set_online(True)
    again = ops.wait_for_process(pe, ADMIN, running.execution_id, states=["RUNNING"], timeout=5000, peek=True)
    assert again.state is S.RUNNING
    ops.terminate_process(pe, ADMIN, running.execution_id, kill=True)


def test_max_timeout_caps_minus_one(engine_factory, repo):
    write_definition(repo, "hold.ipd", HOLD)
    capped = engine_factory(repo, engine={"max_timeout_ms": 300})
    started = time.monotonic()
    snap = ops.run(capped, ADMIN, "hold.ipd", timeout=-1)
    assert snap.state is S.WAITING and time.monotonic() - started < 5


def test_bad_timeout_and_states(pe):
    with pytest.raises(InvalidParameter, match="timeout"):
        ops.run(pe, ADMIN, "done.ipd", timeout=-5)
    with pytest.raises(InvalidParameter, match="states"):
        ops.run(pe, ADMIN, "done.ipd", states=["SLEEPING"])


# -- attributes ----------------------------------------------------------------------------------------
def test_attributes_are_stored_and_seen_by_the_process(pe, repo):
    write_definition(repo, "attr.ipd", '<wait id="w"/><assign id="a" name="seen" select="pe:attribute(\'color\')"/>')
    snap = ops.run(pe, ADMIN, "attr.ipd", states=["WAITING"])
    ops.set_attribute(pe, ADMIN, snap.execution_id, "color", "blue")
    ops.set_attribute(pe, ADMIN, snap.execution_id, "size", "L")
    assert ops.get_attributes(pe, ADMIN, snap.execution_id) == {"color": "blue", "size": "L"}
    assert ops.get_attributes(pe, ADMIN, snap.execution_id, ["size", "nope"]) == {"size": "L"}
    assert ops.start_process(pe, ADMIN, snap.execution_id).pipeline.first_text("seen") == "blue"
    with pytest.raises(InvalidParameter):
        ops.set_attribute(pe, ADMIN, "x", "", "v")


def test_an_attribute_may_be_set_to_the_empty_value(pe):
    snap = waiting(pe)
    ops.set_attribute(pe, ADMIN, snap.execution_id, "note", "")
    assert ops.get_attributes(pe, ADMIN, snap.execution_id) == {"note": ""}
    with pytest.raises(InvalidParameter, match="value"):
        ops.set_attribute(pe, ADMIN, snap.execution_id, "note", None)


# -- instance constants --------------------------------------------------------------------------------
def test_instance_constants_and_multi_error(pe, repo):
    write_definition(repo, "k.ipd", '<wait id="w"/>', constants='<constant name="a" overridable="false">1</constant>'
                     '<constant name="b" overridable="false">2</constant><constant name="c">3</constant>')
    snap = ops.run(pe, ADMIN, "k.ipd", states=["WAITING"])
    ops.set_instance_constants(pe, ADMIN, snap.execution_id, one("c", "30"))
    assert ops.get_instance_constants(pe, ADMIN, snap.execution_id).first_text("c") == "30"
    refused = DataStore([("a", [make_value("1", "text/plain", "x")]), ("b", [make_value("2", "text/plain", "y")]),
                         ("c", [make_value("3", "text/plain", "z")])])
    with pytest.raises(MultiError) as raised:
        ops.set_instance_constants(pe, ADMIN, snap.execution_id, refused)
    assert set(raised.value.errors) == {"a", "b"}
    assert ops.get_instance_constants(pe, ADMIN, snap.execution_id).first_text("c") == "30"  # nothing changed


# -- log settings, owner, permissions, credentials -------------------------------------------------------
def test_log_settings_validation(pe):
    snap = waiting(pe)
    with pytest.raises(InvalidParameter, match="diagnosticLevel"):
        ops.set_log_settings(pe, ADMIN, snap.execution_id, diagnostic_level="loud")
    with pytest.raises(InvalidParameter, match="dataLevel"):
        ops.set_log_settings(pe, ADMIN, snap.execution_id, data_level="all")
    assert ops.set_log_settings(pe, ADMIN, snap.execution_id, data_level="full").execution_id == snap.execution_id


def test_owner_permissions_and_credentials(pe):
    snap = waiting(pe)
    owned = ops.set_owner(pe, ADMIN, snap.execution_id, "carol")
    assert owned.owner == "carol" and owned.current_user == "admin"
    with pytest.raises(AuthorizationError):
        ops.get_process_snapshot(pe, BOB, snap.execution_id)
    granted = ops.set_permissions(pe, ADMIN, snap.execution_id, "clerks", ["read", "execute"])
    assert [(a.name, a.privileges) for a in granted.permissions] == [("clerks", ("execute", "read"))]
    assert ops.get_process_snapshot(pe, BOB, snap.execution_id).owner == "carol"
    with pytest.raises(AuthorizationError) as denied:
        ops.set_attribute(pe, BOB, snap.execution_id, "x", "y")
    assert (denied.value.permission_name, denied.value.resource_id) == ("write", snap.execution_id)
    assert ops.update_credentials(pe, BOB, snap.execution_id).current_user == "bob"
    with pytest.raises(InvalidParameter, match="privileges"):
        ops.set_permissions(pe, ADMIN, snap.execution_id, "clerks", ["fly"])
    assert ops.set_permissions(pe, ADMIN, snap.execution_id, "clerks", []).permissions == ()
    with pytest.raises(InvalidParameter):
        ops.set_owner(pe, ADMIN, snap.execution_id, " ")


# -- online --------------------------------------------------------------------------------------------
def test_an_offline_process_is_not_executed_until_online(pe):
    created = ops.instantiate(pe, ADMIN, "done.ipd", auto_dispose="never")
    ops.set_online(pe, ADMIN, created.execution_id, False)
    held = ops.start_process(pe, ADMIN, created.execution_id, timeout=300, set_online=False)
    assert held.state is S.READY and not held.online
    on = ops.set_online(pe, ADMIN, created.execution_id, True)
    assert on.online
    assert ops.wait_for_process(pe, ADMIN, created.execution_id, peek=True).state is S.FINISHED


def test_setting_a_running_process_offline_stops_it(pe):
    running = ops.run(pe, ADMIN, "spin.ipd", states=["RUNNING"], auto_dispose="never")
    off = ops.set_online(pe, ADMIN, running.execution_id, False)
    assert not off.online and off.state is S.READY
    assert settles(lambda: pe.executor.running_count() == 0)
    ops.set_online(pe, ADMIN, running.execution_id, True)
    again = ops.wait_for_process(pe, ADMIN, running.execution_id, states=["RUNNING"], peek=True)
    assert again.state is S.RUNNING
    ops.terminate_process(pe, ADMIN, running.execution_id, kill=True)


def test_a_synchronous_start_sets_an_offline_process_online(pe):
    created = ops.instantiate(pe, ADMIN, "done.ipd")
    ops.set_online(pe, ADMIN, created.execution_id, False)
    assert ops.start_process(pe, ADMIN, created.execution_id).state is S.FINISHED


# -- startProcess --------------------------------------------------------------------------------------
def test_start_in_wrong_states(pe):
    done = ops.run(pe, ADMIN, "done.ipd", auto_dispose="never")
    with pytest.raises(InvalidState, match="FINISHED"):
        ops.start_process(pe, ADMIN, done.execution_id)
    running = ops.run(pe, ADMIN, "spin.ipd", states=["RUNNING"])
    with pytest.raises(InvalidState, match="RUNNING"):
        ops.start_process(pe, ADMIN, running.execution_id)
    ops.terminate_process(pe, ADMIN, running.execution_id, kill=True)
    with pytest.raises(NotFound):
        ops.start_process(pe, ADMIN, "nope")


def test_start_a_created_process_with_params(pe, repo):
    write_definition(repo, "echo.ipd", '<assign id="a" name="out" select="concat($in, \'!\')"/>',
                     '<parameter name="in" required="true"/>')
    created = ops.instantiate(pe, ADMIN, "echo.ipd")
    with pytest.raises(InvalidParameter, match="in"):
        ops.start_process(pe, ADMIN, created.execution_id)
    assert ops.get_process_snapshot(pe, ADMIN, created.execution_id).state is S.CREATED
    end = ops.start_process(pe, ADMIN, created.execution_id, process_params=one("in", "hi"))
    assert end.pipeline.first_text("out") == "hi!"


# -- snapshots, peek and autoDispose ---------------------------------------------------------------------
def test_fetch_disposes_an_ended_process_unless_peek(pe):
    snap = ops.run(pe, ADMIN, "done.ipd", timeout=0, peek=True)  # it may have ended already
    ops.wait_for_process(pe, ADMIN, snap.execution_id, peek=True)
    assert ops.get_process_snapshot(pe, ADMIN, snap.execution_id, peek=True).state is S.FINISHED
    assert ops.find_executions(pe, ADMIN, Query()).total == 1  # findExecutions never disposes
    assert ops.get_process_snapshot(pe, ADMIN, snap.execution_id).state is S.FINISHED
    with pytest.raises(NotFound):
        ops.get_process_snapshot(pe, ADMIN, snap.execution_id)


@pytest.mark.parametrize("mode, kept_finished, kept_failed", [
    ("never", True, True), ("endedNotFailed", False, True), ("endedOrFailed", False, False),
])
def test_auto_dispose_at_end(pe, repo, mode, kept_finished, kept_failed):
    write_definition(repo, "fail.ipd", '<fail id="f"/>')
    finished = ops.run(pe, ADMIN, "done.ipd", auto_dispose=mode)
    failed = ops.run(pe, ADMIN, "fail.ipd", auto_dispose=mode)
    assert finished.state is S.FINISHED and failed.state is S.FAILED  # the synchronous caller saw the end
    remaining = {s.execution_id for s in ops.find_executions(pe, ADMIN, Query()).snapshots}
    assert (finished.execution_id in remaining, failed.execution_id in remaining) == (kept_finished, kept_failed)


def test_inspect_pipeline_and_debug_of_an_active_process(pe):
    running = ops.run(pe, ADMIN, "spin.ipd", states=["RUNNING"])
    assert ops.get_process_snapshot(pe, ADMIN, running.execution_id).pipeline is None
    assert settles(lambda: ops.get_process_snapshot(pe, ADMIN, running.execution_id,  # once past a save point
                                                    inspect_pipeline=True).pipeline is not None)
    ops.terminate_process(pe, ADMIN, running.execution_id, kill=True)
    debug = ops.run(pe, ADMIN, "spin.ipd", states=["RUNNING"], debug=True)
    assert debug.pipeline is not None
    ops.terminate_process(pe, ADMIN, debug.execution_id, kill=True)


# -- waitForProcess --------------------------------------------------------------------------------------
def test_wait_for_process_conditions(pe):
    snap = waiting(pe)
    timed_out = ops.wait_for_process(pe, ADMIN, snap.execution_id, timeout=200)
    assert timed_out.state is S.WAITING  # a timeout is not an error
    same = ops.wait_for_process(pe, ADMIN, snap.execution_id, states=["WAITING"], timeout=0)
    assert same.state_change_index == snap.state_change_index
    later = ops.wait_for_process(pe, ADMIN, snap.execution_id, states=["WAITING"],
                                 state_change_index=snap.state_change_index, timeout=200)
    assert later.state_change_index == snap.state_change_index  # nothing newer happened
    future = ops.wait_for_process(pe, ADMIN, snap.execution_id, states=["WAITING"], timeout=200,
                                  after_timestamp=clock.now())
    assert future.state is S.WAITING
    offline = ops.set_online(pe, ADMIN, snap.execution_id, False)
    assert ops.wait_for_process(pe, ADMIN, snap.execution_id, wait_online=False, timeout=0).online is False
    assert offline.online is False


def test_wait_for_an_ended_process_returns_at_once(pe):
    done = ops.run(pe, ADMIN, "done.ipd", auto_dispose="never")
    started = time.monotonic()
    assert ops.wait_for_process(pe, ADMIN, done.execution_id, states=["RUNNING"]).state is S.FINISHED
    assert time.monotonic() - started < 30  # at once: without a timeout it would wait for ever


# -- validate ------------------------------------------------------------------------------------------
def test_validate_reports_name_parameters_and_elements(pe):
    result = ops.validate(pe, ADMIN, "approval.ipd" if False else "hold.ipd")
    assert result.uri == "hold.ipd" and result.elements == ("root.start", "root.hold", "root.a")
    stream = (b'<process xmlns="http://www.infinica.com/process-engine" version="4" name="N">'
              b'<parameters><parameter name="p" required="true"/></parameters><startElement id="s"/>'
              b'<if id="c" test="1"><then><wait id="w"/></then></if></process>')
    result = ops.validate(pe, ADMIN, process=stream)
    assert result.name == "N" and [(p.name, p.type, p.required) for p in result.parameters] == [("p", "text/plain", True)]
    assert result.elements == ("root.s", "root.c", "root.c.w")
    with pytest.raises(InvalidDefinition):
        ops.validate(pe, ADMIN, process=b"<process")
    with pytest.raises(InvalidParameter):
        ops.validate(pe, ADMIN)


# -- idempotent starts -------------------------------------------------------------------------------
def test_a_repeated_run_key_returns_the_first_execution_and_its_answer(pe):
    first = ops.run(pe, ADMIN, "done.ipd", idempotency_key="order-17")  # fetched: disposed once answered
    again = ops.run(pe, ADMIN, "done.ipd", idempotency_key="order-17")
    assert again.execution_id == first.execution_id and again.state is S.FINISHED
    assert again.state_change_index == first.state_change_index
    assert ops.find_executions(pe, ADMIN, Query()).total == 0  # no second process was created
    other = ops.run(pe, ADMIN, "done.ipd", idempotency_key="order-18")
    assert other.execution_id != first.execution_id


def test_keys_belong_to_their_caller(pe):
    mine = ops.run(pe, ADMIN, "done.ipd", idempotency_key="k", auto_dispose="never")
    theirs = ops.run(pe, BOB, "done.ipd", idempotency_key="k", auto_dispose="never")
    assert mine.execution_id != theirs.execution_id


def test_a_repeated_key_waits_for_the_first_run_still_going(pe):
    first = ops.run(pe, ADMIN, "hold.ipd", idempotency_key="w", timeout=0)
    again = ops.run(pe, ADMIN, "hold.ipd", idempotency_key="w", states=["WAITING"])
    assert again.execution_id == first.execution_id and again.state is S.WAITING


def test_a_repeated_instantiate_key(pe):
    first = ops.instantiate(pe, ADMIN, "done.ipd", idempotency_key="i")
    again = ops.instantiate(pe, ADMIN, "done.ipd", idempotency_key="i")
    assert again.execution_id == first.execution_id and again.state is S.CREATED
    assert ops.find_executions(pe, ADMIN, Query()).total == 1


def test_concurrent_requests_with_one_key_create_one_execution(pe):
    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(lambda _: ops.run(pe, ADMIN, "hold.ipd", idempotency_key="race",
                                                 states=["WAITING"]), range(6)))
    assert len({a.execution_id for a in answers}) == 1
    assert ops.find_executions(pe, ADMIN, Query()).total == 1


def test_an_expired_key_starts_a_new_execution(engine_factory, repo):
    write_definition(repo, "done.ipd", '<endElement id="end"/>')
    quick = engine_factory(repo, engine={"idempotency_ttl_s": 0})
    first = ops.run(quick, ADMIN, "done.ipd", idempotency_key="x", auto_dispose="never")
    time.sleep(0.01)
    assert ops.run(quick, ADMIN, "done.ipd", idempotency_key="x", auto_dispose="never").execution_id != first.execution_id


def test_the_housekeeper_purges_expired_keys_only(engine_factory, repo):
    from datetime import datetime, timezone

    from engine.storage import idempotency_keys

    write_definition(repo, "done.ipd", '<endElement id="end"/>')
    quick = engine_factory(repo, engine={"idempotency_ttl_s": 3600})
    ops.run(quick, ADMIN, "done.ipd", idempotency_key="kept")
    epoch = datetime(1970, 1, 1, tzinfo=timezone.utc)

    def stored(key: str) -> bool:
        with quick.db.unit_of_work(write=False) as uow:
            return idempotency_keys.find(uow.conn, ADMIN.name, key, epoch) is not None
    quick.housekeeper.purge()
    assert stored("kept")
    quick.settings = quick.settings.with_overrides(engine={"idempotency_ttl_s": 0})
    time.sleep(0.01)
    quick.housekeeper.purge()
    assert not stored("kept")


def test_a_bad_key_is_refused(pe):
    with pytest.raises(InvalidParameter, match="Idempotency-Key"):
        ops.run(pe, ADMIN, "done.ipd", idempotency_key=" ")
    with pytest.raises(InvalidParameter, match="Idempotency-Key"):
        ops.run(pe, ADMIN, "done.ipd", idempotency_key="k" * 300)
