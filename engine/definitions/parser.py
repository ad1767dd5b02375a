"""IPD parser: XML bytes → `Definition`, or InvalidDefinition naming line and column.

Three gates, in order: the hardened XML parser (well-formedness, no DTD), the XSD of the language
(`process-definition.xsd`, beside this module), then the checks an XSD cannot make — unique ids among siblings,
expressions that compile, durations and timestamps that parse, literals that fit their type, modules
and operations that exist.
"""
from __future__ import annotations

from typing import Any, Callable, Mapping as MappingType

from lxml import etree

from ..support.clock import parse_duration, parse_timestamp
from ..model.datastore import XML, DataStore, Value, kind_of, make_value
from ..errors import InvalidDataStore, InvalidDefinition
from ..support.safexml import XmlError, parse, position_of
from ..model.states import ExecutionState
from . import elements as el
from .expressions import Expression, ExpressionSyntaxError, Template
from .xsd import SchemaViolation, process_definition, validate

NS = "http://www.infinica.com/process-engine"
_TAG = "{%s}%%s" % NS


def parse_definition(source: bytes, uri: str | None = None,
                     modules: MappingType[str, Any] | None = None) -> el.Definition:
    try:
        root = parse(source)
    except XmlError as exc:
        raise InvalidDefinition(exc.message, exc.line, exc.column, uri) from None
    if root.tag != _TAG % "process":
        line, column = position_of(root, source) or (root.sourceline, None)
        raise InvalidDefinition(f"the root element must be <process xmlns=\"{NS}\">, not <{etree.QName(root).localname}>",
                                line, column, uri)
    try:
        validate(root, process_definition())
    except SchemaViolation as exc:
        found = position_of(exc.element, source) if exc.element is not None else None
        line, column = found or (exc.line, None)
        raise InvalidDefinition(exc.message, line, column, uri) from None
    return _Builder(source, uri, modules).build(root)


