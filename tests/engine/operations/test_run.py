"""`run`, `instantiate` and `startProcess` over the sample definitions, on SQLite and PostgreSQL."""
from __future__ import annotations

import time

from engine import operations as ops
from engine.model.datastore import DataStore, make_value
from engine.security.authorization import ANONYMOUS_ADMIN as ADMIN
from engine.model.states import ExecutionState
from tests.support.common import write_definition


def params(**entries: str) -> DataStore:
    return DataStore((name, [make_value("1", "text/plain", value)]) for name, value in entries.items())


def test_run_greeting_finishes_with_its_output_in_the_snapshot(pe):
    snapshot = ops.run(pe, ADMIN, "greeting.ipd", process_params=params(name="Ada"))
    assert snapshot.state is ExecutionState.FINISHED
    assert snapshot.pipeline.first_text("greeting") == "Hello, Ada!"
    assert snapshot.current_element == "root.end"
    assert snapshot.state_change_index == 3  # CREATED -> READY -> RUNNING -> FINISHED
    assert snapshot.definition.name == "Greeting" and snapshot.definition.version == 1


def commits_on_this_thread(pe, call):
    """What `call` returns and how many transactions it committed from the calling thread: through
    SQLAlchemy, or as single statements sent to the driver that commit by themselves."""
    import threading

    from sqlalchemy import event

    me, commits, alone = threading.get_ident(), [], pe.db.execute_alone

    def counted(*args):
        if threading.get_ident() == me:
            commits.append(1)

    def counted_alone(sql, params):
        counted()
        return alone(sql, params)
    event.listen(pe.db.engine, "commit", counted)
    pe.db.execute_alone = counted_alone
    try:
        return call(), len(commits)
    finally:
        event.remove(pe.db.engine, "commit", counted)
        del pe.db.execute_alone


def test_a_continue_its_caller_drives_commits_twice_and_counts_every_state(engine_factory, repo):
    # Issue 15: the start claims the instance for the calling thread in its own commit; the end is
    # the other. READY is passed through, not committed, and still counted, as a run's is.
    uri = write_definition(repo, "c.ipd", '<wait id="hold"/><assign id="a" name="x">done</assign>')
    pe = engine_factory(repo)
    waiting = ops.run(pe, ADMIN, uri, states=["WAITING"], peek=True)
    ended, commits = commits_on_this_thread(pe, lambda: ops.start_process(pe, ADMIN, waiting.execution_id,
                                                                          peek=True, inspect_pipeline=True))
    assert ended.state is ExecutionState.FINISHED and ended.pipeline.first_text("x") == "done"
    assert ended.state_change_index == waiting.state_change_index + 3  # READY, RUNNING, FINISHED
    assert commits == 2


def test_a_continue_runs_on_from_the_definition_as_changed_while_it_waited(engine_factory, repo):
    uri = write_definition(repo, "c.ipd", '<wait id="hold"/><assign id="a" name="x">old</assign>')
    pe = engine_factory(repo)
    waiting = ops.run(pe, ADMIN, uri, states=["WAITING"], peek=True)
    write_definition(repo, "c.ipd", '<wait id="hold"/><assign id="a" name="x">new</assign>', title="Changed")
    ended = ops.start_process(pe, ADMIN, waiting.execution_id, peek=True, inspect_pipeline=True)
    assert ended.state is ExecutionState.FINISHED and ended.pipeline.first_text("x") == "new"
    assert ended.definition.name == "Changed" and ended.definition.version == waiting.definition.version + 1
    again = ops.get_process_snapshot(pe, ADMIN, waiting.execution_id, peek=True)
    assert again.definition == ended.definition  # as saved, not only as handed out


def test_an_asynchronous_start_is_claimed_for_a_free_pool_thread_in_its_insert(pe):
    # Issue 15: no READY row for a pool thread to claim in a commit of its own; the answer says so.
    started = ops.run(pe, ADMIN, "greeting.ipd", process_params=params(name="Ada"), timeout=0, peek=True)
    assert started.state is ExecutionState.RUNNING and started.owner_node == pe.node_id
    ended = ops.wait_for_process(pe, ADMIN, started.execution_id, timeout=10000, inspect_pipeline=True)
    assert ended.state is ExecutionState.FINISHED and ended.pipeline.first_text("greeting") == "Hello, Ada!"
    assert ended.state_change_index == 3  # as a run's: READY and RUNNING both counted


