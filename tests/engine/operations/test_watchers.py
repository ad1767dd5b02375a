"""Process watchers: every expectation, peek, inspectPipeline, waiting and finishing, restarts."""
from __future__ import annotations

import time

import pytest

from engine import operations as ops
from engine.errors import AuthorizationError, InvalidParameter, NotFound
from engine.security.authorization import ANONYMOUS_ADMIN as ADMIN, Principal
from engine.model.states import ExecutionState as S, HealthState as H
from tests.support.common import write_definition
from tests.support.storage import plant

HOLD = '<assign id="a" name="x">1</assign><wait id="hold"/><assign id="b" name="y">2</assign>'


@pytest.fixture
def pe(engine_factory, repo):
    write_definition(repo, "hold.ipd", HOLD)
    write_definition(repo, "done.ipd", '<endElement id="end"/>')
    write_definition(repo, "nap.ipd", '<wait id="nap" duration="PT0.3S"/><assign id="z" name="z">3</assign>')
    return engine_factory(repo)


def test_a_watcher_finishes_when_its_state_is_reached(pe):
    created = ops.instantiate(pe, ADMIN, "hold.ipd")
    watcher = ops.create_watcher(pe, ADMIN, created.execution_id, expected_states=["WAITING"])
    assert not watcher.finished and watcher.snapshot is None
    ops.start_process(pe, ADMIN, created.execution_id, timeout=0)
    done = ops.get_watcher(pe, ADMIN, watcher.id, timeout=5000)
    assert done.finished and done.snapshot.state is S.WAITING and done.snapshot.current_element == "root.hold"
    assert done.snapshot.pipeline.first_text("x") == "1"  # inspectPipeline defaults to true


def test_expectations_already_met_finish_at_once(pe):
    waiting = ops.run(pe, ADMIN, "hold.ipd", states=["WAITING"])
    watcher = ops.create_watcher(pe, ADMIN, waiting.execution_id, expected_states=["WAITING"],
                                 expected_online=True, expected_element="root.hold",
                                 expected_health=["OK"], inspect_pipeline=False)
    assert watcher.finished and watcher.snapshot.state is S.WAITING and watcher.snapshot.pipeline is None


def test_state_change_index_waits_for_a_newer_change(pe):
    waiting = ops.run(pe, ADMIN, "hold.ipd", states=["WAITING"], auto_dispose="never")
    watcher = ops.create_watcher(pe, ADMIN, waiting.execution_id,
                                 expected_state_change_index=waiting.state_change_index)
    assert not ops.get_watcher(pe, ADMIN, watcher.id, timeout=200).finished
    ops.start_process(pe, ADMIN, waiting.execution_id, timeout=0)
    done = ops.get_watcher(pe, ADMIN, watcher.id, timeout=5000)
    assert done.finished and done.snapshot.state_change_index > waiting.state_change_index


def test_online_and_health_expectations(pe):
    waiting = ops.run(pe, ADMIN, "hold.ipd", states=["WAITING"])
    offline = ops.create_watcher(pe, ADMIN, waiting.execution_id, expected_online=False)
    killed = ops.create_watcher(pe, ADMIN, waiting.execution_id, expected_health=["KILLED"])
    ops.set_online(pe, ADMIN, waiting.execution_id, False)
    assert ops.get_watcher(pe, ADMIN, offline.id, timeout=5000).snapshot.online is False
    assert not ops.get_watcher(pe, ADMIN, killed.id).finished
    ops.terminate_process(pe, ADMIN, waiting.execution_id, kill=True, peek=True)
    assert ops.get_watcher(pe, ADMIN, killed.id, timeout=5000).snapshot.health.state is H.KILLED


def test_an_end_state_finishes_a_watcher_whose_expectations_never_held(pe):
    waiting = ops.run(pe, ADMIN, "hold.ipd", states=["WAITING"], auto_dispose="never")
    watcher = ops.create_watcher(pe, ADMIN, waiting.execution_id, expected_element="root.a")
    ops.start_process(pe, ADMIN, waiting.execution_id)
    done = ops.get_watcher(pe, ADMIN, watcher.id, timeout=5000)
    assert done.finished and done.snapshot.state is S.FINISHED