class _Builder:
    def __init__(self, source: bytes, uri: str | None, modules: MappingType[str, Any] | None) -> None:
        self.source, self.uri, self.modules = source, uri, modules
        self.elements: dict[str, el.Element] = {}
        self.parents: dict[str, tuple[str, str, int]] = {}
        self.order: list[str] = []

    def error(self, node: etree._Element, message: str) -> InvalidDefinition:
        line, column = position_of(node, self.source) or (node.sourceline, None)
        return InvalidDefinition(message, line, column, self.uri)

    def build(self, root: etree._Element) -> el.Definition:
        children = _children(root)
        parameters = self.parameters(_first(children, "parameters"))
        constants, overridable = self.constants(_first(children, "constants"))
        steps = [c for c in children if etree.QName(c).localname not in ("parameters", "constants")]
        body = self.block(steps, "root", "body")
        in_document_order = {full_id: self.elements[full_id] for full_id in self.order}
        return el.Definition(root.get("name"), parameters, constants, overridable, body,
                             in_document_order, self.parents)

    # -- declarations --------------------------------------------------------------------------
    def parameters(self, node: etree._Element | None) -> tuple[el.ParameterDecl, ...]:
        decls: dict[str, el.ParameterDecl] = {}
        for item in _children(node) if node is not None else []:
            name, ctype = item.get("name"), item.get("type", "text/plain")
            if name in decls:
                raise self.error(item, f"parameter {name!r} is declared twice")
            has_default = bool(_children(item)) or bool(item.text)
            default = self.literal(item, ctype) if has_default else None
            decls[name] = el.ParameterDecl(name, ctype, _bool(item.get("required")), default)
        return tuple(decls.values())

    def constants(self, node: etree._Element | None) -> tuple[DataStore, frozenset[str]]:
        store, fixed = DataStore(), set()
        for item in _children(node) if node is not None else []:
            name = item.get("name")
            if name in store:
                raise self.error(item, f"constant {name!r} is declared twice")
            store.set(name, [self.literal(item, item.get("type", "text/plain"))])
            if item.get("overridable") in ("false", "0"):
                fixed.add(name)
        overridable = frozenset(n for n in store if n not in fixed)
        return store, overridable

    def literal(self, node: etree._Element, content_type: str | None) -> Value:
        """The content of `node` as one value: an XML element, or its text."""
        kids = _children(node)
        if len(kids) > 1:
            raise self.error(node, "literal content holds at most one XML element")
        if kids and ((node.text or "").strip() or any((k.tail or "").strip() for k in node)):
            raise self.error(node, "literal content is either text or one XML element, not both")
        content: Any = kids[0] if kids else (node.text or "")
        if kids and content_type is not None and kind_of(content_type) != XML:
            raise self.error(node, f"an XML element cannot be content of type {content_type}")
        try:
            return make_value("1", content_type or ("text/xml" if kids else "text/plain"), content)
        except InvalidDataStore as exc:
            raise self.error(node, exc.message) from None

    # -- steps ---------------------------------------------------------------------------------
    def block(self, nodes: list[etree._Element], owner: str, block: str) -> el.Block:
        prefix = "root" if owner == "root" else owner
        seen: set[str] = set()
        built = []
        for index, node in enumerate(nodes):
            ident = node.get("id")
            if ident in seen:
                raise self.error(node, f"id {ident!r} is used twice in the same block")
            seen.add(ident)
            full_id = f"{prefix}.{ident}"
            self.parents[full_id] = (owner, block, index)
            self.order.append(full_id)
            element = _BUILDERS[etree.QName(node).localname](self, node, full_id)
            self.elements[full_id] = element
            built.append(element)
        return tuple(built)

    def sub_block(self, node: etree._Element | None, owner: str, name: str) -> el.Block | None:
        return None if node is None else self.block(_children(node), owner, name)

    def expression(self, node: etree._Element, attribute: str, as_boolean: bool = False) -> Expression | None:
        text = node.get(attribute)
        if text is None:
            return None
        try:
            return Expression(text, dict(node.nsmap), as_boolean=as_boolean)
        except ExpressionSyntaxError as exc:
            raise self.error(node, f"attribute {attribute}: {exc}") from None

    def template(self, node: etree._Element, attribute: str | None,
                 check: Callable[[str], Any] | None = None) -> Template | None:
        text = node.get(attribute) if attribute else node.text
        if text is None:
            return None
        try:
            template = Template(text, dict(node.nsmap))
            if check is not None and template.static is not None:
                check(template.static)
        except (ExpressionSyntaxError, ValueError) as exc:
            raise self.error(node, f"{'attribute ' + attribute if attribute else 'text'}: {exc}") from None
        return template

    def mappings(self, node: etree._Element, tag: str) -> tuple[el.Mapping, ...]:
        found = []
        for item in _children(node):
            if etree.QName(item).localname == tag:
                select = self.expression(item, "select")
                literal = None if select is not None else self.literal(item, item.get("type"))
                found.append(el.Mapping(item.get("name"), select, literal))
        return tuple(found)


def _start(b: _Builder, node: etree._Element, full_id: str) -> el.Element:
    return el.StartElement(node.get("id"), full_id, node.sourceline)


def _end(b: _Builder, node: etree._Element, full_id: str) -> el.Element:
    return el.EndElement(node.get("id"), full_id, node.sourceline,
                         ExecutionState(node.get("state", "FINISHED")), b.template(node, "message"))


def _assign(b: _Builder, node: etree._Element, full_id: str) -> el.Element:
    select = b.expression(node, "select")
    if select is not None and (_children(node) or (node.text or "").strip()):
        raise b.error(node, "assign takes select or literal content, not both")
    literal = None if select is not None else b.literal(node, node.get("type"))
    return el.Assign(node.get("id"), full_id, node.sourceline, node.get("name"), select, literal,
                     node.get("type"), _bool(node.get("append")))


def _remove(b: _Builder, node: etree._Element, full_id: str) -> el.Element:
    return el.Remove(node.get("id"), full_id, node.sourceline, node.get("name"))


