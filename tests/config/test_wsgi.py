"""The composition root's memory return (issue 15): after large calls, and only once they are over."""
from __future__ import annotations

import threading
import time

from werkzeug.test import Client
from werkzeug.wrappers import Request, Response

from config import wsgi


@Request.application
def echo(request: Request) -> Response:
    """Answers as large as asked (?size=N), after reading the body; waits for ?hold=1 to be released."""
    request.get_data()
    if request.args.get("hold"):
        RELEASE.wait(5)
    return Response(b"x" * int(request.args.get("size", "1")))


RELEASE = threading.Event()


def returning(monkeypatch) -> tuple[Client, list[float]]:
    """A client of `echo` behind _ReturnsMemory, whose trim only records when it ran."""
    monkeypatch.setattr(wsgi._ReturnsMemory, "IDLE_S", 0.2)
    trims: list[float] = []
    app = wsgi._ReturnsMemory(echo)
    app.trim = lambda pad: trims.append(time.monotonic()) or 1
    return Client(app, use_cookies=False), trims


def settle() -> None:
    time.sleep(0.6)


def test_a_large_body_or_answer_is_followed_by_one_trim_once_idle(monkeypatch):
    client, trims = returning(monkeypatch)
    client.post("/", data=b"y" * (2 << 20), buffered=True)
    client.get(f"/?size={2 << 20}", buffered=True)
    settle()
    assert len(trims) == 1


def test_small_calls_return_nothing(monkeypatch):
    client, trims = returning(monkeypatch)
    for _ in range(3):
        client.post("/?size=100", data=b"y" * 100, buffered=True)
    settle()
    assert trims == []


def test_no_trim_while_a_large_call_is_still_under_way(monkeypatch):
    client, trims = returning(monkeypatch)
    RELEASE.clear()
    held = threading.Thread(target=lambda: client.post("/?hold=1", data=b"y" * (2 << 20), buffered=True))
    held.start()
    time.sleep(0.1)
    client.post("/", data=b"y" * (2 << 20), buffered=True)  # ends while the held one goes on
    settle()
    assert trims == []
    RELEASE.set()
    held.join(5)
    settle()
    assert len(trims) == 1
