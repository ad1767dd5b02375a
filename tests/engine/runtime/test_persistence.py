"""What survives a stop, a crash and a changed definition: nothing a client was told is lost."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from types import SimpleNamespace

import pytest

from engine import operations as ops
from engine.errors import InvalidState, NotFound
from engine.model.query import Param, Query
from engine.security.authorization import ANONYMOUS_ADMIN as ADMIN
from engine.model.states import ExecutionState as S, HealthState as H
from engine.storage import instances as store
from engine.storage.database import Database
from tests.support.common import ROOT, SAMPLES, settles, write_definition
from tests.support.storage import plant

SPIN = ('<assign id="init" name="i">0</assign>'
        '<while id="spin" test="$i &lt; 1000000"><assign id="inc" name="i" select="$i + 1"/>'
        '<invoke id="nap" module="util" operation="sleep"><param name="ms">20</param></invoke></while>'
        '<endElement id="end"/>')


def raw(pe, execution_id):
    with pe.db.unit_of_work(write=False) as uow:
        return store.get_instance(uow.conn, execution_id, include_disposed=True)


def test_a_timer_fires_after_a_restart(engine_factory, repo):
    write_definition(repo, "t.ipd", '<wait id="nap" duration="PT1S"/><assign id="a" name="done">yes</assign>')
    first = engine_factory(repo)
    waiting = ops.run(first, ADMIN, "t.ipd", states=["WAITING"], auto_dispose="never")
    first.stop()
    second = engine_factory(repo)
    end = ops.wait_for_process(second, ADMIN, waiting.execution_id, timeout=10000)
    assert end.state is S.FINISHED and end.pipeline.first_text("done") == "yes"


def test_a_running_process_is_handed_back_on_stop_and_continues(engine_factory, repo):
    write_definition(repo, "spin.ipd", SPIN.replace("1000000", "40"))
    first = engine_factory(repo)
    started = ops.run(first, ADMIN, "spin.ipd", states=["RUNNING"], auto_dispose="never")
    time.sleep(0.5)
    first.stop()
    handed_back = raw(first, started.execution_id)
    assert handed_back.state == "READY" and handed_back.owner_node is None and handed_back.health == "OK"
    saved_i = int(ops.get_process_snapshot(engine_factory(repo), ADMIN, started.execution_id, peek=True,
                                           inspect_pipeline=True).pipeline.first_text("i"))
    assert saved_i > 0


def test_a_waiting_process_answers_the_same_after_a_restart(engine_factory, repo):
    write_definition(repo, "w.ipd", '<assign id="a" name="x">kept</assign><wait id="hold"/>')
    first = engine_factory(repo)
    told = ops.run(first, ADMIN, "w.ipd", states=["WAITING"])
    first.stop()
    second = engine_factory(repo)
    again = ops.get_process_snapshot(second, ADMIN, told.execution_id)
    assert (again.state, again.state_change_index, again.pipeline) == (told.state, told.state_change_index, told.pipeline)
    assert ops.start_process(second, ADMIN, told.execution_id).state is S.FINISHED


def test_unreadable_saved_state_is_reported_corrupt_never_misread(engine_factory, repo):
    write_definition(repo, "w.ipd", '<wait id="hold"/><assign id="a" name="x">1</assign>')
    pe = engine_factory(repo)
    future = ops.run(pe, ADMIN, "w.ipd", states=["WAITING"]).execution_id
    garbage = ops.run(pe, ADMIN, "w.ipd", states=["WAITING"]).execution_id
    plant(pe, future, state_format=99)
    plant(pe, garbage, position='{"frames": [{"o": "root"')
    for execution_id in (future, garbage):
        snap = ops.start_process(pe, ADMIN, execution_id, timeout=5000, states=["FINISHED"])
        assert snap.health.state is H.CORRUPT, snap
        assert snap.state is not S.FINISHED
    assert "format 99" in raw(pe, future).health_message


def test_broken_pipeline_shows_corrupt_in_snapshots(pe):
    done = ops.run(pe, ADMIN, "greeting.ipd", auto_dispose="never")
    plant(pe, done.execution_id, pipeline="not json")
    snap = ops.get_process_snapshot(pe, ADMIN, done.execution_id)
    assert snap.health.state is H.CORRUPT and snap.pipeline is None


def test_changed_definition_without_the_saved_position_is_a_conflict(engine_factory, repo):
    uri = write_definition(repo, "d.ipd", '<wait id="hold"/><assign id="a" name="x">1</assign>')
    pe = engine_factory(repo)
    waiting = ops.run(pe, ADMIN, uri, states=["WAITING"])
    write_definition(repo, "d.ipd", '<wait id="renamed"/><assign id="a" name="x">1</assign>')
    snap = ops.start_process(pe, ADMIN, waiting.execution_id, timeout=3000)
    assert snap.health.state is H.DEFINITION_CONFLICT and "root.hold" in snap.health.message


def test_changed_definition_that_keeps_the_position_is_picked_up(engine_factory, repo):
    uri = write_definition(repo, "d.ipd", '<wait id="hold"/><assign id="a" name="x">old</assign>')
    pe = engine_factory(repo)
    waiting = ops.run(pe, ADMIN, uri, states=["WAITING"])
    assert waiting.definition.version == 1
    write_definition(repo, "d.ipd", '<wait id="hold"/><assign id="a" name="x">new</assign>')
    end = ops.start_process(pe, ADMIN, waiting.execution_id)
    assert end.pipeline.first_text("x") == "new" and end.definition.version == 2


def test_deleted_definition_breaks_the_instance_and_reload_fixes_it(engine_factory, repo):
    uri = write_definition(repo, "d.ipd", '<wait id="hold"/><assign id="a" name="x">1</assign>')
    pe = engine_factory(repo)
    waiting = ops.run(pe, ADMIN, uri, states=["WAITING"])
    with pytest.raises(InvalidState, match="CREATED or health BROKEN"):
        ops.reload(pe, ADMIN, waiting.execution_id)
    (repo / "d.ipd").rename(repo / "d.bak")
    broken = ops.start_process(pe, ADMIN, waiting.execution_id, timeout=3000)
    assert broken.health.state is H.BROKEN and broken.state is S.READY
    assert "d.ipd" in broken.health.message
    with pytest.raises(NotFound):
        ops.reload(pe, ADMIN, waiting.execution_id)
    (repo / "d.bak").rename(repo / "d.ipd")
    fixed = ops.reload(pe, ADMIN, waiting.execution_id)
    assert fixed.health.state is H.OK
    assert ops.wait_for_process(pe, ADMIN, waiting.execution_id).state is S.FINISHED


@pytest.mark.slow
def test_crash_loses_nothing(storage_url, make_settings, engine_factory, tmp_path):
    """kill -9 an engine while 100 instances wait on timers and 100 run long loops: a fresh engine
    finds all 200, finishes the timers, marks the loops LOST, and recovered loops resume."""
    repo = tmp_path / "repo"
    shutil.copytree(SAMPLES, repo)
    write_definition(repo, "spin.ipd", SPIN)
    env = dict(os.environ, PE_STORAGE_URL=storage_url, PE_REPOSITORY_PATH=str(repo), PE_NODE_ID="doomed",
               CRASH_TIMER="PT4S", PYTHONPATH=str(ROOT))
    host = subprocess.Popen([sys.executable, "-m", "tests.engine.runtime.crash_host", "100", "100"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, text=True)
    try:
        told = json.loads(host.stdout.readline())
        probe = SimpleNamespace(db=Database(storage_url))  # a reader, not an engine
        def loops_saved():
            with probe.db.unit_of_work(write=False) as uow:
                rows = [store.get_instance(uow.conn, i) for i in told["loops"]]
            return all(r.state == "RUNNING" and r.position for r in rows) and rows
        assert settles(loops_saved, 60)
        time.sleep(1.0)
    finally:
        host.send_signal(signal.SIGKILL)
        host.wait()
    with probe.db.unit_of_work(write=False) as uow:
        saved = {i: store.get_instance(uow.conn, i) for i in told["loops"]}
    fresh = engine_factory(repo)
    everything = set(told["timers"]) | set(told["loops"])
    found = ops.find_executions(fresh, ADMIN, Query(Param("executionId", "in", tuple(everything))))
    assert found.total == 200
    assert all(s.health.state is not H.CORRUPT for s in found.snapshots)
    for execution_id in told["timers"]:
        end = ops.wait_for_process(fresh, ADMIN, execution_id, timeout=15000, peek=True)
        assert end.state is S.FINISHED, end
    assert settles(lambda: all(raw(fresh, i).health == "LOST" for i in told["loops"]), 20)
    for execution_id in told["loops"][:10]:
        snap = ops.get_process_snapshot(fresh, ADMIN, execution_id, inspect_pipeline=True)
        assert snap.state is S.RUNNING and snap.health.state is H.LOST
        with pytest.raises(NotFound):  # issue 17: a record is of an ended process; its health change waits beside
            ops.get_history(fresh, ADMIN, execution_id)
        saved_i = int(ops.get_process_snapshot(fresh, ADMIN, execution_id, inspect_pipeline=True).pipeline.first_text("i"))
        assert saved_i == int(__import__("engine.storage.codec", fromlist=["x"]).decode_store(saved[execution_id].pipeline).first_text("i"))
        ops.recover_process(fresh, ADMIN, execution_id)
        end = ops.terminate_process(fresh, ADMIN, execution_id, peek=True)
        assert end.state is S.TERMINATED and int(end.pipeline.first_text("i")) >= saved_i
        record = ops.get_history(fresh, ADMIN, execution_id)  # issue 17: what happened to it, kept
        assert [(c.health, c.node) for c in record.health_changes] == [("LOST", fresh.node_id), ("OK", fresh.node_id)]
        assert record.end_state == "TERMINATED" and set(record.nodes) == {"doomed", fresh.node_id}
        (listed,) = ops.find_history(fresh, ADMIN, Query(Param("executionId", "equals", (execution_id,)))).items
        assert (listed.health_changes, listed.nodes) == (record.health_changes, record.nodes)


def test_a_run_that_ends_disposed_is_never_written_and_answers_as_a_disposed_one(engine_factory, repo):
    """Only its caller, still waiting, knew its ID, and no operation finds a disposed instance: the row
    would be deleted unread. Everything that stays findable is written as before."""
    write_definition(repo, "straight.ipd", '<assign id="a" name="x">1</assign>')
    write_definition(repo, "halts.ipd", '<wait id="hold"/>')
    pe = engine_factory(repo)
    gone = ops.run(pe, ADMIN, "straight.ipd")  # fetch: disposed as it is handed out
    assert gone.state is S.FINISHED and raw(pe, gone.execution_id) is None
    with pytest.raises(NotFound):
        ops.get_process_snapshot(pe, ADMIN, gone.execution_id)
    assert ops.dispose_process(pe, ADMIN, gone.execution_id) is None
    ended = ops.run(pe, ADMIN, "straight.ipd", auto_dispose="endedNotFailed")
    assert raw(pe, ended.execution_id) is None
    for kept in (ops.run(pe, ADMIN, "straight.ipd", peek=True), ops.run(pe, ADMIN, "straight.ipd", auto_dispose="never")):
        assert raw(pe, kept.execution_id).state == "FINISHED"
        assert ops.get_process_snapshot(pe, ADMIN, kept.execution_id, peek=True).state is S.FINISHED
    waiting = ops.run(pe, ADMIN, "halts.ipd", states=["WAITING"])
    assert raw(pe, waiting.execution_id).state == "WAITING"


def test_an_instance_that_hits_a_bug_of_the_engine_fails_with_an_incident_in_the_log(engine_factory, repo, caplog):
    write_definition(repo, "hold.ipd", '<wait id="hold"/>')
    pe = engine_factory(repo)
    held = ops.run(pe, ADMIN, "hold.ipd", states=["WAITING"]).execution_id
    plant(pe, held, state="RUNNING", owner_node=pe.node_id)  # as the executor holds it when the bug strikes
    with caplog.at_level("ERROR", logger="engine.runtime.node"):
        pe.fail_internally(held)
    snapshot = ops.get_process_snapshot(pe, ADMIN, held, peek=True)
    assert snapshot.state is S.FAILED and snapshot.exception.type == "InternalError"
    incident = snapshot.exception.message.removeprefix("internal error (incident ").removesuffix(")")
    assert len(incident) == 12 and f"incident {incident}" in caplog.text
