"""The composition root of the service: one WSGI application holding the engine and its doors.

`create_application(settings)` builds it for tests and embedding. `application` is what gunicorn
serves (`gunicorn -c config/gunicorn.conf.py config.wsgi:application`); it reads its settings from the
environment when its worker starts, not at import time.
"""
from __future__ import annotations

import threading
from typing import Any, Callable, Iterable

from flask import Flask, jsonify
from werkzeug.middleware.dispatcher import DispatcherMiddleware

from config.settings import Settings, for_worker, load_settings
from engine.runtime.engine import ProcessEngine
from rest import create_rest_app, metrics
from soap import create_soap_app

WsgiApp = Callable[[dict, Callable[..., Any]], Iterable[bytes]]


def create_application(settings: Settings, engine: ProcessEngine | None = None) -> Flask:
    """The service: the REST door, health endpoints and metrics, with the SOAP door mounted at
    `{root}/soap` in front of Flask (the Flask app stays what callers get, its engine in `extensions`)."""
    engine = engine or ProcessEngine(settings)
    root = settings.server.context_path.rstrip("/")
    app = create_rest_app(engine, settings)
    requests = metrics.install(app, engine, root)
    soap = requests.counted(create_soap_app(engine, settings), "soap")
    app.wsgi_app = DispatcherMiddleware(app.wsgi_app, {f"{root}/soap": soap})

    @app.get(f"{root}/health/live")
    def live() -> Any:
        return jsonify(status="UP", node=engine.node_id)

    @app.get(f"{root}/health/ready")
    def ready() -> Any:
        state = engine.features.get("instantiate", "inactive")
        body = jsonify(status="UP" if state == "active" else "DOWN", instantiate=state)
        return body, 200 if state == "active" else 503

    return app


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