def test_a_watcher_without_peek_fetches_the_end_and_disposes(pe):
    created = ops.instantiate(pe, ADMIN, "nap.ipd")  # autoDispose fetch
    fetching = ops.create_watcher(pe, ADMIN, created.execution_id)
    ops.start_process(pe, ADMIN, created.execution_id, timeout=0)
    done = ops.get_watcher(pe, ADMIN, fetching.id, timeout=5000)
    assert done.snapshot.state is S.FINISHED
    with pytest.raises(NotFound):
        ops.get_process_snapshot(pe, ADMIN, created.execution_id)


def test_a_peeking_watcher_leaves_the_process(pe):
    created = ops.instantiate(pe, ADMIN, "nap.ipd")
    peeking = ops.create_watcher(pe, ADMIN, created.execution_id, peek=True)
    ops.start_process(pe, ADMIN, created.execution_id, timeout=0)
    assert ops.get_watcher(pe, ADMIN, peeking.id, timeout=5000).snapshot.state is S.FINISHED
    assert ops.get_process_snapshot(pe, ADMIN, created.execution_id).state is S.FINISHED


def test_disposing_the_process_finishes_its_watchers_with_the_last_snapshot(pe):
    waiting = ops.run(pe, ADMIN, "hold.ipd", states=["WAITING"])
    watcher = ops.create_watcher(pe, ADMIN, waiting.execution_id, expected_states=["FINISHED"])
    ops.dispose_process(pe, ADMIN, waiting.execution_id)
    done = ops.get_watcher(pe, ADMIN, watcher.id, timeout=5000)
    assert done.finished and done.snapshot.state is S.WAITING and done.snapshot.execution_id == waiting.execution_id


def test_get_watcher_with_finish_captures_the_current_state(pe):
    waiting = ops.run(pe, ADMIN, "hold.ipd", states=["WAITING"])
    watcher = ops.create_watcher(pe, ADMIN, waiting.execution_id, expected_states=["FINISHED"])
    started = time.monotonic()
    done = ops.get_watcher(pe, ADMIN, watcher.id, timeout=200, finish=True)
    assert time.monotonic() - started >= 0.2
    assert done.finished and done.snapshot.state is S.WAITING


def test_delete_watcher(pe):
    waiting = ops.run(pe, ADMIN, "hold.ipd", states=["WAITING"])
    watcher = ops.create_watcher(pe, ADMIN, waiting.execution_id, expected_states=["FINISHED"])
    assert ops.delete_watcher(pe, ADMIN, watcher.id) is True
    assert ops.delete_watcher(pe, ADMIN, watcher.id) is False
    with pytest.raises(NotFound):
        ops.get_watcher(pe, ADMIN, watcher.id)


def test_errors(pe):
    waiting = ops.run(pe, ADMIN, "hold.ipd", states=["WAITING"])
    with pytest.raises(NotFound):
        ops.create_watcher(pe, ADMIN, "no-such-execution")
    with pytest.raises(NotFound, match="root.nowhere"):
        ops.create_watcher(pe, ADMIN, waiting.execution_id, expected_element="root.nowhere")
    with pytest.raises(InvalidParameter, match="expectedState"):
        ops.create_watcher(pe, ADMIN, waiting.execution_id, expected_states=["ASLEEP"])
    with pytest.raises(InvalidParameter, match="expectedHealthState"):
        ops.create_watcher(pe, ADMIN, waiting.execution_id, expected_health=["SICK"])
    with pytest.raises(NotFound):
        ops.get_watcher(pe, ADMIN, "no-such-watcher")
    watcher = ops.create_watcher(pe, ADMIN, waiting.execution_id, expected_states=["FINISHED"])
    stranger = Principal("mallory")
    with pytest.raises(AuthorizationError):
        ops.get_watcher(pe, stranger, watcher.id)
    with pytest.raises(AuthorizationError):
        ops.delete_watcher(pe, stranger, watcher.id)
    with pytest.raises(InvalidParameter):
        ops.get_watcher(pe, ADMIN, watcher.id, timeout=-7)


def test_list_parameters_as_one_comma_separated_item(pe):
    waiting = ops.run(pe, ADMIN, "hold.ipd", states=["WAITING"])
    watcher = ops.create_watcher(pe, ADMIN, waiting.execution_id, expected_states="FINISHED,WAITING")
    assert watcher.finished


def test_watchers_outlive_a_restart(engine_factory, repo):
    write_definition(repo, "hold.ipd", HOLD)
    first = engine_factory(repo)
    waiting = ops.run(first, ADMIN, "hold.ipd", states=["WAITING"], auto_dispose="never")
    watcher = ops.create_watcher(first, ADMIN, waiting.execution_id, expected_states=["FINISHED"])
    first.stop()
    second = engine_factory(repo)
    assert not ops.get_watcher(second, ADMIN, watcher.id).finished
    ops.start_process(second, ADMIN, waiting.execution_id)
    assert ops.get_watcher(second, ADMIN, watcher.id, timeout=5000).snapshot.state is S.FINISHED


