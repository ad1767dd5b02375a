"""The composition root's memory return (issue 15): after large calls, and only once they are over."""
from __future__ import annotations

import gc
import threading
import time
import weakref

from werkzeug.test import Client
from werkzeug.wrappers import Request, Response

from config import wsgi


@Request.application
def echo(request: Request) -> Response:
    """Answers as large as asked (?size=N), after reading the body; waits for ?hold=1 to be released."""
    request.get_data()
    if request.args.get("hold"):
        RELEASE.wait(5)
    if request.args.get("empty"):
        return Response(status=204)
    if request.args.get("stream"):  # as rest.endpoint.sent sends a large answer: as it is written
        return Response(b"x" * (1 << 16) for _ in range(int(request.args["stream"])))
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


def test_a_large_answer_sent_as_it_is_written_is_followed_by_a_trim(monkeypatch):
    client, trims = returning(monkeypatch)
    answer = client.get("/?stream=32", buffered=True)
    assert "Content-Length" not in answer.headers and len(answer.data) == 32 << 16
    settle()
    assert len(trims) == 1


def test_small_calls_return_nothing(monkeypatch):
    client, trims = returning(monkeypatch)
    for _ in range(3):
        client.post("/?size=100", data=b"y" * 100, buffered=True)
        client.get("/?empty=1", buffered=True)  # 204: no length, and no body either
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


class Held:
    """Something large a call made, in a reference cycle (as spyne's call contexts are)."""


@Request.application
def cyclic(request: Request) -> Response:
    request.get_data()
    held = Held()
    held.self, held.payload = held, b"z" * (2 << 20)
    LEFT.append(weakref.ref(held))
    return Response(b"ok")


LEFT: list[weakref.ref] = []


def test_what_a_large_call_left_in_cycles_is_collected_before_the_memory_goes_back(monkeypatch):
    monkeypatch.setattr(wsgi._ReturnsMemory, "IDLE_S", 0.2)
    app = wsgi._ReturnsMemory(cyclic)
    app.trim = lambda pad: 1
    client = Client(app, use_cookies=False)
    enabled = gc.isenabled()
    gc.disable()  # only the collection after the call may free the cycle
    try:
        LEFT.clear()
        client.post("/", data=b"y" * 100, buffered=True)  # small: nothing is done after it
        settle()
        assert LEFT[0]() is not None
        client.post("/", data=b"y" * (2 << 20), buffered=True)
        settle()
        assert [ref() for ref in LEFT] == [None, None]
    finally:
        if enabled:
            gc.enable()
