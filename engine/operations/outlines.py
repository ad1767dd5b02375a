"""Outlines of definitions, for the console's diagrams (issue 18; beyond the spec, REST only): the
element tree of a definition, and where an instance stands in it.

The outline of a definition needs what `validate` needs; an instance's needs `read` on it, and shows
its breakpoints, its current element, the elements its history trail has, the live processes its calls
started and its open watchers (which `setBreakpoint`, `startProcess`, `getHistory` and `deleteWatcher`
then act on).
"""
from __future__ import annotations

from dataclasses import replace

from ..definitions import elements as el
from ..definitions.elements import Block, Definition, Element
from ..model.results import Outline, OutlineElement, ParameterInfo
from ..model.states import Privilege
from ..runtime.node import ProcessEngine
from ..security.authorization import Principal
from ..storage import codec, history as trails, instances as store, watchers as watcher_rows
from ..support import jsontext
from .lifecycle_management import load_for_caller
from .shared import definition_of, load

CHILDREN_SHOWN = 100  # a forEach over calls may start thousands: the diagram lists the first
KINDS = {el.StartElement: "startElement", el.EndElement: "endElement", el.Assign: "assign", el.Remove: "remove",
         el.If: "if", el.While: "while", el.ForEach: "forEach", el.Wait: "wait", el.Fail: "fail", el.Scope: "scope",
         el.Call: "call", el.Invoke: "invoke", el.Log: "log"}


def outline_definition(pe: ProcessEngine, principal: Principal, process_uri: str) -> Outline:
    loaded = load_for_caller(pe, principal, process_uri, True, None)
    return _outline(loaded.uri, loaded.definition)


def outline_instance(pe: ProcessEngine, principal: Principal, execution_id: str) -> Outline:
    with pe.db.unit_of_work(write=False) as uow:
        record = load(uow.conn, principal, execution_id, Privilege.READ, for_update=False)
        loaded = definition_of(pe, uow.conn, record)
        visits = [visit for trail in trails.trails_of(uow.conn, execution_id)
                  for visit in jsontext.loads(trail.visits)]
        children = tuple(store.children_of(uow.conn, execution_id, CHILDREN_SHOWN))
        # who may read the instance may read and delete its watchers (CONTRACT §8)
        watching = tuple((w.id, w.group_id, w.owner) for w in watcher_rows.open_watchers(uow.conn, execution_id))
    passed = tuple(dict.fromkeys(element_id for _, element_id, *_ in sorted(visits)))
    return replace(_outline(loaded.uri, loaded.definition), breakpoints=tuple(sorted(codec.loads(record.breakpoints, []))),
                   current=record.current_element, passed=passed, children=children, watchers=watching)


def _outline(uri: str, definition: Definition) -> Outline:
    parameters = tuple(ParameterInfo(p.name, p.type, p.required) for p in definition.parameters)
    return Outline(uri, definition.name, parameters, _block(definition.body))


def _block(block: Block) -> tuple[OutlineElement, ...]:
    return tuple(_element(element) for element in block)


def _element(element: Element) -> OutlineElement:
    blocks = []
    for name in element.blocks:
        try:
            blocks.append((name, _block(element.block(name))))
        except KeyError:  # a scope without onError or onTerminate
            continue
    return OutlineElement(element.id, element.full_id, KINDS.get(type(element), type(element).__name__),
                          element.line, _label(element), tuple(blocks))


def _label(element: Element) -> str:
    """What a reader of the diagram needs to tell the element from its neighbours."""
    source = lambda part: getattr(part, "source", None) or ""  # noqa: E731 (an Expression or Template)
    if isinstance(element, (el.Assign, el.Remove)):
        return element.name
    if isinstance(element, (el.If, el.While)):
        return source(element.test)
    if isinstance(element, el.ForEach):
        return f"{element.var} in {source(element.select)}"
    if isinstance(element, el.Wait):
        return f"for {source(element.duration)}" if element.duration else (
            f"until {source(element.until)}" if element.until else "for a signal")
    if isinstance(element, el.Call):
        return element.process_uri
    if isinstance(element, el.Invoke):
        return f"{element.module}.{element.operation}"
    if isinstance(element, el.Fail):
        return element.error_type
    if isinstance(element, el.EndElement):
        return element.state.value
    return ""
