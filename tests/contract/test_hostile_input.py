"""Hostile input against both doors of a running service (CONTRACT §8): XXE, entity expansion, bodies
over the limit, malformed UTF-8, absurd nesting, numbers and timestamps, path traversal, header floods.

Every answer must be a clean 4xx on REST, or a `soap:Client` fault (or a 4xx) on SOAP, within 2 s,
with no traceback and none of a secret file's content; an outside listener hears nothing; and the
worker's memory stays bounded afterwards. SQLite only: this is about the doors, not the database.
"""
from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from pathlib import Path
from typing import Iterator

import pytest
import requests
from lxml import etree

from tests.support.server import Server, start_server

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
LIMIT = 1024 * 1024  # server.max_request_bytes of this test's server
DEPTH = 10_000


class Listener:
    """A TCP port that records whether anything connected to it (an XXE fetch, say)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.heard, self._stop = 0, False
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except (socket.timeout, OSError):
                continue
            self.heard += 1
            conn.close()

    def close(self) -> None:
        self._stop = True
        self.thread.join()
        self.sock.close()


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Path, str, Listener]]:
    folder = tmp_path_factory.mktemp("hostile")
    token = f"TOP-SECRET-{uuid.uuid4().hex}"
    secret = folder / "secret.txt"
    secret.write_text(token)
    listener = Listener()
    server = start_server(folder, f"sqlite:///{folder / 'engine.db'}", f"[server]\nmax_request_bytes = {LIMIT}\n")
    yield server, secret, token, listener
    server.stop()
    listener.close()


# -- the corpus: (name, body or parameters) per door ----------------------------------------------
def _doctype(internal: str, root: str) -> str:
    return f'<?xml version="1.0"?>\n<!DOCTYPE {root} [\n{internal}\n]>\n'


LAUGHS = "".join(['<!ENTITY lol "lol">'] + [f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10 if i > 1 else "&lol;" * 10}">'
                                             for i in range(1, 10)])
QUADRATIC = f'<!ENTITY big "{"x" * 100_000}">'


def _store(content: str) -> str:
    return (f'<dat:dataStore xmlns:dat="http://www.infinica.com/datastore"><dat:entry name="x" type="text/plain">'
            f"<dat:value>{content}</dat:value></dat:entry></dat:dataStore>")


def xml_corpus(secret: Path, listener: Listener) -> dict[str, tuple[str, str]]:
    """name: (internal DTD subset, where the content goes: the reference that would expand it)."""
    return {
        "xxe-file": (f'<!ENTITY xxe SYSTEM "file://{secret}">', "&xxe;"),
        "xxe-network": (f'<!ENTITY xxe SYSTEM "http://127.0.0.1:{listener.port}/x">', "&xxe;"),
        "xxe-parameter-entity": (f'<!ENTITY % p SYSTEM "http://127.0.0.1:{listener.port}/p"> %p;', "1"),
        "billion-laughs": (LAUGHS, "&lol9;"),
        "quadratic-blowup": (QUADRATIC, "&big;" * 2000),
    }


def _deep_xml() -> str:
    return "<a>" * DEPTH + "x" + "</a>" * DEPTH


def _envelope(operation: str, inner: str, prolog: str = "") -> bytes:
    return (f'{prolog}<soap:Envelope xmlns:soap="{SOAP_ENV}" xmlns:pe="http://www.infinica.com/process-engine">'
            f"<soap:Body><pe:{operation}>{inner}</pe:{operation}></soap:Body></soap:Envelope>").encode()


def rest_cases(secret: Path, listener: Listener) -> list[tuple[str, str, str, dict]]:
    """(name, method, path, requests keywords)."""
    xml_type = {"Content-Type": "application/xml"}
    json_type = {"Content-Type": "application/json"}
    cases = []
    for name, (internal, reference) in xml_corpus(secret, listener).items():
        store = _doctype(internal, "dat:dataStore") + _store(reference)
        query = _doctype(internal, "query") + f'<query xmlns="http://www.infinica.com/process-engine">{reference}</query>'
        cases.append((name, "POST", "run?processUri=echo.ipd", {"data": store.encode(), "headers": xml_type}))
        cases.append((name + "-query", "POST", "processes/query", {"data": query.encode(), "headers": xml_type}))
    cases += [
        ("over-the-limit", "POST", "run?processUri=echo.ipd",
         {"data": b"<" + b"a" * (LIMIT + 10) + b"/>", "headers": xml_type}),
        ("malformed-utf8-xml", "POST", "run?processUri=echo.ipd",
         {"data": _store("caf\xe9").encode("latin-1"), "headers": xml_type}),
        ("malformed-utf8-json", "POST", "run?processUri=echo.ipd",
         {"data": b'{"dataStore": {"x": "caf\xe9"}}', "headers": json_type}),
        ("malformed-utf8-text", "PUT", "maintenance", {"data": b"\xff\xfe\xfa", "headers": {"Content-Type": "text/plain"}}),
        ("deep-xml", "POST", "run?processUri=echo.ipd", {"data": _store(_deep_xml()).encode(), "headers": xml_type}),
        ("deep-xml-query", "POST", "processes/query", {"data": _deep_xml().encode(), "headers": xml_type}),
        ("deep-json", "POST", "run?processUri=echo.ipd", {"data": ("[" * DEPTH + "]" * DEPTH).encode(), "headers": json_type}),
        ("deep-json-object", "POST", "processes/query",
         {"data": ('{"a":' * DEPTH + "1" + "}" * DEPTH).encode(), "headers": json_type}),
        ("absurd-timeout", "GET", "run?processUri=echo.ipd&timeout=" + "9" * 400, {}),
        ("float-timeout", "GET", "run?processUri=echo.ipd&timeout=1e400", {}),
        ("negative-timeout", "GET", "run?processUri=echo.ipd&timeout=-99", {}),
        ("absurd-json-number", "POST", "processes/query",
         {"data": json.dumps({"query": {"limit": "9" * 5000}}).encode(), "headers": json_type}),
        ("absurd-timestamp", "POST", "uncacheProcesses?timestamp=99999-99-99T99:99:99Z", {}),
        ("huge-year-timestamp", "POST", "uncacheProcesses?timestamp=" + "9" * 300 + "-01-01T00:00:00Z", {}),
        ("traversal-relative", "GET", "run?processUri=../secret.txt", {}),
        ("traversal-deep", "GET", "run?processUri=" + "../" * 30 + str(secret).lstrip("/"), {}),
        ("traversal-absolute", "GET", f"run?processUri={secret}", {}),
        ("traversal-encoded", "GET", "run?processUri=%2e%2e%2fsecret.txt", {}),
        ("traversal-file-url", "GET", f"run?processUri=file://{secret}", {}),
        ("traversal-nul", "GET", "run?processUri=echo.ipd%00../secret.txt", {}),
        ("header-flood", "GET", "version", {"headers": {f"X-Flood-{i}": "x" for i in range(300)}}),
        ("header-huge", "GET", "version", {"headers": {"X-Huge": "x" * 20_000}}),
    ]
    return cases


def soap_cases(secret: Path, listener: Listener) -> list[tuple[str, bytes]]:
    """(name, raw request body) posted to {root}/soap."""
    cases = []
    for name, (internal, reference) in xml_corpus(secret, listener).items():
        cases.append((name, _envelope("run", f"<pe:processUri>{reference}</pe:processUri>",
                                      _doctype(internal, "soap:Envelope"))))
    cases += [
        ("over-the-limit", _envelope("run", "<pe:processUri>" + "a" * (LIMIT + 10) + "</pe:processUri>")),
        ("malformed-utf8", _envelope("run", "<pe:processUri>caf\xe9</pe:processUri>").decode().encode("latin-1")),
        ("deep-xml", _envelope("run", "<pe:processUri>echo.ipd</pe:processUri><pe:processParams>"
                                      + _store(_deep_xml()) + "</pe:processParams>")),
        ("deep-envelope", _envelope("run", _deep_xml())),
        ("absurd-timeout", _envelope("run", "<pe:processUri>echo.ipd</pe:processUri><pe:timeout>" + "9" * 400 + "</pe:timeout>")),
        ("absurd-json-params", _envelope("run", "<pe:processUri>echo.ipd</pe:processUri><pe:processParams>"
                                                + "[" * DEPTH + "]" * DEPTH + "</pe:processParams>")),
        ("traversal-relative", _envelope("run", "<pe:processUri>../secret.txt</pe:processUri>")),
        ("traversal-absolute", _envelope("run", f"<pe:processUri>{secret}</pe:processUri>")),
        ("not-an-envelope", b"<html><body>hello</body></html>"),
        ("empty", b""),
        ("garbage", b"\x00\x01\x02 not xml at all"),
    ]
    return cases


# -- checks ---------------------------------------------------------------------------------------
def _clean(name: str, answer: requests.Response, elapsed: float, token: str) -> None:
    text = answer.content.decode("utf-8", "replace")
    assert elapsed < 2.0, f"{name}: answered in {elapsed:.2f} s"
    assert "Traceback" not in text and token not in text and "root:x:0:0" not in text, f"{name}: {text[:300]}"
    assert len(text) < 1500, f"{name}: the answer echoes too much of the input: {text[:300]}"


def _worker_rss(server: Server) -> int:
    """Resident memory (bytes) of the gunicorn worker serving the requests."""
    children = Path(f"/proc/{server.process.pid}/task/{server.process.pid}/children").read_text().split()
    for line in Path(f"/proc/{children[0]}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def test_a_chunked_body_over_the_limit_is_refused(hostile):
    """Sent whole over a raw socket: a client library that stops at the early answer times itself, not us."""
    server, _, token, _ = hostile
    host, port = server.base.removeprefix("http://").split(":")
    chunk = b" " * (LIMIT // 2)
    started = time.monotonic()
    with socket.create_connection((host, int(port)), timeout=30) as conn:
        conn.sendall(b"POST /infinica-process-engine/rest/run?processUri=echo.ipd HTTP/1.1\r\nHost: x\r\n"
                     b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
                     + (b"%x\r\n" % len(chunk) + chunk + b"\r\n") * 3 + b"0\r\n\r\n")
        answer = b""
        while b"}" not in answer:
            answer += conn.recv(65536) or b"}"
    assert answer.startswith(b"HTTP/1.1 413 ") and b'"type":"PayloadTooLarge"' in answer
    assert time.monotonic() - started < 2.0 and b"Traceback" not in answer and token.encode() not in answer


def test_rest_answers_hostile_input_with_clean_client_errors(hostile):
    server, secret, token, listener = hostile
    before = _worker_rss(server)
    failures = []
    for name, method, path, kwargs in rest_cases(secret, listener):
        started = time.monotonic()
        try:
            answer = requests.request(method, server.url(path), timeout=30, **kwargs)
        except requests.ConnectionError:
            failures.append(f"{name}: the connection broke")  # a clean refusal answers, it does not hang up
            continue
        elapsed = time.monotonic() - started
        if not 400 <= answer.status_code < 500:
            failures.append(f"{name}: {answer.status_code} {answer.text[:200]}")
        _clean(name, answer, elapsed, token)
    assert failures == []
    assert listener.heard == 0, "an external entity was fetched"
    assert server.request("GET", "version").status_code == 200  # still serving
    grown = _worker_rss(server) - before
    assert grown < 64 * 1024 * 1024, f"the worker grew by {grown / 2**20:.0f} MiB"
    log = server.log.read_text()
    assert token not in log


def test_soap_answers_hostile_input_with_client_faults(hostile):
    server, secret, token, listener = hostile
    before = _worker_rss(server)
    failures = []
    for name, body in soap_cases(secret, listener):
        started = time.monotonic()
        answer = requests.post(server.root("soap"), data=body, timeout=30,
                               headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '"run"'})
        elapsed = time.monotonic() - started
        _clean(name, answer, elapsed, token)
        if 400 <= answer.status_code < 500:
            continue
        try:
            code = etree.fromstring(answer.content).findtext(f".//{{{SOAP_ENV}}}Fault/faultcode") or ""
        except etree.XMLSyntaxError:
            code = ""
        if answer.status_code != 500 or not code.split(":")[-1].startswith("Client"):
            failures.append(f"{name}: {answer.status_code} {answer.text[:300]}")
    flood = {f"X-Flood-{i}": "x" for i in range(300)}
    for name, headers in (("header-flood", flood), ("header-huge", {"X-Huge": "x" * 20_000})):
        started = time.monotonic()
        answer = requests.post(server.root("soap"), data=_envelope("version", ""), timeout=30,
                               headers={"Content-Type": "text/xml; charset=utf-8", **headers})
        _clean(name, answer, time.monotonic() - started, token)
        if not 400 <= answer.status_code < 500:
            failures.append(f"{name}: {answer.status_code} {answer.text[:300]}")
    assert failures == []
    assert listener.heard == 0, "an external entity was fetched"
    grown = _worker_rss(server) - before
    assert grown < 64 * 1024 * 1024, f"the worker grew by {grown / 2**20:.0f} MiB"
    assert token not in server.log.read_text()
