"""Maintenance levels, online flags, node states, services and cluster control, through the facade."""
from __future__ import annotations

import threading
import time

import pytest

from engine import operations as ops
from engine.errors import (AuthorizationError, EngineOffline, InvalidParameter, InvalidState, NotFound)
from engine.model.query import Param, Query
from engine.security.authorization import ANONYMOUS_ADMIN as ADMIN, Principal
from engine.model.states import ExecutionState as S
from tests.support.common import SAMPLES, settles, write_definition

BOB = Principal("bob", frozenset({"clerks"}))
SPIN = ('<assign id="i" name="i">0</assign><while id="w" test="true()"><assign id="n" name="i" select="$i + 1"/>'
        '<invoke id="nap" module="util" operation="sleep"><param name="ms">5</param></invoke></while>')


@pytest.fixture
def pe(engine_factory, repo):
    write_definition(repo, "hold.ipd", '<wait id="hold"/><assign id="a" name="after">yes</assign>')
    write_definition(repo, "spin.ipd", SPIN)
    write_definition(repo, "done.ipd", '<endElement id="end"/>')
    return engine_factory(repo)


# -- maintenance levels -------------------------------------------------------------------------------
def test_maintenance_levels_apply_their_online_rule(pe):
    assert ops.get_maintenance_level(pe, ADMIN).id == "normal"
    waiting = ops.run(pe, ADMIN, "hold.ipd", states=["WAITING"])
    created = ops.instantiate(pe, ADMIN, "done.ipd")
    ops.set_maintenance_level(pe, ADMIN, "maintenance")
    level = ops.get_maintenance_level(pe, ADMIN)
    assert (level.id, level.online) == ("maintenance", "allOffline")
    assert not ops.get_process_snapshot(pe, ADMIN, waiting.execution_id).online
    held = ops.start_process(pe, ADMIN, created.execution_id, timeout=300, set_online=False)
    assert held.state is S.READY  # offline: not executed
    ops.set_maintenance_level(pe, ADMIN, "frozen")  # noChange: the flags stay as they are
    assert not ops.get_process_snapshot(pe, ADMIN, waiting.execution_id).online
    ops.set_maintenance_level(pe, ADMIN, "normal")
    assert ops.get_process_snapshot(pe, ADMIN, waiting.execution_id).online
    assert ops.wait_for_process(pe, ADMIN, created.execution_id, timeout=5000).state is S.FINISHED


def test_setting_the_level_in_force_applies_its_online_rule_again(pe):
    """CONTRACT §10: a PUT is repeatable. What was switched by hand since is set back."""
    held = ops.run(pe, ADMIN, "hold.ipd", states=["WAITING"])
    ops.set_maintenance_level(pe, ADMIN, "maintenance")
    ops.set_online(pe, ADMIN, held.execution_id, True)
    assert ops.get_process_snapshot(pe, ADMIN, held.execution_id).online
    ops.set_maintenance_level(pe, ADMIN, "maintenance")
    assert not ops.get_process_snapshot(pe, ADMIN, held.execution_id).online
    assert ops.get_maintenance_level(pe, ADMIN).id == "maintenance"
    ops.set_maintenance_level(pe, ADMIN, "normal")
    ops.set_maintenance_level(pe, ADMIN, "normal")
    assert ops.get_process_snapshot(pe, ADMIN, held.execution_id).online


def test_going_into_maintenance_stops_running_processes(pe):
    running = ops.run(pe, ADMIN, "spin.ipd", states=["RUNNING"], auto_dispose="never")
    ops.set_maintenance_level(pe, ADMIN, "maintenance")
    stopped = ops.wait_for_process(pe, ADMIN, running.execution_id, states=["READY"], timeout=5000)
    assert stopped.state is S.READY and not stopped.online
    ops.set_maintenance_level(pe, ADMIN, "normal")
    assert ops.wait_for_process(pe, ADMIN, running.execution_id, states=["RUNNING"], timeout=5000).state is S.RUNNING
    ops.terminate_process(pe, ADMIN, running.execution_id, kill=True)


