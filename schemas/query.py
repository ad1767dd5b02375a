"""Query documents (CONTRACT §5, spec "Queries") in XML and JSON, read into and written from `engine.model.query`.

Both doors share this module so that a query means the same whichever door and form it came through. The
XSD and the marshmallow schemas check the shape; the rules neither can state (how many values an
operation takes, one sub node under `not`, at most one node in a query) live in `_param`, `_junction` and
`_query`, which both forms go through. Any fault raises `InvalidQuery` naming the part: "line L, column C:
..." for XML, a path such as `query.and.param[1].operation` for JSON. Values stay raw text; the engine
types them by `value_type` when it compiles the query.
"""
from __future__ import annotations

import json
import math
import re
from typing import Any, Callable

from lxml import etree
from marshmallow import RAISE, Schema, ValidationError, fields, validate

from engine.errors import InvalidQuery, shown
from engine.model.query import And, Node, Not, Or, Param, Query, QueryField, QueryOperation, SortCriterion
from engine.support.safexml import column_of
from schemas import xsd
from schemas.documents import is_xml, read_json, read_xml
from schemas.namespaces import DATASTORE, QUERY, qname

FIELDS = tuple(f.value for f in QueryField)
OPERATIONS = tuple(o.value for o in QueryOperation)
KINDS = ("and", "or", "not", "param")
DEFAULT_TYPE = "text/plain"
MAX_DEPTH = 64  # deeper query trees are refused: every consumer of the tree (SQL compiler too) recurses
MAX_COUNT = 2**63 - 1  # OFFSET and LIMIT are bigint in the database
COUNT = f"an integer from 0 to {MAX_COUNT}"
# How many values an operation takes: (min, max or None, as a message says it); the rest take one.
ARITY = {"isNull": (0, 0, "no value"), "in": (1, None, "at least one value")}
ONE = (1, 1, "exactly one value")
_KIND = {Param: "param", And: "and", Or: "or", Not: "not"}
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_COUNT = re.compile(r"\s*\+?0*([0-9]{1,19})\s*")
Where = Callable[[str], str]  # names a part of the node being read, for messages


# ---- rules both forms share ----------------------------------------------------------------------

def _param(field: Any, operation: Any, values: tuple[str, ...], value_type: Any, at: Where) -> Param:
    """A checked Param; the arity rules are here because neither XSD 1.0 nor marshmallow can say them."""
    _one_of(field, FIELDS, at("field"))
    _one_of(operation, OPERATIONS, at("operation"))
    low, high, wanted = ARITY.get(operation, ONE)
    if len(values) < low or (high is not None and len(values) > high):
        raise InvalidQuery(f"{at('values')}: {operation} takes {wanted}, found {len(values)}")
    if not isinstance(value_type, str) or not value_type.strip():
        raise InvalidQuery(f"{at('values.type')}: the content type must be a non-empty string")
    for text in (*values, value_type):  # both forms must carry every value; PostgreSQL text has no NUL
        if _NOT_XML.search(text):
            raise InvalidQuery(f"{at('values')}: {shown(text)} holds a character XML cannot carry")
    return Param(field, operation, tuple(values), value_type.strip())


def _one_of(name: Any, names: tuple[str, ...], where: str) -> None:
    if name not in names:
        raise InvalidQuery(f"{where}: {shown(name)} is not one of {', '.join(names)}")


def _junction(kind: str, nodes: tuple[Node, ...], at: Where) -> Node:
    if kind == "not":
        if len(nodes) != 1:
            raise InvalidQuery(f"{at('')}: not holds exactly one sub node, found {len(nodes)}")
        return Not(nodes[0])
    return And(nodes) if kind == "and" else Or(nodes)


def _query(nodes: list[Node], sort: tuple[SortCriterion, ...], offset: Any, limit: Any, at: Where) -> Query:
    if len(nodes) > 1:
        raise InvalidQuery(f"{at('')}: a query holds at most one node, found {len(nodes)}")
    for name, value in (("offset", offset), ("limit", limit)):
        if value is not None and _count(value) is None:
            raise InvalidQuery(f"{at(name)}: {shown(value)} is not {COUNT}")
    limit = None if limit is None else _count(limit)
    return Query(nodes[0] if nodes else None, sort, 0 if offset is None else _count(offset), limit)


