"""A lost database connection is a transient fault, never a process's failure (issue 15): PostgreSQL
backends of a node are terminated under load (`pg_terminate_backend`, as an operator or a failover
does); the node reconnects, every process still finishes with exactly the pipeline it computes, none
ends FAILED, and a caller meanwhile gets an answer or a clean EngineOffline, never an internal error."""
from __future__ import annotations

import threading
import time
import uuid

import pytest
from sqlalchemy import create_engine, text

from engine import operations as ops
from engine.errors import EngineError, Unavailable
from engine.security.authorization import ANONYMOUS_ADMIN as ADMIN
from tests.support.common import PG_URL, write_definition

LOOP = ('<assign id="init" name="i">0</assign>'
        '<while id="loop" test="$i &lt; 60"><assign id="inc" name="i" select="$i + 1"/>'
        '<invoke id="nap" module="util" operation="sleep"><param name="ms">20</param></invoke></while>')
ON_POSTGRES = pytest.mark.parametrize("storage_url", [pytest.param("postgres", marks=pytest.mark.postgres)],
                                      indirect=True)


def cut(application: str, seconds: float, every: float = 0.1) -> threading.Thread:
    """Terminate the backends of `application` again and again, in a thread of its own."""
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")

    def cutting() -> None:
        deadline = time.monotonic() + seconds
        with admin.connect() as conn:
            while time.monotonic() < deadline:
                conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                  "WHERE application_name = :a"), {"a": application})
                time.sleep(every)
        admin.dispose()

    cutter = threading.Thread(target=cutting, daemon=True)
    cutter.start()
    return cutter


@ON_POSTGRES
def test_terminated_backends_fail_no_process(engine_factory, storage_url, repo):
    write_definition(repo, "loop.ipd", LOOP)
    application = f"pe-cut-{uuid.uuid4().hex[:8]}"
    pe = engine_factory(repo, storage={"url": f"{storage_url}&application_name={application}"})
    started = [ops.run(pe, ADMIN, "loop.ipd", timeout=0, auto_dispose="never").execution_id for _ in range(6)]
    cutter = cut(application, seconds=3)
    seen: list[str] = []
    while cutter.is_alive():  # callers meanwhile: an answer, or a clean "unavailable", never a bug
        try:
            ops.get_process_snapshot(pe, ADMIN, started[0], peek=True)
            seen.append("answer")
        except Unavailable:
            seen.append("unavailable")
        except EngineError as error:
            pytest.fail(f"a caller got {error.type}: {error.message}")
        time.sleep(0.05)
    ended = {}
    deadline = time.monotonic() + 60
    while len(ended) < len(started) and time.monotonic() < deadline:
        for execution_id in set(started) - set(ended):
            try:
                snapshot = ops.get_process_snapshot(pe, ADMIN, execution_id, peek=True, inspect_pipeline=True)
            except Unavailable:
                continue
            if snapshot.state.value in ("FINISHED", "FAILED", "TERMINATED"):
                ended[execution_id] = snapshot
        time.sleep(0.2)
    assert {s.state.value for s in ended.values()} == {"FINISHED"} and len(ended) == len(started), \
        {e: (s.state.value, s.message) for e, s in ended.items()}
    assert all(s.pipeline.first_text("i") == "60" for s in ended.values())
    assert "answer" in seen


@ON_POSTGRES
def test_a_pool_whose_connections_died_idle_costs_one_clean_refusal_at_most(engine_factory, storage_url, repo):
    """No ping precedes a checkout (a round trip on every unit of work): a connection that died in the
    pool fails its first statement instead. That caller gets a clean EngineOffline — never an internal
    error — and SQLAlchemy replaces every connection opened before, so the next calls all answer. The
    refusal need not be the first call's: a connection busy while the sessions were cut (the housekeeper's)
    outlives them and may be checked out first."""
    write_definition(repo, "loop.ipd", LOOP)
    application = f"pe-idle-{uuid.uuid4().hex[:8]}"
    pe = engine_factory(repo, storage={"url": f"{storage_url}&application_name={application}"})
    execution_id = ops.run(pe, ADMIN, "loop.ipd", states=["RUNNING"], auto_dispose="never").execution_id
    ops.terminate_process(pe, ADMIN, execution_id, kill=True)
    for _ in range(5):  # several connections into the pool
        ops.get_process_snapshot(pe, ADMIN, execution_id, peek=True)
    assert cut_idle_sessions(application) >= 1
    outcomes = []
    for _ in range(10):
        try:
            ops.get_process_snapshot(pe, ADMIN, execution_id, peek=True)
            outcomes.append("answer")
        except Unavailable:
            outcomes.append("unavailable")
    assert outcomes.count("unavailable") <= 1, outcomes


@ON_POSTGRES
def test_writes_that_commit_by_themselves_refuse_cleanly_once_when_the_pool_died(engine_factory, storage_url, repo):
    """A written run and an asynchronous start each write one statement outside a transaction (issue 15):
    on a pool whose connections died they too fail at most once, as EngineOffline, and the pool heals."""
    write_definition(repo, "done.ipd", '<assign id="a" name="x">1</assign>')
    application = f"pe-alone-{uuid.uuid4().hex[:8]}"
    pe = engine_factory(repo, storage={"url": f"{storage_url}&application_name={application}"})
    for _ in range(5):
        ops.run(pe, ADMIN, "done.ipd", peek=True)
    assert cut_idle_sessions(application) >= 1
    outcomes, started = [], []
    for attempt in range(10):
        try:
            if attempt % 2:
                started.append(ops.run(pe, ADMIN, "done.ipd", peek=True, timeout=0).execution_id)
            else:
                ops.run(pe, ADMIN, "done.ipd", peek=True)
            outcomes.append("answer")
        except Unavailable:
            outcomes.append("unavailable")
    assert outcomes.count("unavailable") <= 1, outcomes
    for execution_id in started:
        assert ops.wait_for_process(pe, ADMIN, execution_id, timeout=10000).state.value == "FINISHED"


def cut_idle_sessions(application: str) -> int:
    """End the idle PostgreSQL sessions of `application` (a pool's connections dying); how many."""
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            return conn.execute(text("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                                     "WHERE application_name = :a AND state = 'idle'"), {"a": application}).scalar()
    finally:
        admin.dispose()
