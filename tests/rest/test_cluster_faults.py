"""Faults injected from outside into a cluster of two real `serve` processes on PostgreSQL (issue 15).

Each test starts two services (one worker each, so each is one node) on a schema of their own, runs
`count.ipd` instances on both, then harms one node: kill -9; SIGSTOP of the master, of the other node,
of a node inside a write transaction, each past `cluster.lost_after_ms`, then SIGCONT; PostgreSQL
backends terminated under load. Throughout, a watcher on the healthy node reads every instance: its
`stateChangeIndex` never goes back. At the end every instance has finished with exactly the pipeline
one run computes (50 rounds, a mark per round: a round run twice or lost would show), and exactly one
node says it is master. The machine's PostgreSQL server itself is never touched.
"""
from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path
from typing import Iterator

import pytest
import requests
from sqlalchemy import create_engine, text

from tests.support.common import PG_URL, settles
from tests.support.server import Server, start_server, unique

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

ROUNDS = 50  # count.ipd's
LOST_AFTER_MS = 3000
STALL_S = LOST_AFTER_MS / 1000 + 3  # past lost_after_ms, and past the master's lease (half of it)


class Node:
    """One service of one worker: the worker is the node, and the process a fault is sent to."""

    def __init__(self, server: Server, application: str, url: str) -> None:
        self.server, self.application, self.url = server, application, url
        self.pid = server.workers()[0]
        self.node_id = requests.get(server.root("health/live"), timeout=30).json()["node"]
        self.stopped = False

    def signal(self, signum: int) -> None:
        os.kill(self.pid, signum)
        self.stopped = signum == signal.SIGSTOP

    def believes_master(self) -> bool:
        state = self.server.request("GET", "nodeState", timeout=10).json()["nodeState"]
        return state["cluster"]["master"]


@pytest.fixture
def cluster(tmp_path: Path, pg_schemas) -> Iterator[list[Node]]:
    url = pg_schemas()
    separator = "&" if "?" in url else "?"
    nodes: list[Node] = []
    try:
        for name in ("a", "b"):
            folder = tmp_path / name
            folder.mkdir()
            application = f"pe-fault-{name}-{unique()}"
            server = start_server(folder, f"{url}{separator}application_name={application}",
                                  f"lost_after_ms = {LOST_AFTER_MS}\n", env={"PE_WORKERS": "1"})
            nodes.append(Node(server, application, url))
        assert settles(lambda: len(masters(nodes)) == 1, 20), "the cluster never settled on one master"
        yield nodes
    finally:
        for node in nodes:
            if node.stopped and node.server.process.poll() is None:
                node.signal(signal.SIGCONT)
            node.server.stop()


def masters(nodes: list[Node]) -> list[str]:
    """The nodes that say they are master (a node stopped now cannot say anything)."""
    return [n.node_id for n in nodes if not n.stopped and n.server.process.poll() is None and n.believes_master()]


def start(node: Node, external: str, count: int) -> list[str]:
    ids = []
    for _ in range(count):
        answer = node.server.request("GET", "run", params={"processUri": "count.ipd", "timeout": "0",
                                                           "autoDispose": "never", "externalId": external})
        assert answer.status_code == 200, answer.text
        ids.append(answer.json()["processExecutionSnapshot"]["executionId"])
    return ids


def snapshots(node: Node, external: str) -> dict[str, dict]:
    query = {"query": {"param": {"field": "externalId", "operation": "equals", "values": {"value": [external]}}}}
    answer = node.server.request("POST", "processes/query", params={"inspectPipeline": "true"}, json=query,
                                 timeout=30)
    assert answer.status_code == 200, answer.text
    return {s["executionId"]: s for s in answer.json()["processExecutionSnapshots"]["processExecutionSnapshot"]}


class Watch(threading.Thread):
    """Reads the instances on a healthy node over and over: no stateChangeIndex may ever decrease."""

    def __init__(self, node: Node, external: str) -> None:
        super().__init__(daemon=True)
        self.node, self.external = node, external
        self.seen: dict[str, int] = {}
        self.backwards: list[str] = []
        self.reads = 0
        self._done = threading.Event()

    def run(self) -> None:
        deadline = time.monotonic() + 240
        while not self._done.is_set() and time.monotonic() < deadline:
            try:
                current = snapshots(self.node, self.external)
            except (requests.RequestException, AssertionError):  # a 503 while the database is cut
                time.sleep(0.1)
                continue
            self.reads += 1
            for execution_id, snapshot in current.items():
                index = int(snapshot["stateChangeIndex"])
                if index < self.seen.get(execution_id, -1):
                    self.backwards.append(f"{execution_id}: {self.seen[execution_id]} -> {index}")
                self.seen[execution_id] = max(index, self.seen.get(execution_id, -1))
            self._done.wait(0.15)

    def stop(self) -> None:
        self._done.set()
        self.join(30)