def test_maintenance_level_errors_and_persistence(engine_factory, repo):
    first = engine_factory(repo)
    with pytest.raises(NotFound, match="maintenance level"):
        ops.set_maintenance_level(first, ADMIN, "holiday")
    ops.set_maintenance_level(first, ADMIN, "normal")  # the level in force: applied again, no error
    ops.set_maintenance_level(first, ADMIN, "frozen")
    first.stop()
    assert ops.get_maintenance_level(engine_factory(repo), ADMIN).id == "frozen"  # stored for every node


# -- node online and node states --------------------------------------------------------------------
def test_set_engine_online_self_all_and_specified(pe):
    ops.set_engine_online(pe, ADMIN, False, "self")
    assert not pe.online and not ops.get_node_state(pe, ADMIN).online
    with pytest.raises(EngineOffline):
        ops.run(pe, ADMIN, "done.ipd")
    ops.set_engine_online(pe, ADMIN, True, "all")
    assert pe.online
    ops.set_engine_online(pe, ADMIN, False, "specified", [pe.node_id])
    assert not pe.online
    ops.set_engine_online(pe, ADMIN, True, "specified", [pe.node_id])
    with pytest.raises(NotFound, match="ghost"):
        ops.set_engine_online(pe, ADMIN, False, "specified", ["ghost"])
    with pytest.raises(InvalidParameter, match="param"):
        ops.set_engine_online(pe, ADMIN, False, "some")
    with pytest.raises(InvalidParameter, match="node"):
        ops.set_engine_online(pe, ADMIN, False, "specified", [])
    assert pe.online


def test_another_node_applies_an_online_request_at_its_heartbeat(pe):
    from engine.storage import nodes
    with pe.db.unit_of_work() as uow:
        nodes.request_online(uow.conn, [pe.node_id], False, "another-node")  # as its setEngineOnline would
        uow.commit()
    deadline = time.monotonic() + 5
    while pe.online and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not pe.online


def test_the_asking_node_records_its_own_flag_instead_of_a_request_to_itself(pe):
    """A request to itself could be taken by a heartbeat already under way and undo the change."""
    from engine.storage import nodes

    def own_row() -> dict:
        with pe.db.unit_of_work() as uow:
            return next(r for r in nodes.all_nodes(uow.conn) if r["node_id"] == pe.node_id)
    try:
        ops.set_engine_online(pe, ADMIN, False, "all")
        row = own_row()
        assert row["online"] is False and row["requested_online"] is None and not pe.online
        pe.membership.beat()
        assert not pe.online
    finally:
        ops.set_engine_online(pe, ADMIN, True, "all")
    assert own_row()["online"] is True and pe.online


def test_node_states(pe):
    running = ops.run(pe, ADMIN, "spin.ipd", states=["RUNNING"])
    state = ops.get_node_state(pe, ADMIN)
    assert state.engine_id == pe.node_id and state.online and state.running_processes == 1
    assert state.cluster.connection_status == "connected" and state.cluster.master
    assert state.cluster.root_node == f"nodes/{pe.node_id}" and "timers" in state.cluster.wait_state_handlers
    assert [s.engine_id for s in ops.get_node_states(pe, ADMIN)] == [pe.node_id]
    ops.terminate_process(pe, ADMIN, running.execution_id, kill=True)


def test_wait_for_no_running_processes(pe):
    running = ops.run(pe, ADMIN, "spin.ipd", states=["RUNNING"])
    assert ops.wait_for_no_running_processes(pe, ADMIN, timeout=200) == 1
    ops.set_online(pe, ADMIN, running.execution_id, False, timeout=0)
    started = time.monotonic()
    assert ops.wait_for_no_running_processes(pe, ADMIN, timeout=60000) == 0
    assert time.monotonic() - started < 30  # woken when the last one stopped, not at the timeout


