"""XPath 1.0 expressions through lxml, with pipeline entries as variables (CONTRACT §7).

Every entry is bound as a node-set: one `<value>` element per text or binary value (its string value is
the text, or the base64 of the bytes) and the root element of each XML value, so `$amount > 100`,
`count($items)`, `$order/item` and `concat('Hi ', $name)` all read naturally. Values keep their
identity through an expression: `select="$a"` yields the very values of entry `a`, shared, not copies.

Only the XPath 1.0 core library, the engine's own functions and lxml's EXSLT date functions are
reachable; there is no function that runs Python, reads a file or opens a connection, and EXSLT
regular expressions are switched off.
"""
from __future__ import annotations

import re
import threading
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, Callable, Protocol

from lxml import etree

from ..support.clock import format_timestamp
from ..model.datastore import XML, Value, kind_of, make_value
from ..faults import Fault

FUNCTIONS = "http://www.infinica.com/process-engine/functions"
DEFAULT_PREFIX = "pe"
_VARIABLE = re.compile(r"\$([A-Za-z_][\w.\-]*)")
_FUNCTION_CALL = re.compile(r"(?<![\w.$:-])([A-Za-z_][\w.\-]*):([A-Za-z_][\w.\-]*)\s*\(")
_QNAME = re.compile(r"(?<![\w.$:-])([A-Za-z_][\w.\-]*):(?=[A-Za-z_*])")
_STRINGS = re.compile(r"'[^']*'|\"[^\"]*\"")

_active = threading.local()


class Scope(Protocol):
    """What an expression may see of the running instance."""

    def entry(self, name: str) -> tuple[Value, ...] | None: ...
    def constant(self, name: str) -> tuple[Value, ...]: ...
    def attribute(self, name: str) -> str: ...
    def info(self, name: str) -> str: ...


class ExpressionSyntaxError(Exception):
    pass


def _function(name: str) -> Callable[..., Any]:
    def call(_context: Any, *args: Any) -> Any:
        return _FUNCTIONS_IMPL[name](_active.evaluation, *[_string(a) for a in args])
    return call


def _string(arg: Any) -> str:
    """XPath string() of a function argument, as lxml hands arguments over."""
    if isinstance(arg, list):
        if not arg:
            return ""
        arg = arg[0]
        return arg if isinstance(arg, str) else "".join(arg.itertext())
    if isinstance(arg, bool):
        return "true" if arg else "false"
    if isinstance(arg, float):
        return format_number(arg)
    return str(arg)


_FUNCTIONS_IMPL: dict[str, Callable[..., Any]] = {
    "constant": lambda ev, name: ev.nodes(ev.scope.constant(name)),
    "entry": lambda ev, name: ev.nodes(ev.scope.entry(name) or ()),
    "hasEntry": lambda ev, name: ev.scope.entry(name) is not None,
    "attribute": lambda ev, name: ev.scope.attribute(name),
    "currentTime": lambda ev: format_timestamp(datetime.now(timezone.utc)),
    "executionId": lambda ev: ev.scope.info("executionId"),
    "externalId": lambda ev: ev.scope.info("externalId"),
    "processUri": lambda ev: ev.scope.info("processUri"),
    "owner": lambda ev: ev.scope.info("owner"),
    "currentUser": lambda ev: ev.scope.info("currentUser"),
}
_EXTENSIONS = {(FUNCTIONS, name): _function(name) for name in _FUNCTIONS_IMPL}
_ARITY = {"constant": 1, "entry": 1, "hasEntry": 1, "attribute": 1, "currentTime": 0, "executionId": 0,
          "externalId": 0, "processUri": 0, "owner": 0, "currentUser": 0}
_NODE_FUNCTIONS = {"constant", "entry"}


def _argument_count(code: str, start: int) -> int:
    """Arguments of the call whose '(' ends just before `start` (string literals blanked out)."""
    depth, commas, seen = 1, 0, False
    for char in code[start:]:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                break
        elif char == "," and depth == 1:
            commas += 1
        if not char.isspace() and depth >= 1 and char != ",":
            seen = True
    return commas + 1 if seen or commas else 0