def _criterion(field: Any, ascending: Any, at: Where) -> SortCriterion:
    _one_of(field, FIELDS, at("field"))
    if _flag(ascending) is None:
        raise InvalidQuery(f"{at('ascending')}: {shown(ascending)} is not a boolean")
    return SortCriterion(field, _flag(ascending))


def _count(value: Any) -> int | None:
    """A non-negative integer from a number or its text (input JSON may quote numbers); None if not one."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value if 0 <= value <= MAX_COUNT else None
    match = _COUNT.fullmatch(value) if isinstance(value, str) else None
    return int(match.group(1)) if match and int(match.group(1)) <= MAX_COUNT else None


def _flag(value: Any) -> bool | None:
    """A boolean, or its text as XSD writes it (any case, since JSON input may quote it); None if not one."""
    if isinstance(value, bool):
        return value
    return {"true": True, "1": True, "false": False, "0": False}.get(value.strip().lower()) \
        if isinstance(value, str) else None


def _text(value: Any) -> str | None:
    """A JSON comparison value: text, or a number or boolean taken as the text JSON writes for it."""
    if isinstance(value, str):
        return value
    if not isinstance(value, (int, float)) or (isinstance(value, float) and not math.isfinite(value)):
        return None
    try:
        return json.dumps(value)
    except ValueError:  # an int too long to write as text
        return None


# ---- dispatch ------------------------------------------------------------------------------------

def load(data: bytes | str | dict | etree._Element) -> Query:
    """Read a query document, telling XML from JSON by the document itself, as CONTRACT §2 asks."""
    if isinstance(data, etree._Element):
        return load_xml(data)
    if isinstance(data, dict):
        return load_json(data)
    if not isinstance(data, (bytes, str)):
        raise InvalidQuery(f"a query document is XML or JSON, not {type(data).__name__}")
    if is_xml(data):
        return load_xml(read_xml(data, InvalidQuery), data)
    return load_json(read_json(data, InvalidQuery))


# ---- XML -----------------------------------------------------------------------------------------

def load_xml(root: etree._Element, source: bytes | str | None = None) -> Query:
    """Read a parsed `query` element; `source`, the text it was parsed from, adds columns to messages."""
    if not isinstance(root, etree._Element) or root.tag != qname(QUERY, "query"):
        raise InvalidQuery(f"{_pos(root, source)}the root element must be query in namespace {QUERY}")
    try:
        xsd.validate(root, "query.xsd")
    except xsd.SchemaViolation as exc:
        element = exc.element if root.getparent() is None else None  # its path is wrong below a root
        where = _pos(element, source) if element is not None else (f"line {exc.line}: " if exc.line else "")
        raise InvalidQuery(where + _xsd_message(exc.message)) from None
    except etree.LxmlError as exc:  # xsd.validate cannot place an error whose path has a prefix
        log = xsd.schema("query.xsd").error_log
        why = re.sub(r"\{[^}]*\}", "", log[0].message) if len(log) else f"cannot validate the query: {exc}"
        raise InvalidQuery((f"line {log[0].line}: " if len(log) else "") + _xsd_message(why)) from None
    children = list(root.iterchildren(etree.Element))
    nodes = [_xml_node(c, source, 1) for c in children if etree.QName(c).localname in KINDS]
    sorts = [c for c in children if etree.QName(c).localname == "sort"]
    if len(sorts) > 1:
        raise InvalidQuery(f"{_pos(sorts[1], source)}a query holds at most one sort")
    criteria = sorts[0].iterchildren(etree.Element) if sorts else ()
    sort = tuple(_criterion(c.get("field"), c.get("ascending", "true"), _xml_at(c, source)) for c in criteria)
    return _query(nodes, sort, root.get("offset"), root.get("limit"), _xml_at(root, source))


def _xml_node(element: etree._Element, source: Any, depth: int) -> Node:
    if depth > MAX_DEPTH:
        raise InvalidQuery(f"{_pos(element, source)}query nodes nest at most {MAX_DEPTH} levels deep")
    kind = etree.QName(element).localname
    if kind == "param":
        holder = element.find(qname(QUERY, "values"))
        items = () if holder is None else holder.iterchildren(etree.Element)
        values = tuple(_xml_value(v, source) for v in items)
        value_type = DEFAULT_TYPE if holder is None else holder.get("type", DEFAULT_TYPE)
        return _param(element.get("field"), element.get("operation"), values, value_type,
                      _xml_at(element, source))
    nodes = tuple(_xml_node(c, source, depth + 1) for c in element.iterchildren(etree.Element))
    return _junction(kind, nodes, _xml_at(element, source))


def _xml_value(value: etree._Element, source: Any) -> str:
    """The text of one dat:value; the XSD only skips over the data store namespace, so check it here."""
    if value.tag != qname(DATASTORE, "value") or next(value.iterchildren(etree.Element), None) is not None:
        raise InvalidQuery(f"{_pos(value, source)}values holds only dat:value elements with text")
    return value.xpath("string()", smart_strings=False)


def _pos(element: Any, source: Any) -> str:
    line = getattr(element, "sourceline", None)
    column = column_of(element, source) if line is not None and source is not None else None
    return "" if line is None else f"line {line}, column {column}: " if column else f"line {line}: "


def _xml_at(element: etree._Element, source: Any) -> Where:
    name = etree.QName(element).localname
    return lambda part: f"{_pos(element, source)}{name}" + (f" {part}" if part else "")


def _xsd_message(message: str) -> str:
    """Say what is allowed in words: xsd.validate strips the set `{...}` from enumeration messages, and
    a client does not know our XSD's type names."""
    names = OPERATIONS if "attribute 'operation'" in message else FIELDS
    message = re.sub(r"\[facet 'enumeration'\] (.*) is not an element of the set.*$",
                     rf"\1 is not one of {', '.join(names)}", message)
    words = {"Count": COUNT, "xs:boolean": "a boolean (true, false, 1 or 0)"}
    return re.sub(r"is not a valid value of the atomic type '([^']*)'",
                  lambda m: f"is not {words.get(m[1], m[1])}", message)


