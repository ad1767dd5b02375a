"""Query documents (CONTRACT §5, spec "Queries") in XML and JSON, read into and written from `engine.model.query`.

Both doors share this module so that a query means the same whichever door and form it came through. The
XSD and the marshmallow schemas check the shape; the rules neither can state (how many values an
operation takes, one sub node under `not`, at most one node in a query) live in `_param`, `_junction` and
`_query`, which both forms go through. Any fault raises `InvalidQuery` naming the part: "line L, column C:
..." for XML, a path such as `query.and.param[1].operation` for JSON. Values stay raw text; the engine
types them by `value_type` when it compiles the query.

One document, several kinds of record (`Language`): the processes of findExecutions (CONTRACT §5), the
history's records and its operation log (§12). They share the tree, the sort and the paging, and differ
in the fields a param or a criterion may name, which each reads against its own list; the processes'
language is the default everywhere, so what findExecutions refuses stays refused.
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Callable

from lxml import etree
from marshmallow import RAISE, Schema, ValidationError, fields, validate

from engine.errors import InvalidQuery, shown
from engine.model.history import HISTORY_FIELDS, OPERATION_FIELDS
from engine.model.query import And, Fields, Node, Not, Or, Param, Query, QueryField, QueryOperation, SortCriterion
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


@dataclass(frozen=True)
class Language:
    """The query document over one kind of record: the fields its params and criteria may name.
    `prefix` names its types where a contract declares them — in the WSDL `q:{prefix}Query`, its tree
    and `q:{prefix}Field`, in the OpenAPI document `{prefix}Query`, `{prefix}QueryField` and so on; the
    processes' language has none (`q:Query`, `q:Field`, `QueryField`), as before there were others.
    `records` says what it selects, for the documentation written from it."""

    prefix: str
    fields: tuple[str, ...]
    records: str = "process"

    @property
    def name(self) -> str:
        """Its query type's name: Query, HistoryQuery, OperationLogQuery."""
        return f"{self.prefix}Query"

    def field_type(self, name: str | None = None) -> etree._Element:
        """Its fields as an `xs:simpleType` enumeration named `name` (default `{prefix}Field`)."""
        declared = etree.Element(f"{{{xsd.XS}}}simpleType", nsmap={"xs": xsd.XS}, name=name or f"{self.prefix}Field")
        restriction = etree.SubElement(declared, f"{{{xsd.XS}}}restriction", base="xs:string")
        for field_name in self.fields:
            etree.SubElement(restriction, f"{{{xsd.XS}}}enumeration", value=field_name)
        return declared

    def xml_schema(self) -> etree.XMLSchema:
        """query.xsd, with this language's fields in place of the processes' (compiled once per thread)."""
        if self.fields == FIELDS:
            return xsd.schema("query.xsd")
        return xsd.variant("query.xsd", self.prefix, lambda: [self.field_type("Field")])

    @cached_property
    def json(self) -> "_JsonForm":
        return _json_form(self)


def _named(fields: Fields) -> tuple[str, ...]:
    """Every name the engine reads a field by: its names, then the other names some answer to (`parent`
    for parentExecutionId)."""
    return fields.names + tuple(alias for alias, _ in fields.aliases)


PROCESSES = Language("", FIELDS)
HISTORY = Language("History", _named(HISTORY_FIELDS), "history record")
OPERATION_LOG = Language("OperationLog", _named(OPERATION_FIELDS), "log entry")
LANGUAGES = {"processes": PROCESSES, "history": HISTORY, "operations": OPERATION_LOG}  # by `Parameter.records`


# ---- rules both forms share ----------------------------------------------------------------------

def _param(field: Any, operation: Any, values: tuple[str, ...], value_type: Any, at: Where,
           language: Language = PROCESSES) -> Param:
    """A checked Param; the arity rules are here because neither XSD 1.0 nor marshmallow can say them."""
    _one_of(field, language.fields, at("field"))
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


def _criterion(field: Any, ascending: Any, at: Where, language: Language = PROCESSES) -> SortCriterion:
    _one_of(field, language.fields, at("field"))
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

