"""Diagnostics: every sanity check finds the inconsistency it is for, telemetry shows what runs and
waits, garbageCollect cleans up now. Inconsistencies are planted straight into the stores."""
from __future__ import annotations

import threading
import uuid
from contextlib import contextmanager
from datetime import timedelta

import pytest
from sqlalchemy import delete, insert, update

from engine.support import clock
from engine import operations as ops
from engine.features.diagnostics import checks as sanity, garbage, telemetry
from engine.errors import AuthorizationError, InvalidParameter, NotFound
from engine.model.results import SanityReport
from engine.security.authorization import ANONYMOUS_ADMIN as ADMIN, Principal
from engine.storage import codec, instances as store
from engine.storage.tables import instances, process_log, wait_states, watchers
from tests.support.common import settles, write_definition

BOB = Principal("bob")
SPIN = '<assign id="i" name="i">0</assign><while id="w" test="true()"><assign id="n" name="i" select="$i + 1"/></while>'
NAPS = ('<assign id="i" name="i">0</assign><while id="w" test="$i &lt; 40"><assign id="n" name="i" select="$i + 1"/>'
        '<invoke id="nap" module="util" operation="sleep"><param name="ms">20</param></invoke></while>')


@pytest.fixture
def pe(engine_factory, repo):
    write_definition(repo, "hold.ipd", '<wait id="hold"/><assign id="a" name="after">yes</assign>')
    write_definition(repo, "done.ipd", '<endElement id="end"/>')
    write_definition(repo, "nap.ipd", '<wait id="nap" duration="PT1H"/>')
    write_definition(repo, "spin.ipd", SPIN)
    write_definition(repo, "parent.ipd", '<call id="c" processUri="hold.ipd"/>')
    return engine_factory(repo)


# -- helpers ------------------------------------------------------------------------------------------


def execute(pe, *statements):
    with pe.db.unit_of_work() as uow:
        for statement in statements:
            uow.conn.execute(statement)
        uow.commit()


def plant(pe, execution_id, **values):
    execute(pe, update(instances).where(instances.c.execution_id == execution_id).values(**values))


def plant_wait(pe, execution_id, **values):
    row = dict(execution_id=execution_id, element_id="root.hold", kind="signal", due_at=None,
               child_execution_id=None, created_at=clock.now())
    execute(pe, insert(wait_states).values(**{**row, **values}))


def plant_watcher(pe, execution_id) -> str:
    watcher_id = str(uuid.uuid4())
    execute(pe, insert(watchers).values(id=watcher_id, execution_id=execution_id, group_id=None, owner="admin",
                                        conditions="{}", peek=False, inspect_pipeline=False, created_at=clock.now(),
                                        finished=False, finished_at=None, captured=None))
    return watcher_id


def insert_past_foreign_keys(pe, table, values):
    """Insert a row whose foreign key points nowhere (what a damaged database may hold)."""
    with pe.db.engine.connect() as conn:
        if pe.db.is_sqlite:
            conn.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")
        else:
            conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
        conn.execute(insert(table).values(**values))
        conn.commit()


def raw(pe, execution_id):
    with pe.db.unit_of_work(write=False) as uow:
        return store.get_instance(uow.conn, execution_id, include_disposed=True)


def quiet(pe):
    """Stop the housekeeper: nothing purges, sweeps watchers or fires timers behind the test's back."""
    pe.housekeeper.stop()
    return pe


def problems(pe, *checks):
    return ops.check_sanity(pe, ADMIN, list(checks)).problems


def about(found, execution_id, check=None):
    """The messages of the problems reported for `execution_id` (by `check`, if given)."""
    return [p.message for p in found if p.execution_id == execution_id and check in (None, p.check)]


def items(pe, kind):
    return {item.id: dict(item.values) for item in ops.get_telemetry_data(pe, ADMIN, [kind]).items}


def waiting(pe, uri="hold.ipd", **kw):
    return ops.run(pe, ADMIN, uri, states=["WAITING"], **kw).execution_id


def finished(pe):
    return ops.run(pe, ADMIN, "done.ipd", auto_dispose="never").execution_id


def disposed(pe):
    execution_id = finished(pe)
    ops.dispose_process(pe, ADMIN, execution_id)
    return execution_id


def spinning(pe, **kw):
    execution_id = ops.run(pe, ADMIN, "spin.ipd", states=["RUNNING"], **kw).execution_id
    assert settles(lambda: execution_id in pe.executor.drivers)
    return execution_id