def dump_xml(query: Query) -> etree._Element:
    """The XML form of a query; lxml raises ValueError for text XML cannot carry (never in a loaded one)."""
    root = etree.Element(qname(QUERY, "query"), nsmap={None: QUERY, "dat": DATASTORE})
    root.set("offset", str(query.offset))
    root.attrib.update({} if query.limit is None else {"limit": str(query.limit)})
    if query.tree is not None:
        _xml_dump(root, query.tree)
    if query.sort:
        sort = etree.SubElement(root, qname(QUERY, "sort"))
        for c in query.sort:
            etree.SubElement(sort, qname(QUERY, "criterion"), field=c.field,
                             ascending="true" if c.ascending else "false")
    return root


def _xml_dump(parent: etree._Element, node: Node) -> None:
    attrs = {"field": node.field, "operation": node.operation} if isinstance(node, Param) else {}
    element = etree.SubElement(parent, qname(QUERY, _KIND[type(node)]), attrs)
    if isinstance(node, Param):
        if node.values or node.value_type != DEFAULT_TYPE:
            holder = etree.SubElement(element, qname(QUERY, "values"), type=node.value_type)
            for text in node.values:
                etree.SubElement(holder, qname(DATASTORE, "value")).text = text
    else:
        for child in (node.node,) if isinstance(node, Not) else node.nodes:
            _xml_dump(element, child)


# ---- JSON ----------------------------------------------------------------------------------------

