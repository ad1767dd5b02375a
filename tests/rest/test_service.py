"""The service around the REST door, as an operator runs it: health probes, Prometheus metrics, a
graceful shutdown that answers pending synchronous waits at once, and the request size limit."""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Iterator
from urllib.parse import urlsplit

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.support.common import ROOT, SAMPLES, settles, write_definition
from tests.support.server import DEFINITIONS, ROOT_PATH, Server, free_port, start_server, unique

REST = f"{ROOT_PATH}/rest"


def sqlite_url(folder: Path) -> str:
    return f"sqlite:///{folder / 'engine.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The database of a server of the test's own."""
    return sqlite_url(tmp_path) if request.param == "sqlite" else request.getfixturevalue("pg_schemas")()




def waiting_process(server: Server) -> str:
    held = server.request("GET", "run", params={"processUri": "hold.ipd", "states": "WAITING", "externalId": unique(),
                                                "timeout": "10000", "autoDispose": "never"})
    assert held.status_code == 200, held.text
    snapshot = held.json()["processExecutionSnapshot"]
    assert snapshot["state"] == "WAITING"
    return snapshot["executionId"]


# -- health ----------------------------------------------------------------------------------------------
def test_liveness(server):
    live = requests.get(server.root("health/live"), timeout=10)
    assert live.status_code == 200 and live.headers["Content-Type"].startswith("application/json")
    assert live.json()["status"] == "UP" and live.json()["node"]


def test_readiness_when_instantiate_is_active(server):
    ready = requests.get(server.root("health/ready"), timeout=10)
    assert ready.status_code == 200
    assert ready.json() == {"status": "UP", "instantiate": "active"}
    features = {f["name"]: f["state"] for f in server.request("GET", "features").json()["features"]["feature"]}
    assert features["instantiate"] == "active"


def test_health_answers_while_the_engine_is_offline(server):
    session = requests.Session()  # one connection: the same gunicorn worker (engine node) throughout
    assert session.post(server.url("setOnline"), params={"online": "false", "param": "self"}).status_code == 204
    try:
        assert session.get(server.url("run"), params={"processUri": "done.ipd"}).status_code == 503
        assert session.get(server.root("health/live")).status_code == 200
        assert session.get(server.root("health/ready")).json()["instantiate"] == "active"
    finally:
        assert session.post(server.url("setOnline"), params={"online": "true", "param": "self"}).status_code == 204
    assert session.get(server.url("run"), params={"processUri": "done.ipd"}).status_code == 200


def test_health_is_not_under_the_rest_base(server):
    assert server.request("GET", "health/live").status_code == 404


def test_not_ready_until_start_up_has_finished(tmp_path):
    """`instantiate` stays inactive for engine.startup_delay_ms: meanwhile the service is live, not ready."""
    server = _start_without_waiting(tmp_path, "startup_delay_ms = 4000\n")
    try:
        live = settles(lambda: _get(server.root("health/live")), 30)
        assert live is not None and live.status_code == 200, server.log.read_text()
        early = requests.get(server.root("health/ready"), timeout=10)
        assert early.status_code == 503
        assert early.json() == {"status": "DOWN", "instantiate": "inactive"}
        assert settles(lambda: getattr(_get(server.root("health/ready")), "status_code", None) == 200, 15)
        assert requests.get(server.root("health/ready"), timeout=10).json() == {"status": "UP", "instantiate": "active"}
    finally:
        server.stop()


def _get(url: str) -> requests.Response | None:
    try:
        return requests.get(url, timeout=5)
    except requests.RequestException:
        return None


def _start_without_waiting(folder: Path, engine_settings: str) -> Server:
    """A service like start_server's (which waits for readiness, and whose [engine] table cannot take
    more keys), started without waiting."""
    repo = folder / "repo"
    shutil.copytree(SAMPLES, repo, dirs_exist_ok=True)
    for name, body in DEFINITIONS.items():
        write_definition(repo, name, body)
    config = folder / "settings.toml"
    config.write_text(f'[storage]\nurl = "{sqlite_url(folder)}"\n[repository]\npath = "{repo}"\n'
                      f'[engine]\nnode_id = "rest-{uuid.uuid4().hex[:6]}"\n{engine_settings}')
    log = folder / "server.log"
    env = dict(os.environ, PROCESS_ENGINE_CONFIG=str(config), PYTHONPATH=str(ROOT))
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "config.cli", "--config", str(config), "serve", "--port",
                                str(port)], cwd=folder, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)
    return Server(f"http://127.0.0.1:{port}", process, log)