@contextmanager
def blocked_waiter(pe, key):
    """A caller blocked on `key` (an execution ID, or `watcher:ID`) until the block ends."""
    release = threading.Event()
    thread = threading.Thread(target=pe.waiters.wait, args=(key, release.is_set, bool, 30.0), daemon=True)
    thread.start()
    assert settles(lambda: key in pe.waiters.counts())
    try:
        yield
    finally:
        release.set()
        pe.waiters.notify(key)
        thread.join(5)


# -- a sane engine ------------------------------------------------------------------------------------
def test_a_sane_engine_reports_nothing(pe):
    ops.run(pe, ADMIN, "done.ipd")
    finished(pe)
    waiting(pe)
    waiting(pe, "nap.ipd")
    waiting(pe, "parent.ipd")
    paused = ops.instantiate(pe, ADMIN, "hold.ipd").execution_id
    ops.set_breakpoint(pe, ADMIN, paused, "root.a")
    started = ops.start_process(pe, ADMIN, paused, states=["PAUSED", "WAITING"])
    if started.state.value == "WAITING":
        started = ops.start_process(pe, ADMIN, paused, states=["PAUSED"])
    assert started.state.value == "PAUSED"
    ops.instantiate(pe, ADMIN, "hold.ipd")
    report = ops.check_sanity(pe, ADMIN)
    assert report.checks == sanity.STANDARD_CHECKS
    assert report.problems == ()


# -- each check --------------------------------------------------------------------------------------
def test_wait_state_check(pe):
    unwoken = waiting(pe)
    execute(pe, delete(wait_states).where(wait_states.c.execution_id == unwoken))
    created = ops.instantiate(pe, ADMIN, "hold.ipd").execution_id
    plant_wait(pe, created)
    gone = disposed(pe)
    plant_wait(pe, gone)
    insert_past_foreign_keys(pe, wait_states, dict(execution_id="no-such-instance", element_id="root.hold",
                                                   kind="signal", due_at=None, child_execution_id=None,
                                                   created_at=clock.now()))
    parent = waiting(pe, "parent.ipd")
    with pe.db.unit_of_work(write=False) as uow:  # the child of the call, waiting at root.hold
        child = store.find_ids(uow.conn, instances.c.parent_execution_id == parent)[0]
    ops.wait_for_process(pe, ADMIN, child, states=["WAITING"])
    ops.dispose_process(pe, ADMIN, child)  # a WAITING child may be disposed; its parent then waits forever
    healthy = waiting(pe)

    found = problems(pe, "waitState")
    assert {p.check for p in found} == {"waitState"}
    assert "has no wait state" in about(found, unwoken)[0]
    assert "state CREATED" in about(found, created)[0]
    assert "disposed instance" in about(found, gone)[0]
    assert "no process instance" in about(found, "no-such-instance")[0]
    assert f"child process {child}, which is disposed" in about(found, parent)[0]
    assert about(found, healthy) == [] and about(found, child) == []
    assert len(found) == 5


def test_execution_check(pe):
    unsaved = waiting(pe)
    plant(pe, unsaved, position=None)
    ended = finished(pe)
    plant(pe, ended, position='{"frames":[],"at":null,"term":null}')
    garbled = waiting(pe)
    plant(pe, garbled, position='{"frames": [{"o": "root"')
    future = waiting(pe)
    plant(pe, future, state_format=99)
    ghost_run = ops.instantiate(pe, ADMIN, "hold.ipd").execution_id
    plant(pe, ghost_run, state="RUNNING", owner_node="ghost-node")
    unclaimed = ops.instantiate(pe, ADMIN, "hold.ipd").execution_id
    plant(pe, unclaimed, state="RUNNING")
    healthy = waiting(pe)

    found = problems(pe, "execution")
    assert "no saved position" in about(found, unsaved)[0]
    assert "has ended (FINISHED) but still holds a saved position" in about(found, ended)[0]
    assert "does not decode" in about(found, garbled)[0]
    assert "format 99" in about(found, future)[0]
    assert "ghost-node" in about(found, ghost_run)[0]
    assert "no node has claimed it" in about(found, unclaimed)[0]
    assert about(found, healthy) == []
    assert len(found) == 6


