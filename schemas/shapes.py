"""Shapes: each wire structure declared once, written as XML and as its simple JSON form from that one
declaration, and described as a marshmallow schema for the OpenAPI document.

The JSON rule of CONTRACT §2 follows from the declaration: one root key named after the root
element; attributes and child elements as keys; a repeatable element always an array; numbers and
booleans typed. An element's own text, where it has one, is the key `value`.
"""
from __future__ import annotations

import itertools
import re
import secrets
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator

from lxml import etree
from marshmallow import Schema, fields, validate

from engine.support import jsontext
from engine.support.clock import format_timestamp

from .namespaces import DATASTORE, PROCESS

NSMAP = {None: PROCESS, "dat": DATASTORE}
_DEFERRED = "pe-deferred-markup"
_DEFERRED_MARK = re.compile(rb"<\?pe-deferred-markup (\d+)\?>")
_DEFERRED_JSON_TOKEN = f"pe-deferred-{secrets.token_hex(16)}-"
_DEFERRED_JSON = re.compile(b'"' + re.escape(_DEFERRED_JSON_TOKEN.encode()) + rb'(\d+)"')
STRING, INT, FLOAT, BOOL, TIME = "string", "int", "float", "bool", "timestamp"


def tag(name: str) -> str:
    return f"{{{PROCESS}}}{name}"


@dataclass(frozen=True)
class Attr:
    name: str
    read: Callable[[Any], Any]
    kind: str = STRING
    required: bool = False
    choices: tuple[str, ...] = ()   # the allowed values, for the description

    def value(self, obj: Any) -> Any:
        """The typed value (None when absent): timestamps as their ISO text."""
        value = self.read(obj)
        if value is None:
            return None
        return format_timestamp(value) if self.kind == TIME else value


@dataclass(frozen=True)
class Custom:
    """A child written by hand (a pipeline, say): XML into `parent`, JSON as a value."""

    name: str
    read: Callable[[Any], Any]
    xml: Callable[[etree._Element, Any, dict], None]
    json: Callable[[Any, dict], Any]
    schema: Any = None  # a marshmallow field describing the JSON
    markup: Callable[[Any, dict], list[bytes]] | None = None  # the children as UTF-8 markup, in pieces
    json_markup: Callable[[Any, dict], list[bytes]] | None = None  # the JSON value as UTF-8 text, in pieces
    xsd_type: str | None = None  # the type `xsd/snapshot.xsd` declares for it, for the published contract


@dataclass(frozen=True)
class Child:
    name: str
    shape: "Shape | None"        # None: a text-only element
    read: Callable[[Any], Any]
    many: bool = False
    required: bool = False