# -- metrics ---------------------------------------------------------------------------------------------
def _scrape(session: requests.Session, server: Server) -> dict[tuple[str, tuple], float]:
    answer = session.get(server.root("metrics"), timeout=30)
    assert answer.status_code == 200
    assert answer.headers["Content-Type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(answer.text):  # raises on anything but the text format
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def _requests_of(samples, endpoint_pattern: str, status: str) -> float:
    return sum(value for (name, labels), value in samples.items() if name == "pe_http_requests_total"
               and re.fullmatch(endpoint_pattern, dict(labels).get("endpoint", "")) and dict(labels)["status"] == status)


def test_metrics_are_prometheus_text_that_counts_requests(server):
    session = requests.Session()  # metrics are per worker: scrape the worker that answered
    before = _scrape(session, server)
    for _ in range(3):
        assert session.get(server.url("version")).status_code == 200
    assert session.get(server.url("processes/no-such-id")).status_code == 404
    assert session.get(server.url("no/such/route")).status_code == 404
    after = _scrape(session, server)
    version = r"administration\.version_get_\d+"
    snapshot = r"state_queries\.getProcessSnapshot_get_\d+"
    assert _requests_of(after, version, "200") - _requests_of(before, version, "200") == 3
    assert _requests_of(after, snapshot, "404") - _requests_of(before, snapshot, "404") == 1
    assert _requests_of(after, "unknown", "404") - _requests_of(before, "unknown", "404") == 1
    latency = [v for (name, labels), v in after.items()
               if name == "pe_http_request_seconds_count" and re.fullmatch(version, dict(labels)["endpoint"])]
    assert latency and latency[0] >= 3
    assert ("pe_running_instances", ()) in after and ("pe_waiting_callers", ()) in after


def test_metrics_count_soap_requests_too(server):
    session = requests.Session()  # the same keep-alive connection, so the same worker, for all of them
    before = _scrape(session, server)
    envelope = ('<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" '
                'xmlns:pe="http://www.infinica.com/process-engine"><soap:Body>{}</soap:Body></soap:Envelope>')
    headers = {"Content-Type": "text/xml; charset=utf-8"}
    for body in ("<pe:version/>", "<pe:version/>", "<pe:getProcessSnapshot><pe:executionId>no-such-id"
                 "</pe:executionId></pe:getProcessSnapshot>"):
        session.post(server.root("soap"), data=envelope.format(body), headers=headers, timeout=30)
    after = _scrape(session, server)
    assert _requests_of(after, "soap", "200") - _requests_of(before, "soap", "200") == 2
    assert _requests_of(after, "soap", "500") - _requests_of(before, "soap", "500") == 1  # a Client fault


def test_metrics_show_instances_by_state(server):
    session = requests.Session()
    waiting_process(server)
    samples = _scrape(session, server)
    assert samples[("pe_instances", (("health", "OK"), ("state", "WAITING")))] >= 1


# -- worker placement ------------------------------------------------------------------------------------
@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="a single CPU: there is nothing to choose")
def test_pinned_workers_run_each_on_a_cpu_of_its_own(tmp_path, storage):
    """PE_PIN_WORKERS=1: every worker is bound to one CPU, no two to the same while CPUs remain."""
    server = start_server(tmp_path, storage, env={"PE_PIN_WORKERS": "1"})
    try:
        assert settles(lambda: len(server.workers()) == (1 if storage.startswith("sqlite") else 2))
        placed = [os.sched_getaffinity(pid) for pid in server.workers()]
        assert all(len(cpus) == 1 for cpus in placed), placed
        assert len(set.union(*placed)) == len(placed)  # two CPUs at least here: one each
        ran = server.request("GET", "run", params={"processUri": "done.ipd"})
        assert ran.json()["processExecutionSnapshot"]["state"] == "FINISHED"
    finally:
        server.stop()


