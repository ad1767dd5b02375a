"""Our engine against SpiffWorkflow 3 on the same ten-step process, in one process.

The contenders take turns in several short rounds, so that whatever else the machine does falls on
both alike; the figures are medians over the rounds. Every instance of ours is persisted: it ends in
a row of the SQLite database (autoDispose=never, so nothing is skipped or purged).
"""
from __future__ import annotations

import tempfile
import time
from statistics import median
from pathlib import Path
from typing import Callable

from config.settings import load_settings
from engine import operations as ops
from engine.runtime.node import ProcessEngine
from engine.security.authorization import ANONYMOUS_ADMIN

STEPS = 10
IPD = ('<process xmlns="http://www.infinica.com/process-engine" version="4" name="Ten">'
       '<startElement id="start"/>'
       + "".join(f'<assign id="a{i}" name="v{i}" select="{i} * 2"/>' for i in range(STEPS))
       + '<endElement id="end"/></process>')


def _bpmn() -> str:
    tasks = "".join(
        f'<bpmn:scriptTask id="t{i}"><bpmn:incoming>f{i}</bpmn:incoming><bpmn:outgoing>f{i + 1}</bpmn:outgoing>'
        f'<bpmn:script>v{i} = {i} * 2</bpmn:script></bpmn:scriptTask>'
        f'<bpmn:sequenceFlow id="f{i + 1}" sourceRef="t{i}" targetRef="{f"t{i + 1}" if i < STEPS - 1 else "end"}"/>'
        for i in range(STEPS))
    return ('<?xml version="1.0" encoding="UTF-8"?><bpmn:definitions '
            'xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="urn:bench">'
            '<bpmn:process id="ten" isExecutable="true"><bpmn:startEvent id="start"><bpmn:outgoing>f0</bpmn:outgoing>'
            '</bpmn:startEvent><bpmn:sequenceFlow id="f0" sourceRef="start" targetRef="t0"/>'
            f'{tasks}<bpmn:endEvent id="end"><bpmn:incoming>f{STEPS}</bpmn:incoming></bpmn:endEvent>'
            '</bpmn:process></bpmn:definitions>')


def rate(one: Callable[[], None], seconds: float, warmup: int = 50) -> float:
    """Instances per second of `one`, after a warm-up."""
    for _ in range(warmup):
        one()
    count, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        one()
        count += 1
    return count / (time.perf_counter() - started)


def spiff_runner(folder: Path) -> Callable[[], None]:
    from SpiffWorkflow.bpmn import BpmnWorkflow
    from SpiffWorkflow.bpmn.parser import BpmnParser

    path = folder / "ten.bpmn"
    path.write_text(_bpmn())
    parser = BpmnParser()
    parser.add_bpmn_file(str(path))
    spec = parser.get_spec("ten")

    def one() -> None:
        workflow = BpmnWorkflow(spec)
        workflow.do_engine_steps()
        assert workflow.completed
    return one


def engine(folder: Path, synchronous: str) -> ProcessEngine:
    (folder / "ten.ipd").write_text(IPD)
    settings = load_settings({}).with_overrides(
        storage={"url": f"sqlite:///{folder / f'bench-{synchronous}.db'}", "sqlite_synchronous": synchronous},
        repository={"path": str(folder)}, engine={"node_id": f"bench-{synchronous}"},
        services=())  # the sample services' definitions are not in the bench's repository
    return ProcessEngine(settings).start()


def engine_runner(pe: ProcessEngine) -> Callable[[], None]:
    def one() -> None:
        snapshot = ops.run(pe, ANONYMOUS_ADMIN, "ten.ipd", auto_dispose="never")
        assert snapshot.state.value == "FINISHED"
    return one


def report(seconds: float, rounds: int = 5) -> str:
    with tempfile.TemporaryDirectory(prefix="pe-bench-") as temp:
        folder = Path(temp)
        normal, full = engine(folder, "NORMAL"), engine(folder, "FULL")
        try:
            runners = {"spiff": spiff_runner(folder), "normal": engine_runner(normal), "full": engine_runner(full)}
            rates: dict[str, list[float]] = {name: [] for name in runners}
            for _ in range(rounds):
                for name, one in runners.items():
                    rates[name].append(rate(one, seconds / rounds))
        finally:
            normal.stop()
            full.stop()
    spiff = median(rates["spiff"])
    ratio = {name: median(r / s for r, s in zip(rates[name], rates["spiff"])) for name in rates}
    return "\n".join([
        f"start -> 10 steps -> end, one instance after another, in-process ({rounds} alternating rounds, medians)",
        f"  SpiffWorkflow 3 (no persistence)          {spiff:9.1f} instances/s   1.00x",
        f"  process-engine, SQLite synchronous=NORMAL {median(rates['normal']):9.1f} instances/s   "
        f"{ratio['normal']:.2f}x  (the default; goal >= 3x)",
        f"  process-engine, SQLite synchronous=FULL   {median(rates['full']):9.1f} instances/s   {ratio['full']:.2f}x",
    ])
