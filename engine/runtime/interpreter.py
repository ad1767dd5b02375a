"""The interpreter: runs a definition one step at a time over a pipeline and a position.

It knows nothing of threads or storage. `step()` runs one element (or closes one block) and returns
None to go on, or an outcome — `Suspend` or `End` — that the executor saves. Faults unwind to the
nearest enclosing `onError`; a terminate request unwinds through every `onTerminate`.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable, Mapping

from ..support import clock
from ..model.datastore import DataStore, Value, make_value
from ..definitions import elements as el
from ..definitions.expressions import Expression, Template
from ..faults import Fault, TerminateRequest
from ..model.states import LOG_LEVELS, ExecutionState
from ..modules import InvokeContext
from .position import Frame, Position, Suspension


@dataclass
class Suspend:
    kind: str                           # timer | signal | child | breakpoint
    element: str
    due_at: datetime | None = None
    child_uri: str | None = None
    child_params: DataStore | None = None


@dataclass
class End:
    state: ExecutionState
    element: str | None
    message: str | None = None
    fault: Fault | None = None


Outcome = Suspend | End


@dataclass
class RunInfo:
    """Facts about the instance that expressions and modules may read."""

    execution_id: str
    external_id: str | None
    process_uri: str
    owner: str
    current_user: str


class Run:
    """One instance being interpreted: definition, pipeline, position and what the caller may change
    while it runs (attributes, constants, breakpoints, log settings)."""

    def __init__(self, definition: el.Definition, pipeline: DataStore, position: Position, info: RunInfo, *,
                 attributes: dict[str, str], instance_constants: "DataStore | Callable[[], DataStore]",
                 public_constants: DataStore,
                 breakpoints: set[str], log_settings: dict[str, Any], modules: Mapping[str, Any],
                 load_child: Callable[[str], Any]) -> None:
        self.definition, self.pipeline, self.position, self.info = definition, pipeline, position, info
        self.attributes = attributes
        self._instance_constants = instance_constants
        self.public_constants, self.breakpoints, self.log_settings = public_constants, breakpoints, log_settings
        self.modules, self.load_child = modules, load_child
        self.current_element: str | None = position.at.element if position.at else None
        self.log_entries: list[tuple[datetime, str, str | None, str]] = []
        # History level `activity`: the visits closed since the last save (None: not recorded); level
        # `full`: with the entry each assign left (`trail_data`).
        self.trail: list[dict[str, Any]] | None = None
        self.trail_data = False
        self._skip_breakpoint: str | None = None
        self._handlers = _HANDLERS

    @property
    def instance_constants(self) -> DataStore:
        """Read from the saved state only when an expression first asks for a constant."""
        if callable(self._instance_constants):
            self._instance_constants = self._instance_constants()
        return self._instance_constants

    @instance_constants.setter
    def instance_constants(self, store: DataStore) -> None:
        self._instance_constants = store

    # -- expression scope (engine.definitions.expressions.Scope) --------------------------------
    def entry(self, name: str) -> tuple[Value, ...] | None:
        if name.startswith("error.") and self._handled_error() is not None:
            fault = self._handled_error()
            text = {"error.type": fault.type, "error.message": fault.message,
                    "error.source": fault.source or ""}.get(name)
            return (make_value("error", "text/plain", text),) if text is not None else None
        return self.pipeline.get(name) if name in self.pipeline else None

    def constant(self, name: str) -> tuple[Value, ...]:
        own = self.definition.constants
        if name in self.instance_constants and (name not in own or name in self.definition.overridable):
            return self.instance_constants.get(name)
        if name in own:
            return own.get(name)
        return self.public_constants.get(name)

    def attribute(self, name: str) -> str:
        return self.attributes.get(name, "")

    def info(self, name: str) -> str:
        return {"executionId": self.info.execution_id, "externalId": self.info.external_id or "",
                "processUri": self.info.process_uri, "owner": self.info.owner,
                "currentUser": self.info.current_user}[name]

    def _handled_error(self) -> Fault | None:
        for frame in reversed(self.position.frames):
            if frame.error is not None:
                return frame.error
        return None

    # -- starting and resuming ------------------------------------------------------------------
    def begin(self) -> None:
        """Position a fresh instance at its first element."""
        self.position.frames = [Frame("root", "body", 0)]

    def resume(self, child: "ChildResult | None" = None) -> End | None:
        """Continue after the suspension the position records (the executor calls this once); an End
        when a failed child call is not handled."""
        at, self.position.at = self.position.at, None
        if at is None:
            return None
        if at.kind == "breakpoint":
            self._skip_breakpoint = at.element
        elif at.kind == "child":
            return self._finish_call(at.element, child)
        else:
            self._advance()
        return None

    def begin_terminate(self, request: TerminateRequest) -> End | None:
        if self.position.terminating is not None:
            return None
        self.position.terminating = request
        self.position.at = None
        self.log("info", self.current_element, "terminate requested")
        return self._unwind_terminate()

    # -- stepping -------------------------------------------------------------------------------
    def step(self) -> Outcome | None:
        frames = self.position.frames
        if not frames:
            return End(ExecutionState.FINISHED, self.current_element)
        frame = frames[-1]
        block = self.definition.block(frame.owner, frame.block)
        if frame.index >= len(block):
            return self._close_block(frame)
        element = block[frame.index]
        if element.full_id in self.breakpoints and self._skip_breakpoint != element.full_id:
            self.current_element = element.full_id
            self.position.at = Suspension("breakpoint", element.full_id)
            return Suspend("breakpoint", element.full_id)
        self._skip_breakpoint = None
        self.current_element = element.full_id
        if self.trail is not None:
            self._enter(element.full_id)
        if self.log_settings.get("trace"):
            self.log("trace", element.full_id, f"enter {type(element).__name__}")
        try:
            return self._handlers[type(element)](self, element)
        except Fault as fault:
            return self.fail(fault.at(element.full_id))

    def fail(self, fault: Fault) -> End | None:
        """Unwind to the nearest scope whose onError covers the failing frame, or end FAILED."""
        frames = self.position.frames
        for depth in range(len(frames) - 1, -1, -1):
            frame = frames[depth]
            scope = self.definition.elements.get(frame.owner)
            if isinstance(scope, el.Scope) and scope.on_error is not None and frame.block == "body":
                del frames[depth + 1:]
                frame.block, frame.index, frame.error = "onError", 0, fault
                self.log("warning", fault.source, f"{fault.type}: {fault.message} (handled by {scope.full_id})")
                self._leave_inside(scope.full_id, "failed", fault.source, "caught")
                return None
        self.log("error", fault.source, f"{fault.type}: {fault.message}")
        return End(ExecutionState.FAILED, fault.source, fault.message, fault)

    def _advance(self, data: DataStore | None = None) -> None:
        frame = self.position.frames[-1]
        if self.trail is not None:
            block = self.definition.block(frame.owner, frame.block)
            if frame.index < len(block):
                self._leave(block[frame.index].full_id, "completed", data)
        frame.index += 1

    # -- the element trail (history level `activity`) -------------------------------------------
    def _enter(self, element_id: str) -> None:
        iteration = next((f.iteration for f in reversed(self.position.frames) if f.iteration), None)
        self.position.entries += 1
        self.position.entered[element_id] = (clock.now_text(), iteration, self.position.entries)

    def _leave(self, element_id: str, outcome: str, data: DataStore | None = None) -> None:
        opened = self.position.entered.pop(element_id, None)
        if opened is not None and self.trail is not None:
            self.trail.append({"element_id": element_id, "entered_at": opened[0], "left_at": clock.now_text(),
                               "outcome": outcome, "iteration": opened[1], "seq": opened[2], "data": data})

    def _leave_inside(self, owner: str, outcome: str, source: str | None = None, source_outcome: str = "") -> None:
        """Close the visits of the elements inside `owner` that are left unfinished ("root": all)."""
        if self.trail is None:
            return
        prefix = f"{owner}."
        inside = [e for e in self.position.entered if owner == "root" or e.startswith(prefix)]
        for element_id in reversed(inside):  # innermost first, as they are left
            self._leave(element_id, source_outcome if element_id == source and source_outcome else outcome)

    def close_trail(self, state: ExecutionState, source: str | None = None) -> None:
        """At the end: what is still open is left as the process ends (an endElement completed)."""
        outcome = {ExecutionState.FINISHED: "completed", ExecutionState.FAILED: "failed"}.get(state, "terminated")
        if source is not None and source in self.position.entered and state == ExecutionState.FINISHED:
            self._leave(source, "completed")
        self._leave_inside("root", outcome)

    def _close_block(self, frame: Frame) -> Outcome | None:
        if frame.owner == "root":
            return End(ExecutionState.FINISHED, self.current_element)
        owner = self.definition.elements[frame.owner]
        if isinstance(owner, el.While):
            return self._loop_while(owner, frame)
        if isinstance(owner, el.ForEach):
            return self._loop_for_each(owner, frame)
        self.position.frames.pop()
        if frame.block == "onTerminate" and self.position.terminating is not None:
            return self._unwind_terminate()
        self._advance()
        return None

    def _unwind_terminate(self) -> End | None:
        frames = self.position.frames
        for depth in range(len(frames) - 1, -1, -1):
            frame = frames[depth]
            scope = self.definition.elements.get(frame.owner)
            if isinstance(scope, el.Scope) and scope.on_terminate is not None and frame.block in ("body", "onError"):
                del frames[depth + 1:]
                frame.block, frame.index = "onTerminate", 0
                self._leave_inside(scope.full_id, "terminated")
                return None
        request = self.position.terminating
        state = ExecutionState.FAILED if request.fail else ExecutionState.TERMINATED
        return End(state, self.current_element, request.message or "terminated")

    def _loop_while(self, element: el.While, frame: Frame) -> None:
        if element.test.boolean(self):
            if element.max_iterations is not None and frame.iteration >= element.max_iterations:
                self.position.frames.pop()
                raise_at = Fault("MaxIterationsExceeded",
                                 f"loop ran {element.max_iterations} times and its test still holds",
                                 element.full_id)
                return self.fail(raise_at)
            frame.iteration += 1
            frame.index = 0
            return None
        self.position.frames.pop()
        self._advance()
        return None

    def _loop_for_each(self, element: el.ForEach, frame: Frame) -> None:
        if frame.items is not None and frame.iteration < len(frame.items):
            self.pipeline.set(element.var, [frame.items[frame.iteration]])
            frame.iteration += 1
            frame.index = 0
            return None
        self.position.frames.pop()
        self._advance()
        return None

    # -- process log ----------------------------------------------------------------------------
    def log(self, level: str, element: str | None, message: str) -> None:
        wanted = self.log_settings.get("diagnosticLevel", "info")
        if level == "trace" and not self.log_settings.get("trace"):
            return
        if level != "trace" and LOG_LEVELS.index(level) > LOG_LEVELS.index(wanted):
            return
        self.log_entries.append((clock.now(), level, element, message))

    def describe_values(self, values: list[Value]) -> str:
        mode = self.log_settings.get("dataLevel", "none")
        if mode == "full":
            return ", ".join(repr(v.text) for v in values)
        return f"{len(values)} value(s)"

    # -- calls ----------------------------------------------------------------------------------
    def _finish_call(self, element_id: str, child: "ChildResult | None") -> End | None:
        element = self.definition.elements[element_id]
        try:
            if child is None:
                raise Fault("CallFailed", "the child process is gone")
            if child.state != ExecutionState.FINISHED:
                raise Fault("CallFailed", f"child process {child.execution_id} ended {child.state.value}"
                            + (f": {child.message}" if child.message else ""), element_id, child.fault)
            child_scope = _ChildScope(self, child.pipeline)
            for mapping in element.outputs:
                self.pipeline.set(mapping.name, _mapped_values(mapping, child_scope, self.pipeline))
        except Fault as fault:
            return self.fail(fault.at(element_id))
        self._advance()
        return None


@dataclass
class ChildResult:
    execution_id: str
    state: ExecutionState
    message: str | None
    fault: Fault | None
    pipeline: DataStore


class _ChildScope:
    """Expressions of `out` mappings read the child's end pipeline, and the parent's constants."""

    def __init__(self, parent: Run, pipeline: DataStore) -> None:
        self.parent, self.pipeline = parent, pipeline

    def entry(self, name: str) -> tuple[Value, ...] | None:
        return self.pipeline.get(name) if name in self.pipeline else None

    def constant(self, name: str) -> tuple[Value, ...]:
        return self.parent.constant(name)

    def attribute(self, name: str) -> str:
        return self.parent.attribute(name)

    def info(self, name: str) -> str:
        return self.parent.info(name)


def _mapped_values(mapping: el.Mapping, scope: Any, target: DataStore) -> list[Value]:
    if mapping.select is not None:
        return mapping.select.values(scope, None, target.new_id)
    return [mapping.literal] if mapping.literal is not None else []


def _render(template: Template | Expression | None, run: Run) -> str | None:
    if template is None:
        return None
    return template.string(run) if isinstance(template, Expression) else template.render(run)


# -- element handlers: each runs one element and returns None or an outcome ----------------------
def _start(run: Run, element: el.StartElement) -> None:
    run._advance()


def _end(run: Run, element: el.EndElement) -> End:
    return End(element.state, element.full_id, _render(element.message, run))


def _assign(run: Run, element: el.Assign) -> None:
    if element.select is not None:
        values = element.select.values(run, element.type, run.pipeline.new_id)
    else:
        values = [element.literal]
    if element.append:
        run.pipeline.append(element.name, values)
    else:
        run.pipeline.set(element.name, values)
    if run.log_settings.get("trace"):
        run.log("trace", element.full_id, f"{element.name} = {run.describe_values(values)}")
    # History level `full`: the entry as this assign left it, in a data store of its own.
    run._advance(DataStore.of({element.name: run.pipeline.get(element.name)}) if run.trail_data else None)


def _remove(run: Run, element: el.Remove) -> None:
    run.pipeline.remove(element.name)
    run._advance()


def _if(run: Run, element: el.If) -> None:
    run.position.frames.append(Frame(element.full_id, "then" if element.test.boolean(run) else "else"))


def _while(run: Run, element: el.While) -> None:
    frame = Frame(element.full_id, "body")
    run.position.frames.append(frame)
    frame.index = len(element.body)  # closing the (empty) block runs the test
    return run._loop_while(element, frame)


def _for_each(run: Run, element: el.ForEach) -> None:
    items = element.select.values(run, None, run.pipeline.new_id)
    frame = Frame(element.full_id, "body", len(element.body), 0, items)
    run.position.frames.append(frame)
    return run._loop_for_each(element, frame)


def _scope(run: Run, element: el.Scope) -> None:
    run.position.frames.append(Frame(element.full_id, "body"))


def _wait(run: Run, element: el.Wait) -> Suspend | None:
    due = _due(run, element)
    if due is not None and due <= clock.now():
        run._advance()
        return None
    run.position.at = Suspension("wait", element.full_id)
    return Suspend("timer" if due is not None else "signal", element.full_id, due)


def _due(run: Run, element: el.Wait) -> datetime | None:
    try:
        if element.duration is not None:
            return clock.now() + clock.parse_duration(element.duration.render(run))
        if element.until is not None:
            return clock.parse_timestamp(element.until.render(run))
    except (ValueError, OverflowError) as exc:
        raise Fault("InvalidTimer", str(exc)) from None
    return None


def _fail(run: Run, element: el.Fail) -> None:
    raise Fault(element.error_type, _render(element.message, run) or "the process failed", element.full_id)


def _call(run: Run, element: el.Call) -> Suspend:
    params = DataStore()
    for mapping in element.inputs:
        params.set(mapping.name, _mapped_values(mapping, run, params))
    uri = run.load_child(element.process_uri)
    run.position.at = Suspension("child", element.full_id)
    return Suspend("child", element.full_id, child_uri=uri, child_params=params)


def _invoke(run: Run, element: el.Invoke) -> None:
    module = run.modules.get(element.module)
    operation = module.operations.get(element.operation) if module is not None else None
    if operation is None:
        raise Fault("ModuleNotFound", f"module {element.module!r} with operation {element.operation!r} is not installed")
    params = {m.name: tuple(_mapped_values(m, run, run.pipeline)) for m in element.params}
    context = InvokeContext(run.info.execution_id, element.full_id, run.info.current_user, run.pipeline.new_id)
    try:
        result = operation.function(context, params)
    except Fault:
        raise
    except Exception as exc:  # a module's own bug must fail the process, not the engine
        raise Fault("ModuleError", f"{element.module}.{element.operation}: {type(exc).__name__}: {exc}") from None
    if element.result is not None:
        values = [] if result is None else list(result) if isinstance(result, (list, tuple)) else [result]
        run.pipeline.set(element.result, values)
    run._advance()


def _log(run: Run, element: el.Log) -> None:
    run.log(element.level, element.full_id, _render(element.message, run) or "")
    run._advance()


_HANDLERS: dict[type, Callable[[Run, Any], Outcome | None]] = {
    el.StartElement: _start, el.EndElement: _end, el.Assign: _assign, el.Remove: _remove, el.If: _if,
    el.While: _while, el.ForEach: _for_each, el.Scope: _scope, el.Wait: _wait, el.Fail: _fail,
    el.Call: _call, el.Invoke: _invoke, el.Log: _log,
}