def load(data: bytes | str | dict | etree._Element, language: Language = PROCESSES) -> Query:
    """Read a query document, telling XML from JSON by the document itself, as CONTRACT §2 asks; its
    params and criteria may name the fields of `language`."""
    if isinstance(data, etree._Element):
        return load_xml(data, language=language)
    if isinstance(data, dict):
        return load_json(data, language)
    if not isinstance(data, (bytes, str)):
        raise InvalidQuery(f"a query document is XML or JSON, not {type(data).__name__}")
    if is_xml(data):
        return load_xml(read_xml(data, InvalidQuery), data, language)
    return load_json(read_json(data, InvalidQuery), language)


# ---- XML -----------------------------------------------------------------------------------------

def load_xml(root: etree._Element, source: bytes | str | None = None, language: Language = PROCESSES) -> Query:
    """Read a parsed `query` element; `source`, the text it was parsed from, adds columns to messages."""
    if not isinstance(root, etree._Element) or root.tag != qname(QUERY, "query"):
        raise InvalidQuery(f"{_pos(root, source)}the root element must be query in namespace {QUERY}")
    compiled = language.xml_schema()
    try:
        xsd.validate(root, "query.xsd", compiled)
    except xsd.SchemaViolation as exc:
        element = exc.element if root.getparent() is None else None  # its path is wrong below a root
        where = _pos(element, source) if element is not None else (f"line {exc.line}: " if exc.line else "")
        raise InvalidQuery(where + _xsd_message(exc.message, language)) from None
    except etree.LxmlError as exc:  # xsd.validate cannot place an error whose path has a prefix
        log = compiled.error_log
        why = re.sub(r"\{[^}]*\}", "", log[0].message) if len(log) else f"cannot validate the query: {exc}"
        raise InvalidQuery((f"line {log[0].line}: " if len(log) else "") + _xsd_message(why, language)) from None
    children = list(root.iterchildren(etree.Element))
    nodes = [_xml_node(c, source, 1, language) for c in children if etree.QName(c).localname in KINDS]
    sorts = [c for c in children if etree.QName(c).localname == "sort"]
    if len(sorts) > 1:
        raise InvalidQuery(f"{_pos(sorts[1], source)}a query holds at most one sort")
    criteria = sorts[0].iterchildren(etree.Element) if sorts else ()
    sort = tuple(_criterion(c.get("field"), c.get("ascending", "true"), _xml_at(c, source), language)
                 for c in criteria)
    return _query(nodes, sort, root.get("offset"), root.get("limit"), _xml_at(root, source))


def _xml_node(element: etree._Element, source: Any, depth: int, language: Language) -> Node:
    if depth > MAX_DEPTH:
        raise InvalidQuery(f"{_pos(element, source)}query nodes nest at most {MAX_DEPTH} levels deep")
    kind = etree.QName(element).localname
    if kind == "param":
        holder = element.find(qname(QUERY, "values"))
        items = () if holder is None else holder.iterchildren(etree.Element)
        values = tuple(_xml_value(v, source) for v in items)
        value_type = DEFAULT_TYPE if holder is None else holder.get("type", DEFAULT_TYPE)
        return _param(element.get("field"), element.get("operation"), values, value_type,
                      _xml_at(element, source), language)
    nodes = tuple(_xml_node(c, source, depth + 1, language) for c in element.iterchildren(etree.Element))
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


def _xsd_message(message: str, language: Language = PROCESSES) -> str:
    """Say what is allowed in words: xsd.validate strips the set `{...}` from enumeration messages, and
    a client does not know our XSD's type names."""
    names = OPERATIONS if "attribute 'operation'" in message else language.fields
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
_NODES = _Strict.from_dict(_nodes())


@dataclass(frozen=True)
class _JsonForm:
    """A language's marshmallow schemas: those that read its JSON form (`param`, `query`), and those that
    describe it to the OpenAPI document (`document`, with `nodes` and `node`)."""

    param: type[Schema]
    query: type[Schema]
    nodes: type[Schema]
    node: type[Schema]
    document: type[Schema]