def test_the_sweep_catches_changes_it_was_not_told_of(pe):
    """A change made behind this node's back (another node, or the database directly) is still seen."""
    waiting = ops.run(pe, ADMIN, "hold.ipd", states=["WAITING"], auto_dispose="never")
    watcher = ops.create_watcher(pe, ADMIN, waiting.execution_id, expected_online=False)
    plant(pe, waiting.execution_id, online=False)  # no notification reaches the watchers
    assert ops.get_watcher(pe, ADMIN, watcher.id, timeout=5000).finished


@pytest.mark.postgres
def test_a_change_on_another_node_wakes_waiters_here(pg_schema_url, repo):
    """Two nodes on one PostgreSQL: a caller waiting on one node hears of a change made on the other."""
    from concurrent.futures import ThreadPoolExecutor

    from config.settings import load_settings
    from engine.runtime.node import ProcessEngine

    write_definition(repo, "hold.ipd", HOLD)
    settings = load_settings({}).with_overrides(storage={"url": pg_schema_url}, repository={"path": str(repo)},
                                                services=(), engine={"timer_poll_ms": 100})
    one = ProcessEngine(settings.with_overrides(engine={"node_id": "node-one"})).start()
    other = ProcessEngine(settings.with_overrides(engine={"node_id": "node-other"})).start()
    try:
        assert one.broadcast.listening.wait(20)
        waiting = ops.run(one, ADMIN, "hold.ipd", states=["WAITING"], auto_dispose="never")
        watcher = ops.create_watcher(one, ADMIN, waiting.execution_id, expected_states=["FINISHED"])
        with ThreadPoolExecutor(2) as pool:
            waited = pool.submit(ops.wait_for_process, one, ADMIN, waiting.execution_id, timeout=15000, peek=True)
            watched = pool.submit(ops.get_watcher, one, ADMIN, watcher.id, timeout=15000)
            time.sleep(0.3)
            started = time.monotonic()
            ops.start_process(other, ADMIN, waiting.execution_id, timeout=0)
            assert waited.result().state is S.FINISHED and watched.result().finished
        assert time.monotonic() - started < 5  # woken by the other node, not by the 15 s timeout
    finally:
        other.stop()
        one.stop()


@pytest.mark.postgres
def test_a_wait_on_postgresql_answers_a_change_it_was_never_told_of(pg_schema_url, repo):
    """A notification from another node can be lost with its connection; the waiting caller still
    answers within seconds of the change, not at its timeout."""
    from concurrent.futures import ThreadPoolExecutor

    from config.settings import load_settings
    from engine.runtime.node import ProcessEngine

    write_definition(repo, "hold.ipd", HOLD)
    settings = load_settings({}).with_overrides(storage={"url": pg_schema_url}, repository={"path": str(repo)},
                                                services=(), engine={"node_id": "lone-node"})
    pe = ProcessEngine(settings).start()
    try:
        waiting = ops.run(pe, ADMIN, "hold.ipd", states=["WAITING"], auto_dispose="never")
        with ThreadPoolExecutor(1) as pool:
            waited = pool.submit(ops.wait_for_process, pe, ADMIN, waiting.execution_id, timeout=60000, peek=True,
                                 wait_online=False)
            time.sleep(0.3)
            started = time.monotonic()
            plant(pe, waiting.execution_id, online=False)  # behind the node's back: nobody is notified
            assert waited.result(timeout=90).online is False
        assert time.monotonic() - started < 30  # re-read on its own (every 4 s at most), not at 60 s
    finally:
        pe.stop()


def test_a_waiter_re_reads_on_its_own_only_when_told_to():
    """On SQLite every change is made on the one node and wakes its waiters: no polling reads there.
    On PostgreSQL a waiter also re-reads every `recheck_s`."""
    from engine.runtime.waiters import Waiters

    def reads_in_one_second(waiters: Waiters) -> int:
        reads = []
        waiters.wait("x", lambda: reads.append(1), lambda _: False, 1.0)
        return len(reads)

    assert reads_in_one_second(Waiters()) <= 3  # the first read and the one at the timeout
    assert reads_in_one_second(Waiters(recheck_s=0.1)) >= 5  # about ten