# -- services -------------------------------------------------------------------------------------------
SERVICES = [{"id": "beat", "process_uri": "services/heartbeat.ipd", "autostart": True, "thread_pool_id": None,
             "description": "beats"},
            {"id": "report", "process_uri": "services/report.ipd", "autostart": False, "thread_pool_id": "batch",
             "description": "reports"}]


@pytest.fixture
def with_services(engine_factory):
    from config.settings import ServiceSettings
    return engine_factory(SAMPLES, services=tuple(ServiceSettings(**s) for s in SERVICES))


def test_autostart_services_start_with_the_engine(with_services):
    pe = with_services
    listed = {s.id: s for s in ops.list_services(pe, ADMIN)}
    assert listed["beat"].state == "running" and listed["report"].state == "stopped"
    assert listed["report"].thread_pool_id == "batch" and listed["report"].description == "reports"
    beat = ops.get_service_snapshot(pe, ADMIN, "beat")
    assert ops.wait_for_process(pe, ADMIN, beat.execution_id, states=["WAITING"], timeout=5000).state is S.WAITING
    assert ops.get_service_snapshot(pe, ADMIN, "report") is None


def test_start_service_runs_at_most_one_instance(with_services):
    pe = with_services
    first = ops.start_service(pe, ADMIN, "beat")
    again = ops.start_service(pe, ADMIN, "beat")
    assert first.execution_id == again.execution_id
    found = ops.find_executions(pe, ADMIN, Query(Param("processUri", "equals", ("services/heartbeat.ipd",))))
    assert found.total == 1


def test_a_finished_service_can_be_started_again(with_services):
    pe = with_services
    report = ops.start_service(pe, ADMIN, "report")
    done = ops.wait_for_process(pe, ADMIN, report.execution_id, timeout=10000, peek=True)
    assert done.state is S.FINISHED and done.pipeline.first_text("sum") == "55"
    assert {s.id: s.state for s in ops.list_services(pe, ADMIN)}["report"] == "stopped"
    again = ops.start_service(pe, ADMIN, "report")
    assert again.execution_id != report.execution_id


def test_service_errors(with_services):
    pe = with_services
    for call in (lambda: ops.start_service(pe, ADMIN, "nope"), lambda: ops.get_service_snapshot(pe, ADMIN, "nope")):
        with pytest.raises(NotFound, match="service"):
            call()
    for call in (lambda: ops.list_services(pe, BOB), lambda: ops.start_service(pe, BOB, "beat"),
                 lambda: ops.get_service_snapshot(pe, BOB, "beat")):
        with pytest.raises(AuthorizationError):
            call()


# -- cluster control -------------------------------------------------------------------------------------
def test_disconnect_waits_hands_back_and_connect_resumes(pe):
    running = ops.run(pe, ADMIN, "spin.ipd", states=["RUNNING"], auto_dispose="never")
    state = ops.cluster_disconnect(pe, ADMIN, timeout=200)
    assert state.cluster.connection_status == "disconnected" and not state.cluster.master
    assert state.running_processes == 0
    handed_back = ops.get_process_snapshot(pe, ADMIN, running.execution_id)
    assert handed_back.state is S.READY and handed_back.owner_node is None
    with pytest.raises(InvalidState):
        ops.cluster_disconnect(pe, ADMIN)
    with pytest.raises(EngineOffline):
        ops.run(pe, ADMIN, "done.ipd")
    state = ops.cluster_connect(pe, ADMIN)
    assert state.cluster.connection_status == "connected"
    assert ops.wait_for_process(pe, ADMIN, running.execution_id, states=["RUNNING"], timeout=5000).state is S.RUNNING
    with pytest.raises(InvalidState):
        ops.cluster_connect(pe, ADMIN)
    ops.terminate_process(pe, ADMIN, running.execution_id, kill=True)


