"""A written `run` on PostgreSQL against a bare Flask + psycopg2 app writing a row per request.

Ours: `GET /run?peek=true` of start → assign → end on a served node with PostgreSQL storage; `peek`
keeps the instance, so its row is written. Baseline: `bare_pg_app`, an INSERT, an UPDATE and a COMMIT
per request on a pooled psycopg2 connection, answering a JSON body of the same size, under the same
gunicorn settings (one worker). Both in schemas of their own, taking turns under the same load.
Goal (issue 15): ≥ 0.9.
"""
from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path
from statistics import median

import psycopg2
import requests

from tests.bench.rest import ONE, PATH, _get, _serve, _stop, alternate, load
from tests.bench.scale import _dsn, _fresh_schema, _schema_url, drop
from tests.support.common import ROOT

SCHEMA, BARE_SCHEMA = "pe_bench_run", "pe_bench_bare"
GET_RUN_KEPT = _get(PATH + "&peek=true")
GET_START = _get(PATH + "&peek=true&timeout=0")  # answered at once, RUNNING; a pool thread ends it


def _unfinished(cursor) -> int:
    cursor.execute(f"SELECT count(*) FROM {SCHEMA}.process_instances WHERE state IN ('READY', 'RUNNING')")
    return cursor.fetchone()[0]


def asynchronous_starts(port: int, seconds: float, connections: int, rounds: int = 5) -> tuple[float, float, float]:
    """(written runs per second, asynchronous starts carried to their end per second, the median of the
    per-round ratios), taking turns: a start's stretch lasts until the node has ended every one of them."""
    from tests.bench.rest import measure

    stretch = seconds / rounds
    totals = {"runs": [0, 0.0], "starts": [0, 0.0]}
    ratios = []
    with psycopg2.connect(_dsn()) as conn:
        conn.autocommit = True
        cursor = conn.cursor()
        for _ in range(rounds):
            count, took, _ = measure(port, stretch, connections, GET_RUN_KEPT)
            totals["runs"][0] += count
            totals["runs"][1] += took
            started = time.perf_counter()
            begun, _, _ = measure(port, stretch, connections, GET_START)
            deadline = time.monotonic() + 120
            while _unfinished(cursor) and time.monotonic() < deadline:
                time.sleep(0.005)
            ended = time.perf_counter() - started
            totals["starts"][0] += begun
            totals["starts"][1] += ended
            ratios.append((begun / ended) / (count / took))
    return (totals["runs"][0] / totals["runs"][1], totals["starts"][0] / totals["starts"][1], median(ratios))


def report(seconds: float, connections: int = 8) -> str:
    _fresh_schema(SCHEMA)
    _fresh_schema(BARE_SCHEMA)
    with psycopg2.connect(_dsn(), options=f"-csearch_path={BARE_SCHEMA}") as conn, conn.cursor() as cursor:
        cursor.execute("CREATE TABLE bench_runs (id varchar(36) PRIMARY KEY, state varchar(16), body text)")
    try:
        with tempfile.TemporaryDirectory(prefix="pe-bench-pg-") as temp:
            folder = Path(temp)
            (folder / "one.ipd").write_text(ONE)
            config = folder / "settings.toml"
            config.write_text(f'services = []\n[storage]\nurl = "{_schema_url(SCHEMA, "pe-bench-run")}"\n'
                              f'[repository]\npath = "{folder}"\n[engine]\nnode_id = "bench-pg"\n')
            ours, port = _serve([sys.executable, "-m", "config.cli", "--config", str(config), "serve"],
                                {"PROCESS_ENGINE_CONFIG": str(config), "PE_WORKERS": "1"}, folder, "ours")
            try:
                body = requests.get(f"http://127.0.0.1:{port}{PATH}&peek=true", timeout=10).content
                (folder / "body.json").write_bytes(body)
                bare, bare_port = _serve(
                    [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "config" / "gunicorn.conf.py"),
                     "tests.bench.bare_pg_app:app"],
                    {"BENCH_BODY_FILE": str(folder / "body.json"), "PE_STORAGE_URL": "postgresql://",
                     "PE_WORKERS": "1", "BENCH_DSN": f"{_dsn()}?options=-csearch_path%3D{BARE_SCHEMA}"},
                    folder, "bare")
                try:
                    load(port, 2, connections, GET_RUN_KEPT)  # warm-up
                    load(bare_port, 2, connections)
                    baseline, mine, (ratio,) = alternate((bare_port, port), 2 * seconds, connections,
                                                         asked=(GET_RUN_KEPT, GET_RUN_KEPT))
                    runs, starts, start_ratio = asynchronous_starts(port, 2 * seconds, connections)
                finally:
                    _stop(bare)
            finally:
                _stop(ours)
    finally:
        drop(SCHEMA)
        drop(BARE_SCHEMA)
    return "\n".join([
        f"written run on PostgreSQL, gunicorn gthread, 1 worker, {connections} keep-alive connections, 5 alternating rounds",
        f"  bare Flask + psycopg2 (INSERT, UPDATE, COMMIT) {baseline[0]:8.1f} req/s   p50 {baseline[1]:6.2f} ms   1.00x",
        f"  process-engine GET /run?peek=true            {mine[0]:8.1f} req/s   p50 {mine[1]:6.2f} ms   "
        f"{ratio:.2f}x  (goal >= 0.9)",
        f"  asynchronous starts (timeout=0) until ended    {starts:8.1f} /s against written runs {runs:8.1f} /s   "
        f"{start_ratio:.2f}x  (goal: as fast)",
    ])


if __name__ == "__main__":
    print(report(5.0))
