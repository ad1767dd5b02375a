"""The answers gunicorn gives by itself, to requests too malformed to reach the application (a bad
request line, header or `Transfer-Encoding`), in the service's error format (CONTRACT §6) instead of
gunicorn's HTML page: a typed JSON body, a 4xx for the caller's mistakes, an incident ID for a 500."""
from __future__ import annotations

import logging
import socket

from gunicorn import util

from engine.support import jsontext
from engine.errors import EngineError, InternalError, InvalidInput
from schemas.results import error_json

log = logging.getLogger("process_engine.rest")
MESSAGE_CHARS = 200  # gunicorn's message may quote the offending input; no more of it than this


def install() -> None:
    """From now on (in this worker process), gunicorn's own refusals are written by `write_refusal`."""
    util.write_error = write_refusal


def write_refusal(sock: socket.socket, status: int, reason: str, message: str) -> None:
    # gunicorn answers a Transfer-Encoding it does not know with 501, but the request is what is wrong.
    if status == 501:
        status, reason = 400, "Bad Request"
    if status < 500:
        error: EngineError = InvalidInput(message[:MESSAGE_CHARS] or reason)
    else:
        error = InternalError()
        log.error("incident %s: the HTTP server failed a request: %s", error.incident, message or reason)
    body = jsontext.dumps_utf8(error_json(error))
    head = (f"HTTP/1.1 {status} {reason}\r\nConnection: close\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n")
    util.write_nonblock(sock, head.encode("latin-1") + body)