def test_heartbeats_under_way_never_undo_a_disconnect_or_block_the_next_connect(pe):
    """A heartbeat that began before a disconnect must not register the node again behind it (its
    row then looked like a second live node using this ID, and connect failed)."""
    stop = threading.Event()

    def beat_without_pause() -> None:
        while not stop.is_set():
            pe.membership.beat()
    beater = threading.Thread(target=beat_without_pause)
    beater.start()
    try:
        for _ in range(40):
            assert ops.cluster_disconnect(pe, ADMIN, timeout=0).cluster.connection_status == "disconnected"
            assert ops.cluster_connect(pe, ADMIN).cluster.connection_status == "connected"
    finally:
        stop.set()
        beater.join()


def test_connect_after_a_lost_connection_takes_the_node_back(pe, monkeypatch):
    """After failed heartbeats the node's row may still look alive: it is this node's own, no conflict."""
    from engine.runtime.cluster import membership

    def unreachable(*args, **kwargs):
        raise OSError("the database went away")
    monkeypatch.setattr(membership.store, "heartbeat", unreachable)
    with pytest.raises(OSError):
        pe.membership.beat()
    assert ops.get_node_state(pe, ADMIN).cluster.connection_status == "connectionLost"
    ops.cluster_connect(pe, ADMIN)
    monkeypatch.undo()
    pe.membership.beat()
    assert ops.get_node_state(pe, ADMIN).cluster.connection_status == "connected"


def test_node_operations_are_for_administrators(pe):
    for call in (lambda: ops.get_maintenance_level(pe, BOB), lambda: ops.set_maintenance_level(pe, BOB, "frozen"),
                 lambda: ops.get_node_state(pe, BOB), lambda: ops.get_node_states(pe, BOB),
                 lambda: ops.set_engine_online(pe, BOB, False), lambda: ops.wait_for_no_running_processes(pe, BOB, 0),
                 lambda: ops.cluster_connect(pe, BOB), lambda: ops.cluster_disconnect(pe, BOB)):
        with pytest.raises(AuthorizationError):
            call()


@pytest.mark.postgres
def test_the_other_nodes_go_offline_at_once_not_at_their_heartbeat(pg_schema_url):
    """setEngineOnline(all) tells the other nodes by notification; their heartbeat (a minute apart
    here) is only the fallback."""
    from config.settings import load_settings
    from engine.runtime.node import ProcessEngine

    settings = load_settings({}).with_overrides(storage={"url": pg_schema_url}, services=(),
                                                cluster={"heartbeat_ms": 60000, "lost_after_ms": 600000})
    one = ProcessEngine(settings.with_overrides(engine={"node_id": "node-one"})).start()
    other = ProcessEngine(settings.with_overrides(engine={"node_id": "node-other"})).start()
    try:
        assert one.broadcast.listening.wait(20) and other.broadcast.listening.wait(20)
        ops.set_engine_online(one, ADMIN, False, "all")
        deadline = time.monotonic() + 20
        while other.online and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not other.online and not one.online
        ops.set_engine_online(other, ADMIN, True, "specified", ["node-one"])
        deadline = time.monotonic() + 20
        while not one.online and time.monotonic() < deadline:
            time.sleep(0.05)
        assert one.online and not other.online
    finally:
        other.stop()
        one.stop()