def format_number(number: float) -> str:
    """XPath's string() of a number: no exponent, no trailing `.0`."""
    if number != number:
        return "NaN"
    if number in (float("inf"), float("-inf")):
        return "Infinity" if number > 0 else "-Infinity"
    if number == int(number) and abs(number) < 1e21:
        return str(int(number))
    text = format(Decimal(repr(number)), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


class Evaluation:
    """One evaluation: the scope, and the nodes standing for values so results map back to them."""

    __slots__ = ("scope", "origin", "keep", "_root")

    def __init__(self, scope: Scope) -> None:
        self.scope = scope
        self.origin: dict[int, Value] = {}
        self.keep: list[etree._Element] = []
        self._root: etree._Element | None = None

    @property
    def root(self) -> etree._Element:
        # lxml copies variable nodes that live in another document than the context node, which would
        # lose their identity; so every node of one evaluation lives under one context element.
        if self._root is None:
            self._root = etree.Element("context")
        return self._root

    def context(self) -> etree._Element:
        """The context node: ours once nodes exist, else a shared empty one of this thread."""
        if self._root is not None:
            return self._root
        shared = getattr(_active, "context", None)
        if shared is None:
            shared = _active.context = etree.Element("context")
        return shared

    def nodes(self, values: tuple[Value, ...]) -> list[etree._Element]:
        nodes = []
        for value in values:
            if value.kind == XML:
                node = value.element()
                self.root.append(node)
            else:
                node = etree.SubElement(self.root, "value")
                node.text = value.text
            self.origin[id(node)] = value
            self.keep.append(node)
            nodes.append(node)
        return nodes


class Expression:
    """A compiled XPath expression; compiled once per thread, since lxml serialises a shared one."""

    def __init__(self, source: str, namespaces: dict[str, str], *, as_boolean: bool = False) -> None:
        self.source = source
        self.namespaces = {p: u for p, u in namespaces.items() if p}
        self.namespaces.setdefault(DEFAULT_PREFIX, FUNCTIONS)
        self.text = f"boolean({source})" if as_boolean else source
        self.variables = tuple(dict.fromkeys(_VARIABLE.findall(source)))
        self.makes_nodes = False  # calls a function that hands back entry or constant values as nodes
        self._local = threading.local()
        self._check()

    def _check(self) -> None:
        """What lxml only finds while evaluating: unknown prefixes, unknown functions, wrong arity."""
        code = _STRINGS.sub(lambda m: "x" * len(m.group()), self.source)  # literals: opaque, not empty
        for match in _QNAME.finditer(code):
            prefix = match.group(1)
            if prefix not in self.namespaces:
                raise ExpressionSyntaxError(f"undeclared namespace prefix {prefix!r} in {self.source!r}")
        for match in _FUNCTION_CALL.finditer(code):
            prefix, name = match.group(1), match.group(2)
            if self.namespaces.get(prefix) != FUNCTIONS:
                continue
            if name not in _FUNCTIONS_IMPL:
                raise ExpressionSyntaxError(f"unknown function {prefix}:{name}() in {self.source!r}")
            given, wanted = _argument_count(code, match.end()), _ARITY[name]
            if given != wanted:
                raise ExpressionSyntaxError(f"{prefix}:{name}() takes {wanted} argument(s), not {given}, "
                                            f"in {self.source!r}")
            if name in _NODE_FUNCTIONS:
                self.makes_nodes = True
        self._compiled()

    def _compiled(self) -> etree.XPath:
        compiled = getattr(self._local, "xpath", None)
        if compiled is None:
            try:
                compiled = etree.XPath(self.text, namespaces=self.namespaces, extensions=_EXTENSIONS,
                                       regexp=False, smart_strings=False)
            except etree.XPathSyntaxError as exc:
                raise ExpressionSyntaxError(f"invalid XPath expression {self.source!r}: {exc}") from None
            self._local.xpath = compiled
        return compiled

    def evaluate(self, scope: Scope, evaluation: Evaluation | None = None) -> Any:
        evaluation = evaluation or Evaluation(scope)
        bound = {}
        for name in self.variables:
            values = scope.entry(name)
            if values is not None:
                bound[name] = evaluation.nodes(values)
        previous = getattr(_active, "evaluation", None)
        _active.evaluation = evaluation
        context = evaluation.root if self.makes_nodes else evaluation.context()
        try:
            return self._compiled()(context, **bound)
        except etree.XPathError as exc:
            raise Fault("ExpressionError", self._explain(exc, bound)) from None
        except Fault:
            raise
        finally:
            _active.evaluation = previous

    def _explain(self, exc: Exception, bound: dict[str, Any]) -> str:
        missing = [v for v in self.variables if v not in bound]
        if "Undefined variable" in str(exc) and missing:
            return f"{self.source!r} refers to ${', $'.join(missing)}, which the pipeline does not hold"
        return f"{self.source!r}: {exc}"

    def boolean(self, scope: Scope) -> bool:
        return bool(self.evaluate(scope))

    def string(self, scope: Scope) -> str:
        return _string(self.evaluate(scope))

    def values(self, scope: Scope, content_type: str | None, new_id: Callable[[], str]) -> list[Value]:
        """The result as pipeline values: nodes that stand for values are those values, shared."""
        evaluation = Evaluation(scope)
        result = self.evaluate(scope, evaluation)
        items = result if isinstance(result, list) else [result]
        return [_to_value(item, evaluation, content_type, new_id) for item in items]


def _to_value(item: Any, evaluation: Evaluation, content_type: str | None, new_id: Callable[[], str]) -> Value:
    if content_type in (None, "text/plain") and not isinstance(item, etree._Element):
        # Plain results of XPath over valid XML text are valid XML text: no checks needed.
        return Value(new_id(), "text/plain", item if isinstance(item, str) else _string(item))
    original = evaluation.origin.get(id(item)) if isinstance(item, etree._Element) else None
    if original is not None and content_type in (None, original.type):
        return original
    if isinstance(item, etree._Element):
        if original is not None and original.kind != XML:
            item = original.text
        elif content_type is None or kind_of(content_type) == XML:
            return make_value(new_id(), content_type or "text/xml", item)
        else:
            item = "".join(item.itertext())
    target = content_type or "text/plain"
    text = _string(item)
    try:
        return make_value(new_id(), target, text)
    except Exception as exc:  # InvalidDataStore: a result that does not fit the requested type
        raise Fault("ExpressionError", f"result cannot be stored as {target}: {exc}") from None


class Template:
    """An attribute value template: literal text with `{expression}` parts, `{{` and `}}` escaped."""

    def __init__(self, source: str, namespaces: dict[str, str]) -> None:
        self.source = source
        self.parts: list[str | Expression] = []
        for literal, expr in _split_template(source):
            if literal:
                self.parts.append(literal)
            if expr is not None:
                self.parts.append(Expression(expr, namespaces))

    @property
    def static(self) -> str | None:
        """The text when there is no expression in it, else None."""
        if all(isinstance(p, str) for p in self.parts):
            return "".join(self.parts)  # type: ignore[arg-type]
        return None

    def render(self, scope: Scope) -> str:
        return "".join(p if isinstance(p, str) else p.string(scope) for p in self.parts)


def _split_template(source: str) -> list[tuple[str, str | None]]:
    out, literal, i = [], [], 0
    while i < len(source):
        char = source[i]
        if char in "{}" and source[i:i + 2] in ("{{", "}}"):
            literal.append(char)
            i += 2
        elif char == "{":
            end = source.find("}", i)
            if end < 0:
                raise ExpressionSyntaxError(f"unclosed '{{' in {source!r}")
            out.append(("".join(literal), source[i + 1:end]))
            literal, i = [], end + 1
        elif char == "}":
            raise ExpressionSyntaxError(f"single '}}' in {source!r} (write '}}}}')")
        else:
            literal.append(char)
            i += 1
    out.append(("".join(literal), None))
    return out