class _Repeated(fields.List):
    """A repeatable item: input may give a single one bare instead of an array of one (CONTRACT §2)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, list):
            return super()._deserialize(value, attr, data, **kwargs)
        return [self.inner.deserialize(value, **kwargs)]


class _Read(fields.Field):
    """A JSON scalar read by one of the readers both forms share; `what` says what it must be."""

    def __init__(self, reader: Callable[[Any], Any], what: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.reader, self.what = reader, what

    def _deserialize(self, value, attr, data, **kwargs):
        if (result := self.reader(value)) is None:
            raise ValidationError(f"{shown(value)} is not {self.what}")
        return result


class _Strict(Schema):
    class Meta:
        unknown = RAISE

    error_messages = {"type": "must be an object", "unknown": "unknown key"}


def _nodes() -> dict[str, fields.Field]:
    """and, or, not, param keys, left raw for `_json_nodes`, which walks them in key order."""
    return {kind: fields.Raw() for kind in KINDS}


def _name(names: tuple[str, ...]) -> fields.String:
    return fields.String(required=True, validate=validate.OneOf(names))


_STRING, _BOOLEAN = {"type": "string"}, {"type": "boolean"}
_COUNT_TYPE = {"type": "integer", "format": "int64", "minimum": 0}  # how the OpenAPI document types a count
_VALUES = _Strict.from_dict({
    "type": fields.String(load_default=DEFAULT_TYPE,
                          metadata={"description": "The values' content type, e.g. text/x-timestamp."}),
    "value": _Repeated(_Read(_text, "a string, a finite number or a boolean", metadata=_STRING),
                       load_default=list)}, name="ParamValues")
_PARAM = _Strict.from_dict({
    "field": _name(FIELDS), "operation": _name(OPERATIONS),
    "values": fields.Nested(_VALUES, load_default=lambda: {"type": DEFAULT_TYPE, "value": []})}, name="QueryParam")
_CRITERION = _Strict.from_dict({
    "field": _name(FIELDS), "ascending": _Read(_flag, "a boolean", load_default=True, metadata=_BOOLEAN)},
    name="SortCriterion")
_SORT = _Strict.from_dict({"criterion": _Repeated(fields.Nested(_CRITERION), load_default=list)}, name="QuerySort")
_NODES = _Strict.from_dict(_nodes())
_QUERY = _Strict.from_dict({
    **_nodes(), "sort": fields.Nested(_SORT, load_default=lambda: {"criterion": []}),
    "offset": _Read(_count, COUNT, load_default=0, metadata=_COUNT_TYPE),
    "limit": _Read(_count, COUNT, load_default=None, metadata=_COUNT_TYPE)})


def load_json(obj: Any) -> Query:
    """Read the JSON form, already parsed (`json.loads`): `{"query": {...}}`."""
    _check_depth(obj)
    if not isinstance(obj, dict) or list(obj) != ["query"]:
        raise InvalidQuery('a JSON query is an object with the single key "query"')
    data = _validated(_QUERY, obj["query"], "query")
    sort = tuple(SortCriterion(c["field"], c["ascending"]) for c in data["sort"]["criterion"])
    return _query(_json_nodes(obj["query"], "query", 1), sort, data["offset"], data["limit"],
                  lambda part: f"query.{part}" if part else "query")


def _json_nodes(body: dict, path: str, depth: int) -> list[Node]:
    """Sub nodes by key order, then array order: JSON cannot interleave kinds as XML can."""
    nodes = []
    for kind in [k for k in body if k in KINDS]:
        many = isinstance(body[kind], list)
        for i, item in enumerate(body[kind] if many else [body[kind]]):
            nodes.append(_json_node(kind, item, f"{path}.{kind}" + (f"[{i}]" if many else ""), depth))
    return nodes


def _json_node(kind: str, body: Any, path: str, depth: int) -> Node:
    if depth > MAX_DEPTH:
        raise InvalidQuery(f"{path}: query nodes nest at most {MAX_DEPTH} levels deep")
    at: Where = lambda part: f"{path}.{part}" if part else path  # noqa: E731
    if kind == "param":
        data = _validated(_PARAM, body, path)
        values = data["values"]
        return _param(data["field"], data["operation"], tuple(values["value"]), values["type"], at)
    _validated(_NODES, body, path)
    return _junction(kind, tuple(_json_nodes(body, path, depth + 1)), at)


def _validated(schema: type[Schema], body: Any, path: str) -> dict:
    try:
        return schema().load(body)
    except ValidationError as exc:
        raise InvalidQuery(_first_error(exc.messages, path)) from None


def _first_error(messages: Any, path: str) -> str:
    """marshmallow's nested messages as `path.to[1].part: why`, for the first failure."""
    while isinstance(messages, (dict, list)) and messages:
        if isinstance(messages, list):
            messages = messages[0]
            continue
        key, messages = next(iter(messages.items()))
        path += "" if key == "_schema" else f"[{key}]" if isinstance(key, int) else f".{key}"
    return f"{path}: {messages}"