def test_a_node_silent_past_lost_after_is_shown_gone_then_forgotten(pe, monkeypatch):
    """CONTRACT §9: a node without a heartbeat for cluster.lost_after_ms is gone — nodeStates does not show
    it as a connected master (a node killed with -9 left its row so), and the master forgets it; on SQLite
    too, where the row is an earlier engine's on the same file."""
    from datetime import timedelta

    from engine.support import clock
    from engine.runtime.cluster import membership
    from engine.storage import nodes
    from engine.storage.tables import nodes as node_table

    looked = threading.Event()  # the master forgets the row only once the test has seen it shown gone
    forget = membership.store.forget_dead_nodes
    monkeypatch.setattr(membership.store, "forget_dead_nodes",
                        lambda conn, since: forget(conn, since) if looked.is_set() else [])

    assert settles(pe.membership.believes_master)  # the first housekeeping round has taken the lock
    long_ago = clock.now() - timedelta(minutes=5)
    with pe.db.unit_of_work() as uow:
        uow.conn.execute(node_table.insert().values(node_id="killed-node", started_at=long_ago, heartbeat_at=long_ago,
                                                    online=True, master=True, running=2))
        uow.commit()
    gone = next(s for s in ops.get_node_states(pe, ADMIN) if s.engine_id == "killed-node")
    assert (gone.cluster.connection_status, gone.cluster.master, gone.running_processes) == ("connectionLost", False, 0)
    assert not gone.cluster.wait_state_handlers and "no heartbeat since" in gone.cluster.status_message
    masters = [s.engine_id for s in ops.get_node_states(pe, ADMIN) if s.cluster.master]
    assert masters == [pe.node_id]
    looked.set()

    def forgotten() -> bool:
        with pe.db.unit_of_work(write=False) as uow:
            return "killed-node" not in {r["node_id"] for r in nodes.all_nodes(uow.conn)}
    deadline = time.monotonic() + 20
    while not forgotten() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert forgotten()