def test_workers_are_left_to_the_kernel_by_default(server):
    assert {frozenset(os.sched_getaffinity(pid)) for pid in server.workers()} == {frozenset(os.sched_getaffinity(0))}


# -- graceful shutdown -----------------------------------------------------------------------------------
def test_sigterm_answers_a_pending_wait_at_once_and_the_server_exits(tmp_path, storage):
    server = start_server(tmp_path, storage)
    try:
        execution_id = waiting_process(server)
        answered: dict[str, object] = {}

        def wait() -> None:
            try:
                answered["response"] = requests.get(server.url(f"processes/{execution_id}/wait"),
                                                    params={"timeout": "-1", "peek": "true"}, timeout=60)
            except requests.RequestException as exc:
                answered["error"] = exc
            answered["at"] = time.monotonic()

        waiter = threading.Thread(target=wait, daemon=True)
        waiter.start()
        assert settles(lambda: _waiters(server, execution_id) == "1"), "the wait never started"
        assert not answered  # it blocks (timeout -1, capped at 20 s by engine.max_timeout_ms)

        signalled = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        waiter.join(10)
        assert "error" not in answered, answered.get("error")
        assert "response" in answered, "the pending wait was not answered after SIGTERM"
        assert answered["at"] - signalled < 5  # at once, not at gunicorn's 30 s graceful deadline
        response = answered["response"]
        assert response.status_code == 200, response.text
        snapshot = response.json()["processExecutionSnapshot"]
        assert (snapshot["executionId"], snapshot["state"]) == (execution_id, "WAITING")

        server.process.wait(timeout=20)
        assert time.monotonic() - signalled < 20
        with pytest.raises(requests.ConnectionError):
            requests.get(server.root("health/live"), timeout=5)
    finally:
        server.stop()


def test_sigterm_answers_a_run_the_node_drives_and_hands_the_process_back(tmp_path, storage):
    """A synchronous run is driven by the calling thread; SIGTERM answers it at the next step with the
    snapshot as it stands (READY: handed back), not when gunicorn's deadline cuts the connection, and the
    next start continues the process."""
    server = start_server(tmp_path, storage)
    external = unique()
    try:
        answered: dict[str, object] = {}

        def run() -> None:  # spin.ipd loops for ever, 5 ms a round; the run would wait its 20 s cap
            try:
                answered["response"] = server.request("GET", "run", params={
                    "processUri": "spin.ipd", "externalId": external, "autoDispose": "never"}, timeout=60)
            except requests.RequestException as exc:
                answered["error"] = exc
            answered["at"] = time.monotonic()

        caller = threading.Thread(target=run, daemon=True)
        caller.start()
        query = {"query": {"param": {"field": "externalId", "operation": "equals", "values": {"value": [external]}}}}
        assert settles(lambda: server.request("POST", "processes/query", json=query).headers["X-Total-Count"] == "1"), \
            "the run was never saved while it ran"
        assert not answered

        signalled = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        caller.join(15)
        assert "error" not in answered, answered.get("error")
        assert "response" in answered and answered["at"] - signalled < 5, "the driven run was not answered at once"
        response = answered["response"]
        assert response.status_code == 200, response.text
        snapshot = response.json()["processExecutionSnapshot"]
        assert snapshot["state"] == "READY" and snapshot["externalId"] == external
        server.process.wait(timeout=20)
        assert time.monotonic() - signalled < 10
    finally:
        server.stop()
    again = start_server(tmp_path, storage)
    try:  # the next start continues it
        running = lambda: again.request("POST", "processes/query", json=query).json()[  # noqa: E731
            "processExecutionSnapshots"]["processExecutionSnapshot"]
        assert settles(lambda: [s["state"] for s in running()] == ["RUNNING"], 20), running()
        execution = running()[0]["executionId"]
        again.request("POST", f"processes/{execution}/terminate", params={"kill": "true"})
    finally:
        again.stop()


def _waiters(server: Server, execution_id: str) -> str | None:
    """How many callers wait for the process on the worker that answers (a new connection each time:
    on PostgreSQL either worker answers, and only the one holding the wait counts it)."""
    answer = requests.get(server.url("diagnostic/telemetry"), params={"types": "WAITERS"},
                          headers={"Connection": "close"}, timeout=30)
    telemetry = answer.json()["telemetryData"]
    items = {item["id"]: {v["name"]: v["value"] for v in item["value"]} for item in telemetry["items"]["item"]}
    return items.get(execution_id, {}).get("waiters")