def _if(b: _Builder, node: etree._Element, full_id: str) -> el.Element:
    kids = {etree.QName(k).localname: k for k in _children(node)}
    return el.If(node.get("id"), full_id, node.sourceline, b.expression(node, "test", as_boolean=True),
                 b.sub_block(kids["then"], full_id, "then") or (),
                 b.sub_block(kids.get("else"), full_id, "else") or ())


def _while(b: _Builder, node: etree._Element, full_id: str) -> el.Element:
    limit = node.get("maxIterations")
    return el.While(node.get("id"), full_id, node.sourceline, b.expression(node, "test", as_boolean=True),
                    int(limit) if limit else None, b.block(_children(node), full_id, "body"))


def _for_each(b: _Builder, node: etree._Element, full_id: str) -> el.Element:
    return el.ForEach(node.get("id"), full_id, node.sourceline, b.expression(node, "select"),
                      node.get("var"), b.block(_children(node), full_id, "body"))


def _wait(b: _Builder, node: etree._Element, full_id: str) -> el.Element:
    if node.get("duration") is not None and node.get("until") is not None:
        raise b.error(node, "a wait takes duration or until, not both")
    return el.Wait(node.get("id"), full_id, node.sourceline, b.template(node, "duration", parse_duration),
                   b.template(node, "until", parse_timestamp))


def _fail(b: _Builder, node: etree._Element, full_id: str) -> el.Element:
    return el.Fail(node.get("id"), full_id, node.sourceline, b.template(node, "message"),
                   node.get("type", "ProcessFailure"))


def _scope(b: _Builder, node: etree._Element, full_id: str) -> el.Element:
    kids = _children(node)
    handlers = {etree.QName(k).localname: k for k in kids
                if etree.QName(k).localname in ("onError", "onTerminate")}
    steps = [k for k in kids if etree.QName(k).localname not in handlers]
    return el.Scope(node.get("id"), full_id, node.sourceline, b.block(steps, full_id, "body"),
                    b.sub_block(handlers.get("onError"), full_id, "onError"),
                    b.sub_block(handlers.get("onTerminate"), full_id, "onTerminate"))


def _call(b: _Builder, node: etree._Element, full_id: str) -> el.Element:
    return el.Call(node.get("id"), full_id, node.sourceline, node.get("processUri"),
                   b.mappings(node, "in"), b.mappings(node, "out"))


def _invoke(b: _Builder, node: etree._Element, full_id: str) -> el.Element:
    module, operation = node.get("module"), node.get("operation")
    if b.modules is not None:
        if module not in b.modules:
            raise b.error(node, f"unknown module {module!r} (installed: {', '.join(sorted(b.modules)) or 'none'})")
        operations = b.modules[module].operations
        if operation not in operations:
            raise b.error(node, f"module {module!r} has no operation {operation!r} "
                                f"(it has: {', '.join(sorted(operations))})")
    return el.Invoke(node.get("id"), full_id, node.sourceline, module, operation,
                     b.mappings(node, "param"), node.get("result"))


def _log(b: _Builder, node: etree._Element, full_id: str) -> el.Element:
    message = b.expression(node, "select") or b.template(node, None)
    return el.Log(node.get("id"), full_id, node.sourceline, node.get("level", "info"), message)


_BUILDERS: dict[str, Callable[[_Builder, etree._Element, str], el.Element]] = {
    "startElement": _start, "endElement": _end, "assign": _assign, "remove": _remove, "if": _if,
    "while": _while, "forEach": _for_each, "wait": _wait, "fail": _fail, "scope": _scope,
    "call": _call, "invoke": _invoke, "log": _log,
}


def _children(node: etree._Element) -> list[etree._Element]:
    return [c for c in node if isinstance(c.tag, str)]


def _first(nodes: list[etree._Element], name: str) -> etree._Element | None:
    return next((n for n in nodes if etree.QName(n).localname == name), None)


def _bool(text: str | None) -> bool:
    return text in ("true", "1")