def recover_lost(node: Node, external: str, ids: list[str]) -> None:
    """Wait for `ids` to be marked LOST (within 40 s of the fault), then recover them on `node`."""
    lost = lambda: all(snapshots(node, external)[e]["health"]["state"] == "LOST" for e in ids)  # noqa: E731
    assert settles(lost, 40), {e: s["health"] for e, s in snapshots(node, external).items()}
    query = {"query": {"param": {"field": "externalId", "operation": "equals", "values": {"value": [external]}}}}
    answer = node.server.request("POST", "recover", params={"setOnline": "true", "reportExecutionIds": "true"},
                                 json=query)
    assert answer.status_code == 200, answer.text
    assert set(answer.json()["executionIds"]["executionId"]) >= set(ids)


def assert_all_computed_once(node: Node, external: str, ids: list[str], watch: Watch) -> None:
    done = lambda: all(s["state"] == "FINISHED" for s in snapshots(node, external).values())  # noqa: E731
    assert settles(done, 90), {e: (s["state"], s["health"]) for e, s in snapshots(node, external).items()}
    ended = snapshots(node, external)
    assert set(ended) == set(ids)
    for execution_id, snapshot in ended.items():
        pipeline = {e["name"]: e["value"] for e in snapshot["pipeline"]["entry"]}
        assert pipeline["i"] == [str(ROUNDS)] and pipeline["trail"] == ["x" + "." * ROUNDS], \
            (execution_id, pipeline)
        assert snapshot["health"]["state"] == "OK"
    watch.stop()
    assert watch.reads > 10 and not watch.backwards, watch.backwards


def assert_one_master(nodes: list[Node]) -> None:
    """Exactly one master once the cluster has settled, and it stays so (sampled for 2 s)."""
    assert settles(lambda: len(masters(nodes)) == 1, 15), masters(nodes)
    for _ in range(10):
        assert len(masters(nodes)) == 1, masters(nodes)
        time.sleep(0.2)


def running_on(node: Node, external: str, ids: list[str]) -> bool:
    current = snapshots(node, external)
    return all(current[e]["state"] == "RUNNING" for e in ids)


def under_load(harmed: Node, healthy: Node, harmed_count: int, healthy_count: int
               ) -> tuple[str, list[str], list[str], Watch]:
    """Instances started on both nodes, the harmed node's running, and a watch on the healthy one:
    (their externalId, the harmed node's IDs, all IDs, the watch)."""
    external = unique()
    harmed_ids = start(harmed, external, harmed_count)
    ids = harmed_ids + start(healthy, external, healthy_count)
    assert settles(lambda: running_on(healthy, external, harmed_ids), 20)
    watch = Watch(healthy, external)
    watch.start()
    return external, harmed_ids, ids, watch


@pytest.mark.parametrize("victim", ["master", "other"])
def test_a_stalled_node_is_replaced_and_writes_nothing_stale_when_it_wakes(cluster, victim):
    """SIGSTOP (a VM or GC pause) past lost_after_ms: the other node marks the stalled node's instances
    LOST and, if the stalled node was master, becomes master itself — though the stalled process and
    its connections stay open. The instances are recovered and finish there; the node that wakes finds
    it has lost its claims and its mastership, and overwrites nothing."""
    master = next(n for n in cluster if n.believes_master())
    stalled = master if victim == "master" else next(n for n in cluster if n is not master)
    healthy = next(n for n in cluster if n is not stalled)
    external, stalled_ids, ids, watch = under_load(stalled, healthy, 4, 4)

    stalled.signal(signal.SIGSTOP)
    stopped_at = time.monotonic()
    assert settles(healthy.believes_master, LOST_AFTER_MS / 1000 + 5), "the healthy node never became master"
    recover_lost(healthy, external, stalled_ids)
    time.sleep(max(0.0, STALL_S - (time.monotonic() - stopped_at)))
    stalled.signal(signal.SIGCONT)

    assert_all_computed_once(healthy, external, ids, watch)
    assert_one_master(cluster)
    assert healthy.believes_master() and not stalled.believes_master()
    assert settles(lambda: stalled.server.request("GET", "nodeState").json()["nodeState"]["cluster"][
        "connectionStatus"] == "connected", 10)


def in_write_transaction(node: Node) -> bool:
    """Whether one of the node's sessions sits idle inside a transaction holding row locks on the
    instances or the nodes."""
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            return bool(conn.execute(text(
                "SELECT count(*) FROM pg_stat_activity a JOIN pg_locks l ON l.pid = a.pid "
                "JOIN pg_class c ON c.oid = l.relation WHERE a.application_name = :a "
                "AND a.state = 'idle in transaction' AND l.mode = 'RowExclusiveLock' "
                "AND c.relname IN ('process_instances', 'nodes')"), {"a": node.application}).scalar())
    finally:
        admin.dispose()