def _check_depth(obj: Any) -> None:
    """Refuse deep nesting before anything recurses into it (marshmallow, the tree walk, dataclass eq)."""
    limit, stack = 2 * MAX_DEPTH + 8, [(obj, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            raise InvalidQuery(f"the JSON query nests more than {limit} levels deep")
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else ()
        stack.extend((child, depth + 1) for child in children)


def dump_json(query: Query) -> dict:
    """The JSON form: repeatables always arrays, numbers and booleans as JSON numbers and booleans."""
    body: dict[str, Any] = {}
    if query.tree is not None:
        body[_KIND[type(query.tree)]] = _json_dump(query.tree)
    if query.sort:
        body["sort"] = {"criterion": [{"field": c.field, "ascending": c.ascending} for c in query.sort]}
    body["offset"] = query.offset
    body.update({} if query.limit is None else {"limit": query.limit})
    return {"query": body}


def _json_dump(node: Node) -> dict:
    if isinstance(node, Param):
        out: dict[str, Any] = {"field": node.field, "operation": node.operation}
        if node.values or node.value_type != DEFAULT_TYPE:
            out["values"] = {"type": node.value_type, "value": list(node.values)}
        return out
    if isinstance(node, Not):
        return {_KIND[type(node.node)]: _json_dump(node.node)}
    grouped: dict[str, list] = {}
    for child in node.nodes:
        grouped.setdefault(_KIND[type(child)], []).append(_json_dump(child))
    return grouped


# ---- description ---------------------------------------------------------------------------------
# For the OpenAPI document: the JSON body of a query (under the key "query"), its tree typed through and
# through. The schemas that read a query leave the nodes raw (`_json_nodes` walks them in key order);
# these say what each node holds as `dump_json` writes it: one node (a query's, a not's) as an object with
# one key, the sub nodes of and/or as arrays by kind.

def _node_fields(many: bool) -> dict[str, fields.Field]:
    """One node (set one key: a query's, a not's), or the sub nodes of an and/or (arrays by kind)."""
    def holding(schema: Any, what: str) -> fields.Field:
        nested = fields.Nested(schema)
        return fields.List(nested, metadata={"description": what}) if many else \
            fields.Nested(schema, metadata={"description": what})
    return {"and": holding(lambda: QUERY_NODES, "Sub nodes that must all hold."),
            "or": holding(lambda: QUERY_NODES, "Sub nodes of which one must hold."),
            "not": holding(lambda: QUERY_NODE, "One node that must not hold."),
            "param": holding(_PARAM, "A condition on a field.")}


QUERY_NODES = Schema.from_dict(_node_fields(True), name="QueryNodes")
QUERY_NODE = Schema.from_dict(_node_fields(False), name="QueryNode")
JSON_SCHEMA = Schema.from_dict({
    **_node_fields(False), "sort": fields.Nested(_SORT),
    "offset": fields.Integer(load_default=0, metadata={**_COUNT_TYPE, "description": "Matches to skip."}),
    "limit": fields.Integer(allow_none=True, metadata={
        **_COUNT_TYPE, "description": "At most this many matches (default and cap: query settings)."}),
}, name="Query")