@dataclass(frozen=True)
class Shape:
    name: str
    attrs: tuple[Attr, ...] = ()
    children: tuple["Child | Custom", ...] = ()
    text: Callable[[Any], Any] | None = None       # the element's own text, JSON key `value`
    doc: str = ""
    title: str = ""                                # the schema's name, where the element name is shared
    _schema: list = field(default_factory=list, compare=False, repr=False)
    _document: dict = field(default_factory=dict, compare=False, repr=False)
    _plan: list = field(default_factory=list, compare=False, repr=False)

    # -- XML ----------------------------------------------------------------------------------------
    def xml(self, obj: Any, parent: etree._Element | None = None, options: dict | None = None) -> etree._Element:
        element = (etree.SubElement(parent, tag(self.name)) if parent is not None
                   else etree.Element(tag(self.name), nsmap=NSMAP))
        self.fill(element, obj, options or {})
        return element

    def document(self, obj: Any, options: dict | None = None) -> Iterable[bytes]:
        """This shape at the root of a whole UTF-8 document, in pieces. A child with markup of its own
        (a pipeline) goes in as that markup, between the pieces of the serialized tree, rather than
        built element by element and serialized again: a 10 MB pipeline costs a tenth as much, and
        is never copied into one string, nor held whole: it is written as the pieces are asked for
        (issue 15). Its place in the tree is held by an instruction that only this code writes (text
        and attributes from anywhere else are escaped)."""
        deferred: list[Iterable[bytes]] = []
        element = self.xml(obj, None, dict(options or {}, deferred=deferred))
        return _splice(etree.tostring(element, xml_declaration=True, encoding="UTF-8"), _DEFERRED_MARK, deferred)

    def fill(self, element: etree._Element, obj: Any, options: dict) -> None:
        for attr in self.attrs:
            value = attr.value(obj)
            if value is not None:
                element.set(attr.name, ("true" if value else "false") if isinstance(value, bool) else str(value))
        if self.text is not None and self.text(obj) is not None:
            element.text = str(self.text(obj))
        for child in self.children:
            value = child.read(obj)
            if isinstance(child, Custom):
                if value is not None:
                    holder = etree.SubElement(element, tag(child.name))
                    deferred = options.get("deferred")
                    if deferred is None or child.markup is None:
                        child.xml(holder, value, options)
                    else:
                        markup = iter(child.markup(value, options))
                        first = next(markup, None)
                        if first is not None:  # none: an empty element, as lxml writes one
                            holder.append(etree.PI(_DEFERRED, str(len(deferred))))
                            deferred.append(itertools.chain((first,), markup))
                continue
            for item in (value or ()) if child.many else ([] if value is None else [value]):
                if child.shape is None:
                    etree.SubElement(element, tag(child.name)).text = str(item)
                else:
                    child.shape.xml(item, element, options)

    # -- JSON ---------------------------------------------------------------------------------------
    def json(self, obj: Any, options: dict | None = None) -> dict[str, Any]:
        """`{name: body}`, the document for this shape at the root."""
        return {self.name: self.body(obj, options or {})}

    def json_document(self, obj: Any, options: dict | None = None) -> Iterable[bytes]:
        """`json`'s document as UTF-8 text, in pieces; as `document` does for XML, a child with JSON
        text of its own (a pipeline) goes in as that text, in place of a string only this code writes
        (a random token: no text from anywhere else can be it)."""
        deferred: list[Iterable[bytes]] = []
        body = jsontext.dumps_utf8(self.json(obj, dict(options or {}, deferred_json=deferred)))
        return _splice(body, _DEFERRED_JSON, deferred) if deferred else [body]

    def body(self, obj: Any, options: dict) -> Any:
        body: dict[str, Any] = {}
        if not self._plan:  # (name, read, is a timestamp) of each attribute: this runs for every answer
            self._plan.extend((attr.name, attr.read, attr.kind == TIME) for attr in self.attrs)
        for name, read, timestamp in self._plan:
            value = read(obj)
            if value is not None:
                body[name] = format_timestamp(value) if timestamp else value
        if self.text is not None and self.text(obj) is not None:
            body["value"] = self.text(obj)
        for child in self.children:
            value = child.read(obj)
            if isinstance(child, Custom):
                if value is not None:
                    deferred = options.get("deferred_json")
                    if deferred is None or child.json_markup is None:
                        body[child.name] = child.json(value, options)
                    else:
                        body[child.name] = f"{_DEFERRED_JSON_TOKEN}{len(deferred)}"
                        deferred.append(child.json_markup(value, options))
            elif child.many:
                if value is not None:  # None: not there at all; an empty list: an empty array
                    body[child.name] = [self._item(child, item, options) for item in value]
            elif value is not None:
                body[child.name] = self._item(child, value, options)
        return body

    @staticmethod
    def _item(child: Child, value: Any, options: dict) -> Any:
        return value if child.shape is None else child.shape.body(value, options)

    # -- description ----------------------------------------------------------------------------------
    def schema(self) -> type[Schema]:
        """A marshmallow schema of the JSON body (built once), for the OpenAPI document."""
        if not self._schema:
            self._schema.append(Schema.from_dict(self._fields(), name=self.schema_name))
        return self._schema[0]

    @property
    def schema_name(self) -> str:
        return self.title or _schema_name(self.name)

    def document_schema(self, root: str | None = None) -> type[Schema]:
        """The whole JSON document: the body under its root key (built once per root key)."""
        key = root or self.name
        if key not in self._document:
            self._document[key] = Schema.from_dict({key: fields.Nested(self.schema(), required=True)},
                                                   name=self.schema_name + "Document")
        return self._document[key]

    def _fields(self) -> dict[str, fields.Field]:
        result: dict[str, fields.Field] = {
            a.name: _FIELDS[a.kind](required=a.required, **({"validate": validate.OneOf(a.choices)} if a.choices else {}))
            for a in self.attrs}
        if self.text is not None:
            result["value"] = fields.String()
        for child in self.children:
            if isinstance(child, Custom):
                result[child.name] = child.schema or fields.Raw()
            elif child.shape is None:
                result[child.name] = fields.List(fields.String()) if child.many else fields.String()
            elif child.many:
                result[child.name] = fields.List(fields.Nested(child.shape.schema()), required=True)
            else:
                result[child.name] = fields.Nested(child.shape.schema(), required=child.required)
        return result