def _json_form(language: Language) -> _JsonForm:
    """The schemas of `language`, named after its prefix (QueryParam, HistoryQueryParam, …): the OpenAPI
    document holds each language's under names of its own."""
    prefix = language.prefix
    param = _Strict.from_dict({
        "field": _name(language.fields), "operation": _name(OPERATIONS),
        "values": fields.Nested(_VALUES, load_default=lambda: {"type": DEFAULT_TYPE, "value": []})},
        name=f"{prefix}QueryParam")
    criterion = _Strict.from_dict({
        "field": _name(language.fields),
        "ascending": _Read(_flag, "a boolean", load_default=True, metadata=_BOOLEAN)}, name=f"{prefix}SortCriterion")
    sort = _Strict.from_dict({"criterion": _Repeated(fields.Nested(criterion), load_default=list)},
                             name=f"{prefix}QuerySort")
    query = _Strict.from_dict({
        **_nodes(), "sort": fields.Nested(sort, load_default=lambda: {"criterion": []}),
        "offset": _Read(_count, COUNT, load_default=0, metadata=_COUNT_TYPE),
        "limit": _Read(_count, COUNT, load_default=None, metadata=_COUNT_TYPE)})
    described: dict[str, type[Schema]] = {}
    described["nodes"] = Schema.from_dict(_node_fields(True, described, param), name=f"{prefix}QueryNodes")
    described["node"] = Schema.from_dict(_node_fields(False, described, param), name=f"{prefix}QueryNode")
    document = Schema.from_dict({
        **_node_fields(False, described, param), "sort": fields.Nested(sort),
        "offset": fields.Integer(load_default=0, metadata={**_COUNT_TYPE, "description": "Matches to skip."}),
        "limit": fields.Integer(allow_none=True, metadata={
            **_COUNT_TYPE, "description": "At most this many matches (default and cap: query settings)."}),
    }, name=language.name)
    return _JsonForm(param, query, described["nodes"], described["node"], document)


def load_json(obj: Any, language: Language = PROCESSES) -> Query:
    """Read the JSON form, already parsed (`json.loads`): `{"query": {...}}`."""
    _check_depth(obj)
    if not isinstance(obj, dict) or list(obj) != ["query"]:
        raise InvalidQuery('a JSON query is an object with the single key "query"')
    data = _validated(language.json.query, obj["query"], "query")
    sort = tuple(SortCriterion(c["field"], c["ascending"]) for c in data["sort"]["criterion"])
    return _query(_json_nodes(obj["query"], "query", 1, language), sort, data["offset"], data["limit"],
                  lambda part: f"query.{part}" if part else "query")


def _json_nodes(body: dict, path: str, depth: int, language: Language) -> list[Node]:
    """Sub nodes by key order, then array order: JSON cannot interleave kinds as XML can."""
    nodes = []
    for kind in [k for k in body if k in KINDS]:
        many = isinstance(body[kind], list)
        for i, item in enumerate(body[kind] if many else [body[kind]]):
            nodes.append(_json_node(kind, item, f"{path}.{kind}" + (f"[{i}]" if many else ""), depth, language))
    return nodes


def _json_node(kind: str, body: Any, path: str, depth: int, language: Language) -> Node:
    if depth > MAX_DEPTH:
        raise InvalidQuery(f"{path}: query nodes nest at most {MAX_DEPTH} levels deep")
    at: Where = lambda part: f"{path}.{part}" if part else path  # noqa: E731
    if kind == "param":
        data = _validated(language.json.param, body, path)
        values = data["values"]
        return _param(data["field"], data["operation"], tuple(values["value"]), values["type"], at, language)
    _validated(_NODES, body, path)
    return _junction(kind, tuple(_json_nodes(body, path, depth + 1, language)), at)


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

def _node_fields(many: bool, described: dict[str, Any], param: type[Schema]) -> dict[str, fields.Field]:
    """One node (set one key: a query's, a not's), or the sub nodes of an and/or (arrays by kind);
    `described` holds the language's `nodes` and `node` schemas once they are made."""
    def holding(schema: Any, what: str) -> fields.Field:
        nested = fields.Nested(schema)
        return fields.List(nested, metadata={"description": what}) if many else \
            fields.Nested(schema, metadata={"description": what})
    return {"and": holding(lambda: described["nodes"], "Sub nodes that must all hold."),
            "or": holding(lambda: described["nodes"], "Sub nodes of which one must hold."),
            "not": holding(lambda: described["node"], "One node that must not hold."),
            "param": holding(param, "A condition on a field.")}


QUERY_NODES, QUERY_NODE, JSON_SCHEMA = PROCESSES.json.nodes, PROCESSES.json.node, PROCESSES.json.document