def test_signal_check(pe):
    request = codec.dumps({"kill": False, "fail": False, "message": "stop"})
    ended = finished(pe)
    plant(pe, ended, terminate_request=request)
    gone = disposed(pe)
    plant(pe, gone, terminate_request=request)
    found = problems(pe, "signal")
    assert "has already ended (FINISHED)" in about(found, ended, "signal")[0]
    assert "is disposed" in about(found, gone, "signal")[0]
    assert len(found) == 2


def test_waiter_check(pe):
    gone = waiting(pe)
    ops.dispose_process(pe, ADMIN, gone)
    alive = waiting(pe)
    with blocked_waiter(pe, "no-such-instance"), blocked_waiter(pe, gone), blocked_waiter(pe, alive), \
            blocked_waiter(pe, "watcher:no-such-watcher"):
        found = problems(pe, "waiter")
        assert "1 caller(s) wait for an instance that does not exist" in about(found, "no-such-instance")[0]
        assert "disposed" in about(found, gone)[0]
        assert any("watcher no-such-watcher, which no longer exists" in p.message for p in found)
        assert about(found, alive) == []
        assert len(found) == 3
    assert problems(pe, "waiter") == ()


def test_watcher_check(pe):
    quiet(pe)
    orphan = plant_watcher(pe, "no-such-instance")
    gone = disposed(pe)
    plant_watcher(pe, gone)
    alive = waiting(pe)
    ops.create_watcher(pe, ADMIN, alive, expected_states=["FINISHED"])
    found = problems(pe, "zookeeperWatcher")
    assert f"watcher {orphan} is unfinished but its instance no longer exists" in about(found, "no-such-instance")[0]
    assert "is disposed" in about(found, gone)[0]
    assert about(found, alive) == [] and len(found) == 2


def test_process_check(pe):
    ready = ops.instantiate(pe, ADMIN, "hold.ipd").execution_id
    plant(pe, ready, state="READY", owner_node="ghost-node")
    locked_waiting = waiting(pe, locked=True)
    plant(pe, locked_waiting, owner_node="ghost-node")  # inactive: nobody needs the node now
    mine = spinning(pe)
    found = problems(pe, "zookeeperProcess")
    assert "READY and held by node ghost-node, which is not registered" in about(found, ready)[0]
    assert about(found, locked_waiting) == [] and about(found, mine) == []
    assert len(found) == 1
    ops.terminate_process(pe, ADMIN, mine, kill=True)


def test_timer_check(pe):
    overdue = waiting(pe, "nap.ipd")
    later = waiting(pe, "nap.ipd")
    offline = waiting(pe, "nap.ipd")
    quiet(pe)
    pe.set_online(False)  # an offline node fires no timers
    long_ago = clock.now() - timedelta(hours=1)
    for execution_id in (overdue, offline):
        execute(pe, update(wait_states).where(wait_states.c.execution_id == execution_id).values(due_at=long_ago))
    plant(pe, offline, online=False)  # an offline instance's timer waits by design
    found = problems(pe, "zookeeperWaitState")
    message = about(found, overdue)[0]
    assert "overdue" in message and "this node is offline" in message
    assert clock.format_timestamp(long_ago) in message
    assert about(found, later) == [] and about(found, offline) == [] and len(found) == 1


def test_task_payload_check_has_nothing_to_check(pe):
    waiting(pe)
    assert ops.check_sanity(pe, ADMIN, ["taskPayload"]) == SanityReport(("taskPayload",), ())


def test_no_running_and_clean_state(pe):
    ops.run(pe, ADMIN, "done.ipd")
    assert problems(pe, "noRunning", "cleanState") == ()
    ended = finished(pe)
    found = problems(pe, "noRunning", "cleanState")
    assert about(found, ended, "noRunning") == []
    assert "still stored" in about(found, ended, "cleanState")[0]

    held = waiting(pe)
    assert problems(pe) == ()  # only when asked for
    found = problems(pe, "noRunning")
    assert {p.check for p in found} == {"noRunning"}
    assert sorted(about(found, held)) == ["saved execution position of an instance in state WAITING is stored",
                                          "wait state (signal at root.hold) is stored"]

    spin = spinning(pe)
    found = problems(pe, "noRunning")
    messages = about(found, spin)
    assert "instance is RUNNING: it is still queued or executing" in messages
    assert f"instance runs on a thread of node {pe.node_id}" in messages
    clean = problems(pe, "cleanState")
    assert {p.check for p in clean} == {"cleanState"}
    assert set(about(found, spin)) < set(about(clean, spin))  # the same, plus the stored instance
    ops.terminate_process(pe, ADMIN, spin, kill=True)