_FIELDS: dict[str, Callable[..., fields.Field]] = {
    STRING: fields.String, INT: fields.Integer, FLOAT: fields.Float, BOOL: fields.Boolean,
    TIME: lambda **kw: fields.String(metadata={"format": "date-time"}, **kw),
}


def _schema_name(element: str) -> str:
    return element[:1].upper() + element[1:]


def wrapper(name: str, item: Shape, doc: str = "", title: str = "") -> Shape:
    """A list element holding repeatable `item`s: `<name><item/>…</name>`."""
    return Shape(name, children=(Child(item.name, item, lambda items: items, many=True, required=True),),
                 doc=doc, title=title)


def texts(name: str, item: str, title: str = "") -> Shape:
    """A list element holding text-only items: `<name><item>text</item>…</name>`."""
    return Shape(name, children=(Child(item, None, lambda items: items, many=True, required=True),), title=title)


SENT_AS_WRITTEN = 1 << 20  # an answer this long is sent as it is written, in chunks (both doors)


def sized(pieces: Iterable[bytes]) -> tuple[list[bytes], Iterator[bytes] | None]:
    """An answer's pieces as a door sends them. Under SENT_AS_WRITTEN bytes, all of them, written now,
    and None: the answer goes with its length. Longer, the first ones, and an iterator of them all that
    writes the rest while the answer is sent (in chunks): a 10 MB pipeline's answer is never whole in
    the worker beside the store it is written from (issue 15)."""
    pieces = iter(pieces)
    held: list[bytes] = []
    size = 0
    for piece in pieces:
        held.append(piece)
        size += len(piece)
        if size >= SENT_AS_WRITTEN:
            return held, _held_then(held, pieces)
    return held, None


def _held_then(held: list[bytes], rest: Iterator[bytes]) -> Iterator[bytes]:
    held.reverse()
    while held:  # (each let go of as it is sent)
        yield held.pop()
    yield from rest


def splice(body: bytes, deferred: list[Iterable[bytes]]) -> Iterator[bytes]:
    """A serialized tree of `xml`'s with `deferred` markup (the `deferred` option), that markup in place,
    in pieces written as they are asked for: how the SOAP door puts a pipeline into its answer. The
    tree may have been serialized within another (an envelope) whose writer dropped declarations no
    element used, the prefix `dat` among them: each holder of deferred markup declares it again."""
    return _splice(body, _DEFERRED_MARK, deferred, f' xmlns:dat="{DATASTORE}"'.encode())


def _splice(body: bytes, mark: "re.Pattern[bytes]", deferred: list[Iterable[bytes]],
            declaring: bytes = b"") -> Iterator[bytes]:
    """`body` in pieces, each place `mark` holds (its group: an index into `deferred`) replaced by
    the pieces deferred there, each written as it is asked for (a pipeline's: see xml_markup).
    `declaring`: a declaration the start tag before each place is to make, where it does not yet."""
    start = 0
    for found in mark.finditer(body):
        before = body[start:found.start()]  # up to the holder's start tag, which the place follows
        if declaring and before.endswith(b">") and declaring.partition(b"=")[0] not in before[before.rfind(b"<"):]:
            before = before[:-1] + declaring + b">"
        yield before
        yield from deferred[int(found.group(1))]
        start = found.end()
    yield body[start:]
