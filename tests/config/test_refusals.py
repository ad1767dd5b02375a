"""gunicorn's own refusals in the service's error format (the served cases are in tests/rest/test_service.py)."""
from __future__ import annotations

import json
import logging
import socket

from config.refusals import write_refusal


def _answer(status: int, reason: str, message: str) -> tuple[str, dict]:
    ours, theirs = socket.socketpair()
    with ours, theirs:
        write_refusal(ours, status, reason, message)
        ours.shutdown(socket.SHUT_WR)
        raw = b""
        while chunk := theirs.recv(65536):
            raw += chunk
    head, _, body = raw.partition(b"\r\n\r\n")
    return head.decode("latin-1"), json.loads(body)


def test_a_failure_of_the_http_server_is_an_internal_error_with_an_incident_in_the_log(caplog):
    with caplog.at_level(logging.ERROR, logger="process_engine.rest"):
        head, body = _answer(500, "Internal Server Error", "a proxy setting is wrong")
    assert head.startswith("HTTP/1.1 500 ")
    assert body["type"] == "InternalError" and "a proxy setting" not in body["message"]
    assert body["incidentId"] in caplog.text and "a proxy setting is wrong" in caplog.text


def test_a_refusal_quotes_little_of_the_input():
    head, body = _answer(400, "Bad Request", "Invalid HTTP header name: '" + "x" * 5000 + "'")
    assert head.startswith("HTTP/1.1 400 ") and body["type"] == "InvalidParameter"
    assert len(body["message"]) <= 200