# -- choosing, refusing -------------------------------------------------------------------------------
def test_names_repeated_or_comma_separated(pe):
    assert ops.check_sanity(pe, ADMIN, ["signal, waiter", "SIGNAL"]).checks == ("signal", "waiter")
    assert ops.check_sanity(pe, ADMIN, "execution").checks == ("execution",)
    assert ops.check_sanity(pe, ADMIN, []).checks == sanity.STANDARD_CHECKS
    assert ops.get_telemetry_data(pe, ADMIN, ["waitstate,TASK"]).types == ("WAITSTATE", "TASK")
    assert ops.get_telemetry_data(pe, ADMIN).types == telemetry.STANDARD_TYPES
    assert len(telemetry.STANDARD_TYPES) == 10


def test_unknown_names_and_bad_timeouts_are_refused(pe):
    with pytest.raises(InvalidParameter, match="checks: 'bogus' is not one of .*waitState"):
        ops.check_sanity(pe, ADMIN, ["waitState", "bogus"])
    with pytest.raises(InvalidParameter, match="types: 'NOPE' is not one of .*WAITSTATE"):
        ops.get_telemetry_data(pe, ADMIN, ["WAITSTATE,NOPE"])
    with pytest.raises(InvalidParameter, match="timeout"):
        ops.garbage_collect(pe, ADMIN, timeout=-5)


def test_only_admins_may_diagnose(pe):
    for call in (lambda: ops.check_sanity(pe, BOB), lambda: ops.get_telemetry_data(pe, BOB),
                 lambda: ops.garbage_collect(pe, BOB)):
        with pytest.raises(AuthorizationError) as denied:
            call()
        assert denied.value.user_id == "bob" and denied.value.permission_name == "admin"


# -- telemetry ----------------------------------------------------------------------------------------
def test_telemetry_of_stored_instances(pe):
    before = clock.now()
    holds = [waiting(pe), waiting(pe)]
    nap = waiting(pe, "nap.ipd")
    ended = finished(pe)
    disposed(pe)

    counts = items(pe, "PROCESS_INSTANCE")
    assert counts["WAITING/OK"] == {"state": "WAITING", "health": "OK", "count": "3"}
    assert counts["FINISHED/OK"]["count"] == "1" and counts["disposed"]["count"] == "1"

    executions = items(pe, "PROCESS_EXECUTION")
    assert set(executions) == {*holds, nap}
    assert executions[nap]["currentElement"] == "root.nap" and executions[holds[0]]["state"] == "WAITING"

    waits = items(pe, "WAITSTATE")
    assert set(waits) == {*holds, nap}
    assert waits[nap]["kind"] == "timer" and waits[nap]["element"] == "root.nap"
    due = clock.parse_timestamp(waits[nap]["due"])
    assert before + timedelta(hours=1) <= due <= clock.now() + timedelta(hours=1)
    assert waits[holds[0]]["kind"] == "signal" and waits[holds[0]]["due"] == ""

    assert items(pe, "SIGNAL") == {} and items(pe, "TASK") == {}
    plant(pe, ended, terminate_request=codec.dumps({"kill": True, "fail": False, "message": "late"}))
    assert items(pe, "SIGNAL")[ended] == {"signal": "terminate", "state": "FINISHED", "disposed": "false",
                                          "kill": "true", "fail": "false", "message": "late"}

    cache = items(pe, "CACHE")
    assert int(cache["definitionFiles"]["entries"]) >= 3 and int(cache["parsedDefinitions"]["entries"]) >= 3
    assert int(cache["revisionRegistrations"]["entries"]) >= 3


def test_telemetry_of_a_running_loop(pe):
    held = waiting(pe)
    spin = spinning(pe, thread_pool_id="batch")
    pools = items(pe, "THREAD_POOL")
    assert pools["batch"] == {"size": "1", "permitsInUse": "1", "running": "1", "executionIds": spin}
    assert pools["default"] == {"size": "4", "permitsInUse": "0", "running": "0", "executionIds": ""}
    cached = items(pe, "CACHED_PROCESS_INSTANCE")
    assert set(cached) == {spin}  # a waiting instance holds no memory of this node
    assert cached[spin]["status"] == "running" and cached[spin]["state"] == "RUNNING"
    assert cached[spin]["pool"] == "batch" and cached[spin]["processUri"] == "spin.ipd"
    assert cached[spin]["volatile"] == "false"
    assert items(pe, "VOLATILE_INSTANCES") == {}
    ops.terminate_process(pe, ADMIN, spin, kill=True)
    assert settles(lambda: items(pe, "THREAD_POOL")["batch"]["permitsInUse"] == "0")
    assert items(pe, "CACHED_PROCESS_INSTANCE") == {}
    assert held not in items(pe, "CACHED_PROCESS_INSTANCE")


