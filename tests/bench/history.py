"""What the history costs (issue 17): the engine and REST figures at `history.level` none, instance and
activity, in one run, the levels taking turns.

Engine: start → 10 assigns → end in-process on SQLite, each instance kept (written at every level);
`instance` adds the process's record and the call's log row to the end's transaction, `activity` the
twelve elements it passed too. REST: GET /run of start → assign → end, answered at its end and so
disposed: at `none` nothing is written, at `instance` the record and the log row are (one commit).
Each round's figure includes moving what it staged on to the history's tables (`history.catch_up`).
REST with 8 connections, and with 16: more callers than the default pool's 8 threads, who then wait
for a permit of the pool (at 16, level instance once served 0.40x none: each caller that found the
pool busy had its instance written, queued and read back).
The engine's figures again with the history's tables already holding 300,000 records and as many calls
(a busy node's within its retention): what each end adds to them, and to their indexes, costs more there.
Goals: instance ≥ 0.9× none, activity ≥ 0.65× none. A second engine (and server) at `none` takes its
turn too, after `activity` as `none` does: its ratio to `none` is what a ratio strays by with nothing
changed, on this machine in this run (two identical contenders have differed by 1-7 %), so a figure can
be told from the goal or not.
"""
from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path
from statistics import median
from typing import Callable

import requests

from config.settings import load_settings
from engine import operations as ops
from engine.runtime import history
from engine.runtime.node import ProcessEngine
from tests.bench import rest
from tests.bench.engine_vs_spiff import IPD, engine_runner, rate

LEVELS = ("none", "instance", "activity")
CONTROL = "none-again"  # (a second `none`: the ratios' noise)
CONTENDERS = {**{level: level for level in LEVELS}, CONTROL: "none"}  # name -> history.level


def _engine(folder: Path, name: str, level: str) -> ProcessEngine:
    settings = load_settings({}).with_overrides(
        storage={"url": f"sqlite:///{folder / f'history-{name}.db'}"}, repository={"path": str(folder)},
        engine={"node_id": f"bench-history-{name}"}, history={"level": level}, services=())
    return ops.new_engine(settings).start()


def _serve(folder: Path, name: str, level: str) -> tuple[subprocess.Popen, int]:
    (folder / "one.ipd").write_text(rest.ONE)
    config = folder / f"settings-{name}.toml"
    config.write_text(f'services = []\n[storage]\nurl = "sqlite:///{folder / f"rest-{name}.db"}"\n'
                      f'[repository]\npath = "{folder}"\n[engine]\nnode_id = "bench-rest-{name}"\n'
                      f'[history]\nlevel = "{level}"\n')
    return rest._serve([sys.executable, "-m", "config.cli", "--config", str(config), "serve"],
                       {"PROCESS_ENGINE_CONFIG": str(config)}, folder, f"history-{name}")


def _rate_caught_up(one: Callable[[], None], pe: ProcessEngine, seconds: float) -> float:
    """Instances per second of `one`, the time to move on what they staged counted (as a history query
    would, `history.catch_up`): no level leaves its background work to run in another's round."""
    rate(one, 0.0, warmup=20)
    history.catch_up(pe)
    count, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        one()
        count += 1
    history.catch_up(pe)
    return count / (time.perf_counter() - started)


# A history as a busy node's SQLite file holds it within its retention: every end adds to tables (and
# indexes) this big, which a fresh file's do not show.
HELD = 300_000
_HELD_RECORDS = """
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :held),
  t(i, at) AS (SELECT i, strftime('%Y-%m-%d %H:%M:%f', 'now', '-' || (i * 5) || ' seconds') || '000' FROM n)
INSERT INTO process_history (execution_id, process_uri, definition_version, owner, created_at, started_at,
  finished_at, duration_ms, end_state, nodes, recorded_at)
SELECT lower(hex(randomblob(16))), 'p' || (i % 20) || '.ipd', 1, 'user' || (i % 200), at, at, at, i % 60000,
  CASE WHEN i % 8 = 0 THEN 'FAILED' ELSE 'FINISHED' END, '["n"]', at FROM t
"""
_HELD_CALLS = """
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :held),
  t(i, at) AS (SELECT i, strftime('%Y-%m-%d %H:%M:%f', 'now', '-' || (i * 5) || ' seconds') || '000' FROM n)
INSERT INTO operation_log (at, user_name, operation, target_kind, target, outcome, parameters, node)
SELECT at, 'user' || (i % 200), 'run', 'execution', lower(hex(randomblob(16))), 'ok', '[]', 'n' FROM t
"""