def test_a_thread_that_defers_its_hand_overs_drives_them_itself_once_asked(pe):
    # Issue 15: how a served request thread drives the start it answered, after the answer.
    ops.defer_hand_overs(pe)
    try:
        started = ops.run(pe, ADMIN, "greeting.ipd", process_params=params(name="Ada"), timeout=0, peek=True)
        assert started.state is ExecutionState.RUNNING
        held = ops.wait_for_process(pe, ADMIN, started.execution_id, timeout=200, peek=True)
        assert held.state is ExecutionState.RUNNING  # no pool thread took it: it waits for this thread
    finally:
        ops.drive_deferred(pe)
    ended = ops.get_process_snapshot(pe, ADMIN, started.execution_id, peek=True, inspect_pipeline=True)
    assert ended.state is ExecutionState.FINISHED and ended.pipeline.first_text("greeting") == "Hello, Ada!"
    again = ops.run(pe, ADMIN, "greeting.ipd", process_params=params(name="Bo"), timeout=0, peek=True)
    assert ops.wait_for_process(pe, ADMIN, again.execution_id, timeout=10000).state is ExecutionState.FINISHED


def test_a_thread_that_defers_its_hand_overs_never_defers_one_its_answer_waits_for(pe):
    ops.defer_hand_overs(pe)
    try:  # waiting for the online state too, the caller does not drive it: a pool thread must, now
        ended = ops.run(pe, ADMIN, "greeting.ipd", process_params=params(name="Ada"), timeout=5000,
                        states=["FINISHED"], wait_online=True, inspect_pipeline=True)
    finally:
        ops.drive_deferred(pe)
    assert ended.state is ExecutionState.FINISHED and ended.pipeline.first_text("greeting") == "Hello, Ada!"


def test_what_a_thread_deferred_and_never_drove_is_driven_when_it_defers_again(pe):
    ops.defer_hand_overs(pe)
    started = ops.run(pe, ADMIN, "greeting.ipd", process_params=params(name="Ada"), timeout=0, peek=True)
    ops.defer_hand_overs(pe)  # a caller that never called drive_deferred: nothing it started is lost
    ops.drive_deferred(pe)
    ended = ops.get_process_snapshot(pe, ADMIN, started.execution_id, peek=True)
    assert ended.state is ExecutionState.FINISHED


def test_a_deferred_start_still_running_at_its_budget_goes_on_in_its_pool(engine_factory, repo):
    uri = write_definition(repo, "slow.ipd", '<assign id="i" name="i">0</assign><while id="w" test="$i &lt; 20">'
                           '<assign id="n" name="i" select="$i + 1"/><invoke id="nap" module="util" '
                           'operation="sleep"><param name="ms">20</param></invoke></while>')
    pe = engine_factory(repo)
    ops.defer_hand_overs(pe)
    started = ops.run(pe, ADMIN, uri, timeout=0, peek=True)
    ops.drive_deferred(pe)  # 400 ms of work: this thread gives it up after its moment, to a pool thread
    moved = ops.get_process_snapshot(pe, ADMIN, started.execution_id, peek=True)
    assert moved.state is ExecutionState.RUNNING and moved.state_change_index == started.state_change_index
    ended = ops.wait_for_process(pe, ADMIN, started.execution_id, timeout=20000, inspect_pipeline=True)
    assert ended.state is ExecutionState.FINISHED and ended.pipeline.first_text("i") == "20"
    assert ended.state_change_index == started.state_change_index + 1  # driven on as it stood: no READY between


def test_an_asynchronous_continue_is_claimed_in_the_start_and_runs_on_a_pool_thread(engine_factory, repo):
    uri = write_definition(repo, "c.ipd", '<wait id="hold"/><assign id="a" name="x">done</assign>')
    pe = engine_factory(repo)
    waiting = ops.run(pe, ADMIN, uri, states=["WAITING"], peek=True)
    started, commits = commits_on_this_thread(pe, lambda: ops.start_process(pe, ADMIN, waiting.execution_id,
                                                                            timeout=0, peek=True))
    assert started.state is ExecutionState.RUNNING and commits == 1
    ended = ops.wait_for_process(pe, ADMIN, waiting.execution_id, timeout=10000, inspect_pipeline=True)
    assert ended.state is ExecutionState.FINISHED and ended.pipeline.first_text("x") == "done"
    assert ended.state_change_index == waiting.state_change_index + 3


