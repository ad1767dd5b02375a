"""REST door against a bare Flask route, on the same gunicorn settings, driven by the same client.

Ours: `GET /run` of start → assign → end. Answered at its end and so disposed, such an instance is
never written (only its caller knew it); the bench also measures it with `peek=true`, which keeps it
and so writes its row to SQLite, on the same two servers.
Baseline: a Flask route under the same gunicorn settings answering a JSON body of the same size.
The client is an asyncio loop keeping several HTTP/1.1 connections busy; it reports requests per
second and the p50/p99 latency of each, measured in one run with the two taking turns.
"""
from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from statistics import median, quantiles

import requests

from tests.support.common import ROOT
from tests.support.server import free_port

PATH = "/infinica-process-engine/rest/run?processUri=one.ipd&in.name=bench"
ONE = ('<process xmlns="http://www.infinica.com/process-engine" version="4"><startElement id="s"/>'
       '<assign id="a" name="greeting" select="concat(\'Hello, \', $name)"/><endElement id="e"/></process>')


def _serve(args: list[str], env: dict[str, str], folder: Path, name: str) -> tuple[subprocess.Popen, int]:
    port = free_port()
    env = dict(os.environ, PYTHONPATH=str(ROOT), PE_PORT=str(port), **env)
    log = (folder / f"{name}.log").open("w")
    process = subprocess.Popen(args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if requests.get(f"http://127.0.0.1:{port}{PATH}", timeout=5).status_code == 200:
                return process, port
        except requests.ConnectionError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"{name} did not start; see {folder / f'{name}.log'}")


def _stop(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=40)
    except subprocess.TimeoutExpired:
        process.kill()


def _get(path: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/json\r\n\r\n".encode()


GET_RUN = _get(PATH)
GET_RUN_KEPT = _get(PATH + "&peek=true")


async def _connection(port: int, stop_at: float, latencies: list[float], request: bytes) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while time.perf_counter() < stop_at:
            started = time.perf_counter()
            writer.write(request)
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
                elif line.startswith(b"HTTP/1.1") and not line.startswith(b"HTTP/1.1 200"):
                    raise RuntimeError(f"answer {line!r}")
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
    finally:
        writer.close()


def measure(port: int, seconds: float, connections: int, request: bytes = GET_RUN) -> tuple[int, float, list[float]]:
    """(answers, elapsed seconds, latencies) of keeping `connections` connections busy sending `request`
    (a whole HTTP/1.1 request; each answer must be a 200)."""
    latencies: list[float] = []

    async def main() -> None:
        stop_at = time.perf_counter() + seconds
        await asyncio.gather(*(_connection(port, stop_at, latencies, request) for _ in range(connections)))

    started = time.perf_counter()
    asyncio.run(main())
    return len(latencies), time.perf_counter() - started, latencies


def summary(latencies: list[float], seconds: float) -> tuple[float, float, float]:
    """(requests per second, p50 ms, p99 ms)."""
    cuts = quantiles(latencies, n=100)
    return len(latencies) / seconds, cuts[49] * 1000, cuts[98] * 1000


def load(port: int, seconds: float, connections: int, request: bytes = GET_RUN) -> tuple[float, float, float]:
    """(requests per second, p50 ms, p99 ms) of one stretch of load."""
    _, elapsed, latencies = measure(port, seconds, connections, request)
    return summary(latencies, elapsed)


def alternate(ports: tuple[int, int], seconds: float, connections: int, rounds: int = 5,
              asked: tuple[bytes, bytes] = (GET_RUN, GET_RUN)) -> tuple[tuple[float, float, float], ...]:
    """Both contenders' (req/s, p50, p99) and the median of their per-round ratios (second / first).

    The two servers run side by side and take turns under load, `rounds` times `seconds / rounds`
    each: on a shared or virtual machine speed drifts by 10-20% within a minute, and alternating
    puts both contenders under the same drift instead of measuring one before the other.
    """
    stretch = seconds / rounds
    latencies: tuple[list[float], list[float]] = ([], [])
    elapsed = [0.0, 0.0]
    ratios = []
    for _ in range(rounds):
        rates = []
        for i in (0, 1):
            count, took, got = measure(ports[i], stretch, connections, asked[i])
            latencies[i].extend(got)
            elapsed[i] += took
            rates.append(count / took)
        ratios.append(rates[1] / rates[0])
    first, second = summary(latencies[0], elapsed[0]), summary(latencies[1], elapsed[1])
    return first, second, (median(ratios),)


def serve_ours(folder: Path) -> tuple[subprocess.Popen, int]:
    """`process-engine serve` on a fresh SQLite file, with one.ipd in its repository."""
    (folder / "one.ipd").write_text(ONE)
    config = folder / "settings.toml"
    config.write_text(f'services = []\n[storage]\nurl = "sqlite:///{folder / "bench.db"}"\n'
                      f'[repository]\npath = "{folder}"\n[engine]\nnode_id = "bench-rest"\n')
    return _serve([sys.executable, "-m", "config.cli", "--config", str(config), "serve"],
                  {"PROCESS_ENGINE_CONFIG": str(config)}, folder, "ours")


def serve_bare(folder: Path, body: bytes) -> tuple[subprocess.Popen, int]:
    """The baseline under the same gunicorn settings, answering `body`."""
    (folder / "body.json").write_bytes(body)
    return _serve([sys.executable, "-m", "gunicorn", "-c", str(ROOT / "config" / "gunicorn.conf.py"),
                   "tests.bench.bare_app:app"], {"BENCH_BODY_FILE": str(folder / "body.json"),
                                                 "PE_STORAGE_URL": "sqlite://"}, folder, "bare")


def report(seconds: float, connections: int = 8) -> str:
    with tempfile.TemporaryDirectory(prefix="pe-bench-rest-") as temp:
        folder = Path(temp)
        ours, port = serve_ours(folder)
        try:
            body = requests.get(f"http://127.0.0.1:{port}{PATH}", timeout=10).content
            bare, bare_port = serve_bare(folder, body)
            try:
                load(port, 2, connections)  # warm-up
                load(bare_port, 2, connections)
                baseline, mine, (ratio,) = alternate((bare_port, port), 2 * seconds, connections)
                _, kept, (kept_ratio,) = alternate((bare_port, port), 2 * seconds, connections,
                                                   asked=(GET_RUN, GET_RUN_KEPT))
            finally:
                _stop(bare)
        finally:
            _stop(ours)
    return "\n".join([
        f"GET /run (start -> assign -> end), gunicorn gthread, 1 worker, {connections} keep-alive connections, "
        f"{len(body)} byte answers, 5 alternating rounds",
        f"  bare Flask route            {baseline[0]:8.1f} req/s   p50 {baseline[1]:6.2f} ms   p99 {baseline[2]:6.2f} ms   1.00x",
        f"  process-engine GET /run     {mine[0]:8.1f} req/s   p50 {mine[1]:6.2f} ms   p99 {mine[2]:6.2f} ms   "
        f"{ratio:.2f}x  (goal >= 0.5; the median of the rounds' ratios; ended and disposed, so not written)",
        f"    the same with peek=true   {kept[0]:8.1f} req/s   p50 {kept[1]:6.2f} ms   p99 {kept[2]:6.2f} ms   "
        f"{kept_ratio:.2f}x  (kept, so its row is written to SQLite)",
    ])