def _hold(pe: ProcessEngine, records: int) -> None:
    """Fill the history's tables with `records` records and as many calls, ended over the last weeks."""
    with pe.db.unit_of_work() as uow:
        for sql in (_HELD_RECORDS, _HELD_CALLS):
            uow.conn.exec_driver_sql(sql.replace(":held", str(int(records))))
        uow.commit()
    history.roll_up(pe, most=100)  # the closed days, as the master has rolled them up by now


def _engine_rates(folder: Path, seconds: float, rounds: int, held: int = 0) -> dict[str, list[float]]:
    """Each level's instances per second in-process, the levels taking turns; with `held` records in
    the history's tables of the levels that keep one."""
    folder.mkdir()
    (folder / "ten.ipd").write_text(IPD)
    engines = {name: _engine(folder, name, level) for name, level in CONTENDERS.items()}
    try:
        for name, pe in engines.items():
            if held and CONTENDERS[name] != "none":
                _hold(pe, held)
        runners = {name: engine_runner(pe) for name, pe in engines.items()}
        rates: dict[str, list[float]] = {name: [] for name in CONTENDERS}
        for _ in range(rounds):
            for name, one in runners.items():
                rates[name].append(_rate_caught_up(one, engines[name], seconds / rounds))
    finally:
        for pe in engines.values():
            pe.stop()
    return rates


def report(seconds: float, rounds: int = 9, connections: int = 8) -> str:
    with tempfile.TemporaryDirectory(prefix="pe-bench-history-") as temp:
        folder = Path(temp)
        rates = _engine_rates(folder / "fresh", seconds, rounds)
        held = _engine_rates(folder / "held", seconds, rounds, HELD)
        served = {name: _serve(folder, name, level) for name, level in CONTENDERS.items()}
        try:
            for _, port in served.values():
                rest.load(port, 1, connections)  # warm-up
            requests_per_s = {many: {name: [] for name in CONTENDERS} for many in (connections, 2 * connections)}
            for _ in range(rounds):
                for many, figures in requests_per_s.items():
                    for name, (_, port) in served.items():
                        count, took, _latencies = rest.measure(port, 2 * seconds / rounds, many)
                        begun = time.perf_counter()  # a history query moves on what the round staged: it counts
                        requests.post(f"http://127.0.0.1:{port}/infinica-process-engine/rest/history/processes/"
                                      "count", timeout=300).raise_for_status()
                        figures[name].append(count / (took + time.perf_counter() - begun))
        finally:
            for process, _ in served.values():
                rest._stop(process)
    goals = {"none": "", "instance": "  (goal >= 0.9)", "activity": "  (goal >= 0.65)",
             CONTROL: "  (a second none: how far a ratio strays)"}

    def lines(figures: dict[str, list[float]], unit: str) -> list[str]:
        out = []
        for name in CONTENDERS:
            ratios = sorted(a / b for a, b in zip(figures[name], figures["none"]))
            spread = f"  (rounds {ratios[0]:.2f}-{ratios[-1]:.2f})" if name != "none" else ""
            out.append(f"  history.level {name:<10} {median(figures[name]):9.1f} {unit}   "
                       f"{median(ratios):.2f}x{goals[name]}{spread}")
        return out

    return "\n".join([
        f"History levels ({rounds} alternating rounds, medians of the rounds' ratios against none, and their range:"
        " on a busy or virtual machine a single round's ratio strays)",
        "  engine, in-process, SQLite: start -> 10 steps -> end, each instance kept",
        *lines(rates, "instances/s"),
        f"  the same, the history's tables already holding {HELD:,} records and as many calls",
        *lines(held, "instances/s"),
        *(line for many, figures in requests_per_s.items() for line in (
            f"  REST GET /run (start -> assign -> end, answered and disposed), {many} connections",
            *lines(figures, "req/s      "))),
    ])


if __name__ == "__main__":
    print(report(float(sys.argv[1]) if len(sys.argv) > 1 else 5.0))