def test_a_restarted_server_still_has_the_waiting_process(tmp_path, storage):
    first = start_server(tmp_path, storage)
    try:
        execution_id = waiting_process(first)
    finally:
        first.stop()
    assert first.process.returncode == 0
    second = start_server(tmp_path, storage)
    try:
        snapshot = second.request("GET", f"processes/{execution_id}", params={"peek": "true"})
        assert snapshot.status_code == 200 and snapshot.json()["processExecutionSnapshot"]["state"] == "WAITING"
        done = second.request("POST", f"processes/{execution_id}/start", params={"timeout": "10000"})
        assert done.status_code == 200 and done.json()["processExecutionSnapshot"]["state"] == "FINISHED"
    finally:
        second.stop()


# -- request size limit ----------------------------------------------------------------------------------
LIMIT = 1024


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("small")
    running = start_server(folder, sqlite_url(folder), f"[server]\nmax_request_bytes = {LIMIT}\n")
    yield running
    running.stop()


def _raw_request(server: Server, head: str, body_part: bytes, wait: float = 10.0) -> tuple[bytes, bool]:
    """Send the head and part of a body, then read what the server answers without sending the rest.
    Returns the answer and whether the server closed the connection."""
    address = urlsplit(server.base)
    with socket.create_connection((address.hostname, address.port), timeout=wait) as connection:
        connection.sendall(head.encode("latin-1") + body_part)
        received = b""
        closed = False
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            try:
                chunk = connection.recv(65536)
            except socket.timeout:
                break
            if not chunk:
                closed = True
                break
            received += chunk
            if b"\r\n\r\n" in received:
                header, _, rest = received.partition(b"\r\n\r\n")
                length = re.search(rb"(?i)content-length:\s*(\d+)", header)
                if length and len(rest) >= int(length.group(1)):
                    break
        return received, closed


def _status_and_json(raw: bytes) -> tuple[int, dict]:
    head, _, body = raw.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return status, json.loads(body) if body.strip() else {}


ECHO_BODY = json.dumps({"dataStore": {"entry": [{"name": "in", "type": "text/plain", "value": ["Ada"]}]}}).encode()


def _echoed(answer: requests.Response) -> list[str]:
    entries = answer.json()["processExecutionSnapshot"]["pipeline"]["entry"]
    return {e["name"]: e["value"] for e in entries}["out"]


def test_a_body_under_the_limit_is_taken(small):
    answer = small.request("POST", "run", params={"processUri": "echo.ipd"}, data=ECHO_BODY,
                           headers={"Content-Type": "application/json"})
    assert answer.status_code == 200, answer.text
    assert _echoed(answer) == ["echo Ada"]


def test_a_chunked_body_under_the_limit_is_taken(small):
    answer = small.request("POST", "run", params={"processUri": "echo.ipd"}, data=iter([ECHO_BODY[:20], ECHO_BODY[20:]]),
                           headers={"Content-Type": "application/json"})
    assert answer.request.headers.get("Transfer-Encoding") == "chunked"
    assert answer.status_code == 200, answer.text
    assert _echoed(answer) == ["echo Ada"]


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
@pytest.mark.parametrize("size, status", [(LIMIT, 200), (LIMIT + 1, 413)])
def test_the_limit_is_exact(small, chunked, size, status):
    body = ECHO_BODY + b" " * (size - len(ECHO_BODY))
    assert len(body) == size
    answer = small.request("POST", "run", params={"processUri": "echo.ipd"},
                           data=iter([body[:100], body[100:]]) if chunked else body,
                           headers={"Content-Type": "application/json"})
    assert answer.status_code == status, answer.text
    if status == 200:
        assert _echoed(answer) == ["echo Ada"]
    else:
        assert answer.json()["type"] == "PayloadTooLarge"