def test_telemetry_of_waiters(pe):
    held = waiting(pe)
    assert items(pe, "WAITERS") == {}
    result = {}
    thread = threading.Thread(target=lambda: result.update(end=ops.wait_for_process(pe, ADMIN, held, timeout=15000)))
    thread.start()
    assert settles(lambda: held in pe.waiters.counts())
    assert items(pe, "WAITERS") == {held: {"waiters": "1", "on": "processInstance"}}
    assert problems(pe, "waiter") == ()
    ops.start_process(pe, ADMIN, held, timeout=0)
    thread.join(10)
    assert result["end"].state.value == "FINISHED"
    assert settles(lambda: items(pe, "WAITERS") == {})


def test_telemetry_of_a_volatile_instance(engine_factory, repo):
    write_definition(repo, "naps.ipd", NAPS)
    pe = engine_factory(repo, engine={"save_interval_ms": 60000})
    result = {}
    thread = threading.Thread(target=lambda: result.update(end=ops.run(pe, ADMIN, "naps.ipd")))
    thread.start()
    volatile = settles(lambda: items(pe, "VOLATILE_INSTANCES"))
    assert len(volatile) == 1
    (execution_id, values), = volatile.items()
    assert values["processUri"] == "naps.ipd" and values["state"] == "RUNNING" and values["pool"] == "default"
    with pytest.raises(NotFound):  # nobody else knows of it yet
        ops.get_process_snapshot(pe, ADMIN, execution_id, peek=True)
    assert items(pe, "CACHED_PROCESS_INSTANCE")[execution_id]["volatile"] == "true"
    assert problems(pe) == ()
    thread.join(20)
    assert result["end"].execution_id == execution_id and result["end"].state.value == "FINISHED"
    assert items(pe, "VOLATILE_INSTANCES") == {}


# -- garbage collection -------------------------------------------------------------------------------
def test_garbage_collect_purges_disposed_rows_orphan_logs_and_obsolete_watchers(engine_factory, repo):
    write_definition(repo, "done.ipd", '<endElement id="end"/>')
    write_definition(repo, "hold.ipd", '<wait id="hold"/>')
    pe = quiet(engine_factory(repo, engine={"dispose_retention_ms": 0}))
    fetched = disposed(pe)
    assert raw(pe, fetched).disposed_at is not None
    held = waiting(pe)
    row = dict(logged_at=clock.now(), level="info", element_id=None, message="m")
    execute(pe, insert(process_log).values(execution_id="no-such-instance", **row),
            insert(process_log).values(execution_id=held, **row))
    obsolete = plant_watcher(pe, "no-such-instance")
    assert len(problems(pe, "zookeeperWatcher")) == 1

    assert ops.garbage_collect(pe, ADMIN) is None
    assert raw(pe, fetched) is None
    with pe.db.unit_of_work(write=False) as uow:
        assert [r["execution_id"] for r in store.read_log(uow.conn, "no-such-instance")] == []
        assert len(store.read_log(uow.conn, held)) == 1
        watcher = uow.conn.execute(watchers.select().where(watchers.c.id == obsolete)).first()
    assert watcher.finished and watcher.captured is None and watcher.finished_at is not None
    assert problems(pe) == ()
    assert raw(pe, held).state == "WAITING"


def test_garbage_collect_keeps_disposed_rows_within_their_retention(engine_factory, repo):
    write_definition(repo, "done.ipd", '<endElement id="end"/>')
    pe = quiet(engine_factory(repo, engine={"dispose_retention_ms": 60000}))
    fetched = disposed(pe)
    ops.garbage_collect(pe, ADMIN, timeout=0)
    assert raw(pe, fetched).disposed_at is not None
    assert garbage.collect_garbage(pe, 1.0) == garbage.Collected(0, 0, 0, True)
