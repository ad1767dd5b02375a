"""The composition root of the service: one WSGI application holding the engine and its doors.

`create_application(settings)` builds it for tests and embedding. `application` is what gunicorn
serves (`gunicorn -c config/gunicorn.conf.py config.wsgi:application`); it reads its settings from the
environment when its worker starts, not at import time.
"""
from __future__ import annotations

import gc
import threading
from typing import Any, Callable, Iterable

from flask import Flask, jsonify
from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.wsgi import ClosingIterator

from config.allocator import malloc_trim
from config.origins import RefusesCrossSite
from config.settings import Settings, for_worker, load_settings
from engine import operations as ops
from engine.runtime.node import ProcessEngine
from rest import create_rest_app, metrics
from soap import create_soap_app

WsgiApp = Callable[[dict, Callable[..., Any]], Iterable[bytes]]


def create_application(settings: Settings, engine: ProcessEngine | None = None) -> Flask:
    """The service: the REST door, health endpoints and metrics, with the SOAP door mounted at
    `{root}/soap` in front of Flask (the Flask app stays what callers get, its engine in `extensions`)."""
    engine = engine or ops.new_engine(settings)
    root = settings.server.context_path.rstrip("/")
    app = create_rest_app(engine, settings)
    requests = metrics.install(app, engine, root)
    soap = requests.counted(create_soap_app(engine, settings), "soap")
    doors = DispatcherMiddleware(app.wsgi_app, {f"{root}/soap": soap})
    guarded = RefusesCrossSite(doors, (f"{root}/rest", f"{root}/soap"),
                               (f"{root}/rest/docs", f"{root}/rest/openapi.json", f"{root}/soap"))
    app.wsgi_app = _DrivesAfterAnswers(_ReturnsMemory(guarded), engine)

    @app.get(f"{root}/health/live")
    def live() -> Any:
        return jsonify(status="UP", node=engine.node_id)

    @app.get(f"{root}/health/ready")
    def ready() -> Any:
        state = engine.features.get("instantiate", "inactive")
        body = jsonify(status="UP" if state == "active" else "DOWN", instantiate=state)
        return body, 200 if state == "active" else 503

    return app


class _DrivesAfterAnswers:
    """Under gunicorn, a request thread drives the asynchronous starts it answered once the answer is
    sent (`ops.defer_hand_overs`): gunicorn closes the answer's iterable after writing it, always. Other
    callers of the WSGI application (a test client need not close what it is given) hand over to a pool
    thread as before."""

    def __init__(self, app: WsgiApp, engine: ProcessEngine) -> None:
        self.app, self.engine = app, engine

    def __call__(self, environ: dict, start_response: Callable[..., Any]) -> Iterable[bytes]:
        if "gunicorn.socket" not in environ:
            return self.app(environ, start_response)
        ops.defer_hand_overs(self.engine)
        try:
            answer = self.app(environ, start_response)
        except BaseException:
            ops.drive_deferred(self.engine)
            raise
        return ClosingIterator(answer, [lambda: ops.drive_deferred(self.engine)])


class _ReturnsMemory:
    """Once the last call that carried a large body in or out has ended, the memory such calls freed
    goes back to the system (on a thread of its own: the answer is out by then).

    glibc and Python's allocator keep freed memory for reuse, so a worker that once took a 10 MB data
    store would stay several times that larger until it exits (issue 15). `malloc_trim` hands it back.
    It waited a second at first, so that back-to-back large calls would not pay for the returned pages
    again; since a large store's objects come from malloc (config.allocator), handing them back at once
    costs no time the bench can see, and back-to-back 10 MB calls peaked at +3.4-4.4x the document
    over the bench's runs, against +4.8x waiting. Where there is no glibc, nothing is done.

    What such a call left in reference cycles is collected first: spyne's call contexts are cycles
    that hold both parsed envelopes (of a 10 MB store, about ten times the document), and left to
    the collector's own pace a worker grew to +15-38x the document over a few SOAP calls (+0.65x
    kept, collected here; the collection takes about 35 ms, most of it freeing the trees).
    """

    LARGE, IDLE_S = 1 << 20, 0.0

    def __init__(self, app: WsgiApp) -> None:
        self.app, self.trim = app, malloc_trim()
        self.lock, self.receiving, self.pending, self.timer = threading.Lock(), 0, False, None

    def __call__(self, environ: dict, start_response: Callable[..., Any]) -> Iterable[bytes]:
        if self.trim is None:
            return self.app(environ, start_response)
        receiving = _length(environ.get("CONTENT_LENGTH")) >= self.LARGE  # known now: no trim under it
        large = [receiving]

        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            length = next((value for name, value in headers if name.lower() == "content-length"), None)
            # an answer with a body but no length is sent as it is written: a large one (schemas.shapes.sized)
            large.append(_length(length) >= self.LARGE if length is not None else status[:3] not in _NO_BODY)
            return start_response(status, headers, exc_info)

        if receiving:
            with self.lock:
                self.receiving += 1
        try:
            answer = self.app(environ, start)
        except BaseException:
            self._ended(receiving, True)
            raise
        return ClosingIterator(answer, [lambda: self._ended(receiving, any(large))]) if any(large) else answer

    def _ended(self, receiving: bool, large: bool) -> None:
        with self.lock:
            self.receiving -= receiving
            self.pending = self.pending or large
            if self.pending and not self.receiving and self.timer is None:
                self.timer = threading.Timer(self.IDLE_S, self._trim_when_idle)
                self.timer.daemon = True
                self.timer.start()

    def _trim_when_idle(self) -> None:
        with self.lock:
            self.timer = None
            if self.receiving:  # another large call is under way: the last to end asks again
                return
            self.pending = False
        gc.collect()
        self.trim(0)


_NO_BODY = {"204", "304", "100", "101", "102", "103"}


def _length(text: str | None) -> int:
    return int(text) if text and text.isdigit() else 0


class _Service:
    """The gunicorn entry point: built, and its engine started, once per worker."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._app: Flask | None = None

    def load(self) -> Flask:
        with self._lock:
            if self._app is None:
                app = create_application(for_worker(load_settings()))
                app.extensions["process_engine"].start()
                self._app = app
            return self._app

    def drain(self) -> None:
        """Shutdown has begun: answer every pending synchronous call now, before the deadline."""
        with self._lock:
            if self._app is not None:
                self._app.extensions["process_engine"].drain()

    def shutdown(self) -> None:
        with self._lock:
            if self._app is not None:
                self._app.extensions["process_engine"].stop()
                self._app = None

    def __call__(self, environ: dict, start_response: Callable[..., Any]) -> Iterable[bytes]:
        return (self._app or self.load())(environ, start_response)


application = _Service()