def test_a_declared_length_over_the_limit_is_refused_before_the_body_is_sent(small):
    declared = 50 * 1024 * 1024
    head = (f"POST {REST}/run?processUri=echo.ipd HTTP/1.1\r\nHost: {urlsplit(small.base).netloc}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {declared}\r\n\r\n")
    raw, _ = _raw_request(small, head, b'{"dataStore": {"entry": [')  # 50 MiB announced, 25 bytes sent
    assert raw, "no answer before the body was sent in full"
    status, body = _status_and_json(raw)
    assert status == 413
    assert body["type"] == "PayloadTooLarge"


def test_a_body_cut_short_of_its_declared_length_is_refused_and_runs_nothing(small):
    before = small.request("POST", "processes/count").json()
    head = (f"POST {REST}/run?processUri=echo.ipd HTTP/1.1\r\nHost: {urlsplit(small.base).netloc}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(ECHO_BODY) + 10}\r\n\r\n")
    address = urlsplit(small.base)
    with socket.create_connection((address.hostname, address.port), timeout=10) as connection:
        connection.sendall(head.encode("latin-1") + ECHO_BODY)
        connection.shutdown(socket.SHUT_WR)  # the client is gone ten bytes early
        raw = b"".join(iter(lambda: connection.recv(65536), b""))
    status, answer = _status_and_json(raw)
    assert status == 400 and "Traceback" not in raw.decode("latin-1"), raw
    assert small.request("POST", "processes/count").json() == before


def test_a_chunked_body_over_the_limit_is_refused_once_it_passes_the_limit(small):
    head = (f"POST {REST}/run?processUri=echo.ipd HTTP/1.1\r\nHost: {urlsplit(small.base).netloc}\r\n"
            f"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
    body = json.dumps({"dataStore": {"entry": [{"name": "in", "type": "text/plain", "value": ["A" * 2 * LIMIT]}]}})
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(part), part)
                      for part in (body[i:i + 512].encode() for i in range(0, len(body), 512)))
    raw, _ = _raw_request(small, head, chunks)  # over 2 KiB in chunks, and no last chunk
    assert raw, "no answer before the chunked body ended"
    status, answer = _status_and_json(raw)
    assert (status, answer.get("type")) == (413, "PayloadTooLarge"), answer


def test_the_limit_answers_in_xml_when_asked(small):
    answer = small.request("POST", "run", params={"processUri": "echo.ipd"}, data=b"x" * (LIMIT + 1),
                           headers={"Content-Type": "application/xml", "Accept": "application/xml"})
    assert answer.status_code == 413
    assert answer.headers["Content-Type"].startswith("application/xml")
    assert b'type="PayloadTooLarge"' in answer.content


MALFORMED = {  # requests gunicorn refuses before the application sees them
    "unknown-transfer-coding": "POST {rest}/run?processUri=echo.ipd HTTP/1.1\r\nHost: x\r\n"
                               "Transfer-Encoding: bogus\r\nContent-Length: 0\r\n\r\n",
    "chunked-not-last": "POST {rest}/run?processUri=echo.ipd HTTP/1.1\r\nHost: x\r\n"
                        "Transfer-Encoding: chunked, gzip\r\n\r\n",
    "bad-header-name": "GET {rest}/version HTTP/1.1\r\nHost: x\r\nBad Header: 1\r\n\r\n",
    "bad-request-line": "GET {rest}/version HTTP/1.1 extra\r\nHost: x\r\n\r\n",
    "bad-version": "GET {rest}/version HTTP/9.x\r\nHost: x\r\n\r\n",
    "request-line-too-long": "GET {rest}/version?" + "a" * 9000 + " HTTP/1.1\r\nHost: x\r\n\r\n",
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_requests_the_http_server_refuses_get_a_typed_client_error(small, case):
    """Not gunicorn's HTML page (nor its 501 for a transfer coding it does not know): CONTRACT §6's body."""
    raw, _ = _raw_request(small, MALFORMED[case].format(rest=REST), b"")
    head = raw.partition(b"\r\n\r\n")[0].decode("latin-1")
    status, body = _status_and_json(raw)
    assert 400 <= status < 500, raw[:300]
    assert "content-type: application/json" in head.lower()
    assert body["type"] == "InvalidParameter" and body["message"], body
    assert small.request("GET", "version").status_code == 200  # still serving