def test_an_asynchronous_continue_on_an_offline_engine_is_queued_not_claimed(engine_factory, repo):
    uri = write_definition(repo, "c.ipd", '<wait id="hold"/><assign id="a" name="x">done</assign>')
    pe = engine_factory(repo)
    waiting = ops.run(pe, ADMIN, uri, states=["WAITING"], peek=True)
    ops.set_engine_online(pe, ADMIN, False)
    queued = ops.start_process(pe, ADMIN, waiting.execution_id, timeout=0, peek=True)
    assert queued.state is ExecutionState.READY and queued.owner_node is None
    ops.set_engine_online(pe, ADMIN, True)
    ended = ops.wait_for_process(pe, ADMIN, waiting.execution_id, timeout=10000)
    assert ended.state is ExecutionState.FINISHED


def instance_rows(pe, execution_id: str) -> int:
    from sqlalchemy import func, select

    from engine.storage.tables import ProcessInstance
    with pe.db.unit_of_work(write=False) as uow:
        return uow.conn.execute(select(func.count()).select_from(ProcessInstance).where(
            ProcessInstance.execution_id == execution_id)).scalar_one()


def holding_the_only_permit(pe, seconds: float):
    """A thread that takes the default pool's one permit, holds it `seconds`, then gives it back."""
    import threading

    taken = threading.Event()

    def hold():
        with pe.executor.slot(None, wait=True):
            taken.set()
            time.sleep(seconds)
    holder = threading.Thread(target=hold)
    holder.start()
    assert taken.wait(10)
    return holder


def test_a_caller_whose_pool_is_busy_waits_for_a_permit_and_drives_its_run_itself(engine_factory, repo,
                                                                                 monkeypatch):
    """More callers than the pool has permits: each waits for one (it frees within a moment under a burst
    of short runs) instead of having its instance written, queued and read back (issue 17)."""
    from engine.operations import shared

    monkeypatch.setattr(shared, "PERMIT_WAIT_S", 10.0)
    uri = write_definition(repo, "short.ipd", '<assign id="a" name="x">done</assign>')
    pe = engine_factory(repo, engine={"thread_pools": {"default": 1}})
    holder = holding_the_only_permit(pe, 0.3)
    began = time.monotonic()
    snapshot = ops.run(pe, ADMIN, uri, inspect_pipeline=True)
    holder.join()
    assert snapshot.state is ExecutionState.FINISHED and snapshot.pipeline.first_text("x") == "done"
    assert time.monotonic() - began >= 0.25
    assert instance_rows(pe, snapshot.execution_id) == 0  # driven by its caller, ended disposed: never written


def test_a_caller_whose_pool_stays_busy_has_its_run_queued_for_the_pool(engine_factory, monkeypatch):
    from engine.operations import shared

    monkeypatch.setattr(shared, "PERMIT_WAIT_S", 0.05)
    pe = engine_factory(engine={"thread_pools": {"default": 1}})
    holder = holding_the_only_permit(pe, 0.5)
    snapshot = ops.run(pe, ADMIN, "greeting.ipd", process_params=params(name="Ada"), peek=True, timeout=20000)
    holder.join()
    assert snapshot.state is ExecutionState.FINISHED and snapshot.pipeline.first_text("greeting") == "Hello, Ada!"
    assert instance_rows(pe, snapshot.execution_id) == 1  # written when it was queued


def test_a_caller_waits_for_a_permit_no_longer_than_its_timeout(engine_factory, monkeypatch):
    from engine.operations import shared

    monkeypatch.setattr(shared, "PERMIT_WAIT_S", 10.0)
    pe = engine_factory(engine={"thread_pools": {"default": 1}})
    holder = holding_the_only_permit(pe, 3.0)
    began = time.monotonic()
    snapshot = ops.run(pe, ADMIN, "greeting.ipd", peek=True, timeout=800)
    took = time.monotonic() - began
    holder.join()
    # Queued once the permit did not come, answered as it stands at its timeout: the wait for the permit
    # counts against it (waiting twice, or the whole timeout again after the wait, took 2.4 s and 1.6 s).
    assert snapshot.state is ExecutionState.READY and 0.8 <= took < 1.45
    assert ops.wait_for_process(pe, ADMIN, snapshot.execution_id, timeout=10000).state is ExecutionState.FINISHED