@pytest.mark.postgres
def test_a_master_whose_lock_connection_died_is_master_no_more(pg_schema_url):
    """The master lock lives as long as its connection. When that connection is cut, another node takes
    the lock, and the first must not go on saying master: at most one node is (CONTRACT §9)."""
    import uuid

    from sqlalchemy import create_engine, text

    from config.settings import load_settings
    from engine.runtime.node import ProcessEngine
    from tests.support.common import PG_URL

    application = f"pe-master-{uuid.uuid4().hex[:8]}"
    settings = load_settings({}).with_overrides(services=(), cluster={"heartbeat_ms": 60000, "lost_after_ms": 600000})
    one = ProcessEngine(settings.with_overrides(storage={"url": f"{pg_schema_url}&application_name={application}"},
                                                engine={"node_id": "node-one"})).start()
    other = ProcessEngine(settings.with_overrides(storage={"url": pg_schema_url},
                                                  engine={"node_id": "node-other"})).start()
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    try:
        assert one.membership.is_master() and not other.membership.is_master()
        with admin.connect() as conn:
            cut = conn.execute(text(
                "SELECT count(pg_terminate_backend(l.pid)) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                "WHERE l.locktype = 'advisory' AND a.application_name = :a"), {"a": application}).scalar()
        assert cut == 1
        deadline = time.monotonic() + 10
        while not other.membership.is_master() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert other.membership.is_master()
        assert not one.membership.is_master()
        masters = {s.engine_id for s in ops.get_node_states(one, ADMIN) if s.engine_id == "node-one" and s.cluster.master}
        assert masters == set()
    finally:
        admin.dispose()
        other.stop()
        one.stop()


@pytest.mark.postgres
def test_a_master_that_stops_confirming_loses_mastership_and_cannot_write_as_master(pg_schema_url):
    """Leadership expires (issue 15): a master whose process stalls keeps its connection open, yet its
    lock's session ends itself once idle past the lease (half of lost_after_ms), the other node takes
    the lock, and the stalled node neither says it is master nor can write as one — its master work
    runs on the ended session, so it fails instead of writing (fencing)."""
    from config.settings import load_settings
    from engine.errors import DatabaseUnavailable
    from engine.runtime.node import ProcessEngine

    settings = load_settings({}).with_overrides(services=(), cluster={"heartbeat_ms": 200, "lost_after_ms": 2000},
                                                engine={"timer_poll_ms": 100})
    one = ProcessEngine(settings.with_overrides(storage={"url": pg_schema_url}, engine={"node_id": "node-one"})).start()
    other = None
    try:
        assert settles(one.membership.is_master)
        other = ProcessEngine(settings.with_overrides(storage={"url": pg_schema_url},
                                                      engine={"node_id": "node-other"})).start()
        assert not other.membership.believes_master()
        one.housekeeper.stop()  # the stall: nothing of this node touches the lock's session any more
        stalled_at = time.monotonic()
        assert settles(other.membership.believes_master, 5)
        assert time.monotonic() - stalled_at < 2.0  # within lost_after_ms
        assert not one.membership.believes_master()  # the lease ran out: it says so without asking
        one.membership._confirmed_at = time.monotonic()  # as if it had asked just before it stalled
        with pytest.raises(DatabaseUnavailable):
            with one.membership.master_work() as uow:
                assert uow is not None
                uow.conn.exec_driver_sql("SELECT 1")
        assert not one.membership.is_master() and other.membership.is_master()
        masters = [s.engine_id for s in ops.get_node_states(other, ADMIN) if s.cluster.master]
        assert masters == ["node-other"]
    finally:
        if other is not None:
            other.stop()
        one.stop()


@pytest.mark.postgres
def test_a_master_whose_session_dies_inside_its_work_takes_no_new_session_for_the_lock(pg_schema_url):
    """The lock's session ends between two statements of a master round (a stall past the lease, then
    the wake). SQLAlchemy would open a new session on the connection's next use, which holds no lock:
    the node must not take that for its mastership, else two nodes say master (CI, stop 22) and the
    woken one writes as master unfenced."""
    import uuid

    from sqlalchemy import create_engine, text

    from config.settings import load_settings
    from engine.errors import DatabaseUnavailable
    from engine.runtime.node import ProcessEngine
    from tests.support.common import PG_URL

    application = f"pe-master-{uuid.uuid4().hex[:8]}"
    settings = load_settings({}).with_overrides(services=(), cluster={"heartbeat_ms": 60000, "lost_after_ms": 600000})
    one = ProcessEngine(settings.with_overrides(storage={"url": f"{pg_schema_url}&application_name={application}"},
                                                engine={"node_id": "node-one"})).start()
    one.housekeeper.stop()  # only this test uses the lock's session
    other = ProcessEngine(settings.with_overrides(storage={"url": pg_schema_url},
                                                  engine={"node_id": "node-other"})).start()
    other.housekeeper.stop()
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    try:
        assert one.membership.is_master() and not other.membership.is_master()
        with pytest.raises(DatabaseUnavailable):
            with one.membership.master_work() as uow:
                uow.conn.exec_driver_sql("SELECT 1")
                with admin.connect() as conn:
                    assert conn.execute(text(
                        "SELECT count(pg_terminate_backend(l.pid)) FROM pg_locks l JOIN pg_stat_activity a "
                        "ON a.pid = l.pid WHERE l.locktype = 'advisory' AND a.application_name = :a"),
                        {"a": application}).scalar() == 1
                uow.conn.exec_driver_sql("SELECT 1")
        assert other.membership.is_master()
        assert not one.membership.is_master() and not one.membership.believes_master()
        with one.membership.master_work() as uow:
            assert uow is None  # no master work on a session that holds nothing
    finally:
        admin.dispose()
        other.stop()
        one.stop()


def test_heartbeat_ages_are_an_admins_and_grow_while_a_node_is_silent(pe):
    with pytest.raises(AuthorizationError):
        ops.get_heartbeat_ages(pe, Principal("clerk", frozenset({"clerks"})))
    ages = ops.get_heartbeat_ages(pe, ADMIN)
    assert list(ages) == [pe.node_id] and 0 <= ages[pe.node_id] < 60_000
    from datetime import timedelta

    from engine.storage.tables import nodes
    from engine.support import clock
    with pe.db.unit_of_work() as uow:  # a node that stopped beating a minute ago (frozen, or gone)
        silent = clock.now() - timedelta(minutes=1)
        uow.conn.execute(nodes.insert().values(node_id="frozen", started_at=silent, heartbeat_at=silent, online=True))
        uow.commit()
    ages = ops.get_heartbeat_ages(pe, ADMIN)
    assert ages["frozen"] >= 60_000 and ages[pe.node_id] < 60_000