def heartbeat_age(node: Node) -> float:
    """Seconds since the node's last heartbeat, as its row in the registry says."""
    engine = create_engine(node.url)
    try:
        with engine.connect() as conn:
            return float(conn.execute(text("SELECT extract(epoch FROM (now() AT TIME ZONE 'UTC') - heartbeat_at) FROM nodes "
                                           "WHERE node_id = :n"), {"n": node.node_id}).scalar())
    finally:
        engine.dispose()


def test_a_node_stalled_inside_a_write_transaction_holds_up_nobody(cluster):
    """A node stopped while its session holds row locks: the master's housekeeping neither waits on
    them nor lets its own heartbeat go stale; the server ends the stalled session, the master marks the
    instances LOST, and they are recovered and finish, once each."""
    master = next(n for n in cluster if n.believes_master())
    stalled = next(n for n in cluster if n is not master)
    external, stalled_ids, ids, watch = under_load(stalled, master, 8, 2)

    deadline = time.monotonic() + 60
    for attempt in range(2000):  # stop it again and again until it stops inside a write transaction
        stalled.signal(signal.SIGSTOP)
        time.sleep(0.02)
        if in_write_transaction(stalled) or time.monotonic() > deadline:
            break
        stalled.signal(signal.SIGCONT)
        time.sleep((attempt % 7) * 0.003)
    assert stalled.stopped and in_write_transaction(stalled), "never caught the node inside a transaction"
    stopped_at = time.monotonic()
    silences = []
    while time.monotonic() - stopped_at < STALL_S:  # the master beats, answers and marks LOST meanwhile
        silences.append(heartbeat_age(master))
        assert master.server.request("GET", "nodeStates", timeout=10).status_code == 200
        time.sleep(0.2)
    assert max(silences) < LOST_AFTER_MS / 2000, silences  # heartbeat_ms is 200
    recover_lost(master, external, stalled_ids)
    stalled.signal(signal.SIGCONT)

    assert_all_computed_once(master, external, ids, watch)
    assert_one_master(cluster)


def test_a_killed_node_loses_nothing(cluster):
    """kill -9 of a node (its worker and its gunicorn) under load: its instances are marked LOST on the
    other node, recovered there, and finish with the pipeline one run computes."""
    victim, survivor = cluster
    external, victim_ids, ids, watch = under_load(victim, survivor, 6, 2)
    for pid in (victim.pid, victim.server.process.pid):  # the worker first, so gunicorn starts no other
        os.kill(pid, signal.SIGKILL)
    victim.server.process.wait(timeout=10)
    recover_lost(survivor, external, victim_ids)
    assert_all_computed_once(survivor, external, ids, watch)
    assert settles(survivor.believes_master, 10)
    assert masters(cluster) == [survivor.node_id]
    for execution_id in victim_ids:  # issue 17: what happened to each is kept, where and by whom
        answer = survivor.server.request("GET", f"history/processes/{execution_id}")
        assert answer.status_code == 200, answer.text
        record = answer.json()["processHistory"]
        assert record["endState"] == "FINISHED" and set(record["nodes"]["node"]) == {victim.node_id, survivor.node_id}
        assert [(c["health"], c["node"]) for c in record["healthChanges"]["healthChange"]] == \
            [("LOST", survivor.node_id), ("OK", survivor.node_id)]
        assert "recoverProcesses" in [c["operation"] for c in record["operations"]["operation"]]


def test_terminated_backends_fail_no_process_and_leave_one_master(cluster):
    """Every PostgreSQL session of both nodes terminated again and again for 4 s, under load: callers
    get answers or clean 503s (never a 500), no process fails, and the cluster ends with one master."""
    external = unique()
    ids = start(cluster[0], external, 4) + start(cluster[1], external, 4)
    watch = Watch(cluster[1], external)
    watch.start()
    statuses: list[int] = []
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            deadline = time.monotonic() + 4
            while time.monotonic() < deadline:
                conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                  "WHERE application_name IN (:a, :b)"),
                             {"a": cluster[0].application, "b": cluster[1].application})
                for node in cluster:
                    answer = node.server.request("GET", f"processes/{ids[0]}", params={"peek": "true"}, timeout=30)
                    assert "Traceback" not in answer.text
                    statuses.append(answer.status_code)
                time.sleep(0.1)
    finally:
        admin.dispose()
    assert set(statuses) <= {200, 503}, statuses
    assert_all_computed_once(cluster[0], external, ids, watch)
    assert_one_master(cluster)
