"""Prometheus metrics at `{root}/metrics` (CONTRACT §1): requests by operation and status with their
latency, and the engine's own figures read when scraped. Each application has a registry of its own,
so several engines in one process (tests) do not mix their figures."""
from __future__ import annotations

import time
from typing import Any, Callable, Iterable, Iterator

from flask import Flask, Response
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from engine import operations as ops

from .auth import current_principal

WsgiApp = Callable[[dict, Callable[..., Any]], Iterable[bytes]]


class EngineCollector:
    def __init__(self, engine: Any) -> None:
        self.engine = engine

    def collect(self) -> Iterator[GaugeMetricFamily]:
        figures = ops.get_node_figures(self.engine)
        yield GaugeMetricFamily("pe_running_instances", "Instances running on this node", figures.running)
        yield GaugeMetricFamily("pe_active_instances", "Instances queued or running on this node", figures.active)
        yield GaugeMetricFamily("pe_waiting_callers", "Callers blocked in a synchronous wait", figures.waiting_callers)
        states = GaugeMetricFamily("pe_instances", "Live instances by state and health", labels=["state", "health"])
        for state, health, count in figures.live:
            states.add_metric([state, health], count)
        yield states


class Requests:
    """Requests answered, by endpoint and status, and their latency: the counters both doors feed."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._total = Counter("pe_http_requests", "HTTP requests answered", ["endpoint", "status"], registry=registry)
        self._latency = Histogram("pe_http_request_seconds", "Time to answer an HTTP request", ["endpoint"],
                                  registry=registry)
        self._counters: dict[tuple[str, int], Any] = {}  # labelled children, found once: this runs per request
        self._timers: dict[str, Any] = {}

    def record(self, endpoint: str, status: int, started: float) -> None:
        counter = self._counters.get((endpoint, status))
        if counter is None:
            counter = self._counters[endpoint, status] = self._total.labels(endpoint, str(status))
        counter.inc()
        timer = self._timers.get(endpoint) or self._timers.setdefault(endpoint, self._latency.labels(endpoint))
        timer.observe(time.perf_counter() - started)

    def counted(self, wsgi_app: WsgiApp, endpoint: str | Callable[[dict], str]) -> WsgiApp:
        """`wsgi_app` with its requests recorded under `endpoint`, or under what `endpoint(environ)`
        names once the answer starts. Around the application rather than in Flask's request hooks:
        those cost more per request than the counting itself."""
        def app(environ: dict, start_response: Callable[..., Any]) -> Iterable[bytes]:
            started = time.perf_counter()

            def recording(status: str, headers: list, exc_info: Any = None) -> Any:
                label = endpoint if isinstance(endpoint, str) else endpoint(environ)
                self.record(label, int(status.split(" ", 1)[0]), started)
                return start_response(status, headers, exc_info) if exc_info else start_response(status, headers)
            return wsgi_app(environ, recording)
        return app


def flask_endpoint(environ: dict) -> str:
    """The Flask endpoint that answered (its request object is in the environ), or `unknown`."""
    return getattr(environ.get("werkzeug.request"), "endpoint", None) or "unknown"


def install(app: Flask, engine: Any, root: str) -> Requests:
    """Metrics for `app` at `{root}/metrics`; the recorder, for what is mounted beside it."""
    registry = CollectorRegistry()
    recorder = Requests(registry)
    registry.register(EngineCollector(engine))

    app.wsgi_app = recorder.counted(app.wsgi_app, flask_endpoint)  # type: ignore[method-assign]

    @app.get(f"{root}/metrics")
    def metrics() -> Response:
        current_principal()  # with users configured, metrics are for authenticated callers only
        return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)

    return recorder
