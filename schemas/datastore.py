"""Data stores on the wire (CONTRACT §4): the one marshaller the REST and SOAP doors share.

Four forms, simple or standard, each as XML or JSON; `load` tells them apart from the document itself.
The standard form is lossless (value IDs and values shared by several entries survive); the simple form
loses value IDs, sharing and every type of an entry but the first, and nothing else. JSON is checked
with marshmallow, whose nested errors become paths (`dataStore.entries.entry[0].name`); XML with
`xsd/datastore.xsd`, and its messages carry line and column. Whatever a client sends ends as a DataStore
or as InvalidDataStore: any other exception would reach a door as a 500.
"""
from __future__ import annotations

import base64
import contextlib
import copy
import functools
import itertools
import json
import mmap
import os
import re
from typing import IO, Any, Callable, ContextManager, Iterable, Iterator, NoReturn

import orjson
from lxml import etree
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from engine.support import jsontext
from engine.model.datastore import (BINARY, TEXT, XML, DataStore, Value, check_xml_text, kind_of,
                              make_value)
from engine.errors import InvalidDataStore
from engine.support.safexml import XmlError, canonical, column_of, parse_own
from schemas.documents import is_xml, position as _at, read_json, read_xml
from schemas.namespaces import DATASTORE
from schemas.plain import (ANY_WS, CONTENT, ENTRY, STORE, VALUE, WS, Declined,
                           json_document, json_in_pieces, xml_content, xml_scan, xml_stream, xml_tree)
from schemas.xsd import SchemaViolation, schema
from schemas.xsd import validate as xsd_validate

_XSD = "datastore.xsd"
_NSMAP = {"dat": DATASTORE}
_JSON_TYPES = {list: "an array", str: "a string", bool: "a boolean", int: "a number", float: "a number",
               type(None): "null", dict: "an object"}

Fail = Callable[[Any, str], NoReturn]  # raises InvalidDataStore naming a place in the input and a reason
# A document this long, or a parsed one (a SOAP body's) with this many values or entries, is read
# within `_reading_large`
LARGE, LARGE_ITEMS = 1 << 20, 2048
_reading_large: Callable[[], ContextManager[None]] = contextlib.nullcontext


def read_large_documents_within(context: Callable[[], ContextManager[None]]) -> None:
    """Have every large document read inside `context()`: a served worker reads them with its small
    objects on malloc, so the memory a 10 MB store took goes back after the call (config.allocator)."""
    global _reading_large
    _reading_large = context


def reading_large() -> ContextManager[None]:
    """The context a large document is read within (`read_large_documents_within`), for a reader of
    another module's (soap.envelope)."""
    return _reading_large()


# -- reading: any form ------------------------------------------------------------------------------

def load(data: bytes | str | dict | etree._Element) -> DataStore:
    """Read a data store in any of the four forms, told apart by the document itself (CONTRACT §2).

    Text whose first character after whitespace and a byte order mark is `<` is XML, other text JSON;
    a dict is parsed JSON; an element is a parsed dataStore element (e.g. inside a SOAP body).
    """
    return _read(data)


def _read(data: bytes | str | dict | etree._Element, scanned: bool = False) -> DataStore:
    """`_load`, within `_reading_large` for a large document."""
    if _large(data):
        with _reading_large():
            return _load(data, scanned)
    return _load(data, scanned)


def load_spooled(file: IO[bytes], path: str) -> DataStore:
    """`load` for a store document held in the file at `path` (a large body, spooled as it arrived).

    The plain readings read it through a memory map and hand back each page they have passed, so a
    10 MB document is never in memory whole beside the store it becomes (issue 15: peak memory). A
    document they decline is read whole, as `load` reads it.
    """
    if not os.fstat(file.fileno()).st_size:
        return load(b"")
    with mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
        xml = is_xml(mapped[:1024])
        try:
            with _reading_large():
                return xml_scan(mapped, path=path) if xml else json_in_pieces(mapped)
        except Declined:
            data = mapped[:]
    return _read(data, scanned=xml)


def _large(data: bytes | str | dict | etree._Element) -> bool:
    if isinstance(data, (bytes, str)):
        return len(data) >= LARGE
    if isinstance(data, etree._Element):  # its children, and those of its first two (values, entries)
        return len(data) + sum(len(child) for child in data[:2]) >= LARGE_ITEMS
    return False


def _load(data: bytes | str | dict | etree._Element, scanned: bool = False) -> DataStore:
    """`scanned`: xml_scan has declined the document already."""
    if isinstance(data, etree._Element):
        return load_xml(data)
    if isinstance(data, dict):
        return load_json(data)
    if not isinstance(data, (bytes, str)):
        raise InvalidDataStore(f"a data store is an XML or JSON document, not {_json_type(data)}")
    if (_BLANK_BYTES if isinstance(data, bytes) else _BLANK).fullmatch(data):  # (strip would copy 10 MB)
        raise InvalidDataStore("the data store document is empty")
    if is_xml(data):
        if isinstance(data, bytes):  # (a str would first have to be encoded, minding its declaration)
            for plain in (xml_stream,) if scanned else (xml_scan, xml_stream):
                try:
                    return plain(data)
                except Declined:
                    pass
            return _XmlReader(data).store(read_xml(data, InvalidDataStore), plain=False)
        return _XmlReader(data).store(read_xml(data, InvalidDataStore))
    try:
        return json_in_pieces(data) if isinstance(data, bytes) else json_document(orjson.loads(data))
    except (orjson.JSONDecodeError, Declined):  # the standard library reads it, marshmallow says why
        return load_json(read_json(data, InvalidDataStore))


_BLANK, _BLANK_BYTES = re.compile(f"[{WS}]*"), re.compile(f"[{WS}]*".encode())


def _json_type(obj: Any) -> str:
    return _JSON_TYPES.get(type(obj), type(obj).__name__)


def _standard(values: Iterable[tuple[Value, Any]], entries: Iterable[tuple[str, list[str], Any]],
              fail: Fail) -> DataStore:
    """Resolve the entries' value IDs; an ID defined twice or never is the sender's mistake."""
    by_id: dict[str, Value] = {}
    for value, where in values:
        if value.id in by_id:
            fail(where, f"value ID {value.id!r} is defined twice")
        by_id[value.id] = value
    resolved = []
    for name, ids, where in entries:
        unknown = next((i for i in ids if i not in by_id), None)
        if unknown is not None:
            fail(where, f"entry {name!r} refers to unknown value ID {unknown!r}")
        resolved.append((name, [by_id[i] for i in ids], where))
    return _store(resolved, fail)


def _store(entries: Iterable[tuple[str, list[Value], Any]], fail: Fail) -> DataStore:
    """The entries in order; a name used twice is refused rather than silently overwritten."""
    named: dict[str, list[Value]] = {}
    for name, values, where in entries:
        if name in named:
            fail(where, f"entry {name!r} appears twice")
        named[name] = values
    return DataStore(named.items())


# -- reading XML ------------------------------------------------------------------------------------

def load_xml(root: etree._Element) -> DataStore:
    """Read a parsed dataStore element in either form."""
    return _XmlReader(None).store(root)


def load_xml_children(parent: etree._Element) -> DataStore:
    """Read a data store held as the children of another element, such as a snapshot's pipeline."""
    if not isinstance(parent.tag, str):
        raise InvalidDataStore("a data store is held by an element, not by a comment or instruction")
    holder = copy.deepcopy(parent)  # the XSD knows dataStore; rename a copy, not the caller's tree
    holder.tag = STORE
    holder.attrib.clear()
    return _XmlReader(None).store(holder)


class _XmlReader:
    """Walks a dataStore element; with the source text at hand, messages also give the column."""

    def __init__(self, source: bytes | str | None) -> None:
        self.source = source

    def store(self, root: etree._Element, plain: bool = True) -> DataStore:
        """`plain`: try the plain reading first (False: it has declined already)."""
        if root.tag != STORE:
            found = root.tag if isinstance(root.tag, str) else "a comment or instruction"
            self.fail(root, f"expected the element {{{DATASTORE}}}dataStore, found {found}")
        try:
            if plain:
                return xml_tree(root)
        except Declined:
            pass
        return self.checked_store(root)

    def checked_store(self, root: etree._Element) -> DataStore:
        """Any document: the XSD first, so that what is refused is refused with its line and reason."""
        self.check_schema(root)
        if root.find(ENTRY) is not None:
            return _store(self.simple_entries(root), self.fail)
        return _standard(self.values(root), self.entries(root), self.fail)

    def check_schema(self, root: etree._Element) -> None:
        try:
            xsd_validate(root, _XSD)
        except SchemaViolation as exc:
            inside = exc.element is not None and root in (exc.element, *exc.element.iterancestors())
            where = self.where(exc.element) if inside else _at(exc.line, None)
            raise InvalidDataStore(where + exc.message) from None
        except etree.XPathError:  # schemas.xsd fails to look up the error path of prefixed names
            error = schema(_XSD).error_log[0]
            message = re.sub(r"\{[^}]*\}", "", error.message)
            raise InvalidDataStore(_at(error.line or None, None) + message) from None

    def values(self, root: etree._Element) -> Iterator[tuple[Value, etree._Element]]:
        for item in root.iterfind("dat:values/dat:value", _NSMAP):
            value_id = item.get("id", "").strip(WS)  # the XSD saw to it that id, type and content exist
            yield self.value(value_id, item.get("type", ""), item.find(CONTENT), f"value {value_id!r}"), item

    def entries(self, root: etree._Element) -> Iterator[tuple[str, list[str], etree._Element]]:
        for entry in root.iterfind("dat:entries/dat:entry", _NSMAP):
            ids = [(ref.text or "").strip(WS) for ref in entry.iterfind(VALUE)]
            yield entry.get("name", ""), ids, entry

    def simple_entries(self, root: etree._Element) -> Iterator[tuple[str, list[Value], etree._Element]]:
        ids = map(str, itertools.count(1))  # the simple form carries no IDs
        for entry in root.iterfind(ENTRY):
            name, content_type, items = entry.get("name", ""), entry.get("type"), entry.findall(VALUE)
            if items and content_type is None:
                self.fail(entry, f"entry {name!r} has values but no type")
            what = f"entry {name!r}"
            yield name, [self.value(next(ids), content_type, item, what) for item in items], entry

    def value(self, value_id: str, content_type: str, content: etree._Element, what: str) -> Value:
        try:
            return make_value(value_id, content_type, xml_content(content, content_type, what), what, parsed=True)
        except InvalidDataStore as exc:
            self.fail(content, exc.message)

    def fail(self, element: etree._Element, message: str) -> NoReturn:
        raise InvalidDataStore(self.where(element) + message)

    def where(self, element: etree._Element) -> str:
        line, source = element.sourceline, self.source
        if source is None or not line:
            return _at(line, None)
        if isinstance(source, bytes):  # column_of reads bytes as UTF-8, which UTF-16 is not
            source = source.decode(json.detect_encoding(source), "replace")
        return _at(line, column_of(element, source))


# -- reading JSON -----------------------------------------------------------------------------------

class _Text(fields.Field):
    """A string XML can carry; a number or boolean is taken as its JSON text (CONTRACT §2)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, (int, float)):
            try:
                return json.dumps(value)
            except ValueError:  # an integer too long to print
                raise ValidationError("Not a string.") from None
        if not isinstance(value, str):
            raise ValidationError("Not a string.")
        try:
            return check_xml_text(value, "the text")
        except InvalidDataStore as exc:
            raise ValidationError(exc.message) from None


class _Id(_Text):
    """A value ID; surrounding whitespace is dropped, as the XML form's xs:token does."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs).strip(WS)
        if not text or ANY_WS.search(text):
            raise ValidationError("a value ID is non-empty text without whitespace")
        return text


class _Many(fields.List):
    """A repeatable item: an array on output, but a lone item is taken as an array of one on input."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> list:
        return super()._deserialize(value if isinstance(value, list) else [value], attr, data, **kwargs)


_NAME = {"required": True, "validate": validate.Length(min=1, error="must not be empty")}


class _Content(Schema):
    value = _Many(_Text(), required=True, validate=validate.Length(equal=1, error="must hold one item"))


class _StoredValue(Schema):
    id, type, content = _Id(required=True), _Text(required=True), fields.Nested(_Content, required=True)


class _StandardEntry(Schema):
    name, value = _Text(**_NAME), _Many(_Id(), load_default=list)


class _SimpleEntry(Schema):
    name, type, value = _Text(**_NAME), _Text(), _Many(_Text(), load_default=list)


def _list_of(name: str, item: type[Schema]) -> fields.Nested:
    """`{"value": [...]}` and the like: the JSON of an XML element holding repeated items."""
    return fields.Nested(Schema.from_dict({name: _Many(fields.Nested(item), load_default=list)}))


class _Body(Schema):
    values, entries = _list_of("value", _StoredValue), _list_of("entry", _StandardEntry)
    entry = _Many(fields.Nested(_SimpleEntry))

    @validates_schema
    def _one_form(self, data: dict, **kwargs: Any) -> None:
        if "entry" in data and ("values" in data or "entries" in data):
            raise ValidationError("holds both entry (simple form) and values/entries (standard form)")


_DOCUMENT, _BODY = Schema.from_dict({"dataStore": fields.Nested(_Body, required=True)})(), _Body()


def load_json(obj: dict) -> DataStore:
    """Read `{"dataStore": {...}}` in either form."""
    try:
        return json_document(obj)
    except Declined:
        return _checked_json(obj)


def _checked_json(obj: Any) -> DataStore:
    """Any parsed JSON: marshmallow first, so that what is refused is refused with its path and reason."""
    return _json_store(_checked(_DOCUMENT, obj, "")["dataStore"], "dataStore")


def load_json_body(obj: dict, path: str = "pipeline") -> DataStore:
    """Read the inside of `"dataStore"` held under another key; `path` names that key in messages."""
    return _json_store(_checked(_BODY, obj, path), path)


def _checked(checker: Schema, obj: Any, path: str) -> dict:
    if not isinstance(obj, dict):
        raise InvalidDataStore(f"{path or 'a data store'}: expected a JSON object, found {_json_type(obj)}")
    try:
        return checker.load(obj)
    except ValidationError as exc:
        raise InvalidDataStore("; ".join(_messages(exc.messages, path)[:3])) from None


def _messages(errors: Any, path: str) -> list[str]:
    """marshmallow's nested errors as `dataStore.entries.entry[0].name: why` lines."""
    if not isinstance(errors, (dict, list)):
        return [f"{path}: {errors}"]
    if isinstance(errors, list):
        return [line for sub in errors for line in _messages(sub, path)]
    lines = []
    for key, sub in errors.items():
        inner = path if key == "_schema" else f"{path}[{key}]" if isinstance(key, int) else \
            f"{path}.{key}" if path else str(key)
        lines += _messages(sub, inner)
    return lines


def _json_store(body: dict, path: str) -> DataStore:
    if "entry" in body:
        return _store(_json_simple_entries(body["entry"], path), _json_fail)
    values = ((_json_value(item["id"], item["type"], item["content"]["value"][0], where), where)
              for where, item in _indexed(body.get("values", {}).get("value", []), f"{path}.values.value"))
    entries = ((item["name"], item["value"], where)
               for where, item in _indexed(body.get("entries", {}).get("entry", []), f"{path}.entries.entry"))
    return _standard(values, entries, _json_fail)


def _indexed(items: list, path: str) -> Iterator[tuple[str, Any]]:
    return ((f"{path}[{i}]", item) for i, item in enumerate(items))


def _json_simple_entries(items: list[dict], path: str) -> Iterator[tuple[str, list[Value], str]]:
    ids = map(str, itertools.count(1))  # the simple form carries no IDs
    for i, item in enumerate(items):
        where, texts = f"{path}.entry[{i}]", item["value"]
        if texts and "type" not in item:
            _json_fail(where, f"entry {item['name']!r} has values but no type")
        yield item["name"], [_json_value(next(ids), item["type"], text, f"{where}.value[{j}]")
                             for j, text in enumerate(texts)], where


def _json_value(value_id: str, content_type: str, text: str, where: str) -> Value:
    if kind_of(content_type) == BINARY:
        text = ANY_WS.sub("", text)
    return make_value(value_id, content_type, text, where)


def _json_fail(where: str, message: str) -> NoReturn:
    raise InvalidDataStore(f"{where}: {message}")


# -- writing XML ------------------------------------------------------------------------------------
# Written as text and parsed once where a tree is wanted: building a 10 MB store element by element
# took 0.2 s, its text takes a tenth of that (issue 15). XML content goes in as the canonical text the
# store holds, so its prefixes are exactly its own wherever the store is put.

def dump_xml(store: DataStore, simple: bool) -> etree._Element:
    """The store as a dataStore element (prefix dat) in the simple or the standard form."""
    return parse_own(_document_markup(store, simple, b""))


def dump_xml_document(store: DataStore, simple: bool) -> Iterator[bytes]:
    """dump_xml's element as a whole UTF-8 document, as lxml serializes it, in pieces (not built),
    written as they are asked for (see xml_markup)."""
    return _document_markup(store, simple, b"<?xml version='1.0' encoding='UTF-8'?>\n")


def _document_markup(store: DataStore, simple: bool, declaration: bytes) -> Iterator[bytes]:
    head = declaration + f'<dat:dataStore xmlns:dat="{DATASTORE}"'.encode()
    chunks = xml_markup(store, simple)
    first = next(chunks, None)
    if first is None:
        return iter((head + b"/>",))
    return itertools.chain((head + b">", first), chunks, (b"</dat:dataStore>",))


def dump_xml_children(store: DataStore, simple: bool) -> list[etree._Element]:
    """The children of dump_xml's element, for an element holding a store under its own name."""
    return list(dump_xml(store, simple))


def dump_xml_into(parent: etree._Element, store: DataStore, simple: bool) -> None:
    """Write the children of a dataStore element into `parent` (e.g. a snapshot's pipeline).

    Moving elements makes lxml re-prefix the namespaces that the new ancestors declare too, which would
    change XML content's canonical text (and, if it rebinds one of their prefixes, its meaning): such
    content is taken out first and copied in node by node.
    """
    root = dump_xml(store, simple)
    uris = [uri for uri in parent.nsmap.values() if uri]
    holders = root.iterfind("dat:entry/dat:value" if simple else "dat:values/dat:value/dat:content", _NSMAP)
    held = [(holder, holder[0]) for holder in holders
            if len(holder) and any(uri in etree.tostring(holder[0]).decode() for uri in uris)]
    for holder, element in held:
        holder.remove(element)
    parent.extend(root)
    for holder, element in held:
        _rebuild(holder, element)


def _rebuild(parent: etree._Element, source: etree._Element) -> etree._Element:
    """Copy `source` under `parent` node by node, declaring what it declares, so its prefixes stay."""
    above = source.getparent()
    declared = {p: uri for p, uri in source.nsmap.items() if above is None or above.nsmap.get(p) != uri}
    element = etree.SubElement(parent, source.tag, nsmap=declared or None)
    for name, text in source.attrib.items():
        element.set(name, text)
    element.text = source.text
    for child in source:
        if isinstance(child.tag, str):
            _rebuild(element, child).tail = child.tail
        else:  # a processing instruction (canonical XML holds no comments)
            element.append(copy.copy(child))
    return element


def xml_markup(store: DataStore, simple: bool) -> Iterator[bytes]:
    """The children of a dataStore element as UTF-8 markup, for a context that binds the prefix dat; in
    pieces of about 64 KB, each written when it is asked for: a 10 MB store's answer is sent as it is
    written, never held whole beside the store (issue 15). They are written from a copy of the store,
    taken now (it shares the store's dicts), so a change to the store meanwhile is not in them."""
    return _chunked(_markup(store.copy(), simple))


def _chunked(pieces: Iterator[str], size: int = 65536) -> Iterator[bytes]:
    held: list[str] = []
    length = 0
    for piece in pieces:
        held.append(piece)
        length += len(piece)
        if length >= size:
            yield "".join(held).encode("utf-8")
            held.clear()
            length = 0
    if held:
        yield "".join(held).encode("utf-8")


def _markup(store: DataStore, simple: bool) -> Iterator[str]:
    if simple:
        for name, values in store.entries():
            yield _simple_entry_text(name, values)
        return
    yield "<dat:values>"
    types: dict[str, tuple[str, str]] = {}  # each type's attribute text and kind, worked out once a call
    for value in store.values():
        content = value.content
        known = types.get(value.type)
        if known is None:
            known = types[value.type] = (_attr(value.type), kind_of(value.type))
        type_text, kind = known
        head = f'<dat:value id="{_attr(value.id)}" type="{type_text}">'
        if kind == TEXT and content:  # most values
            yield f"{head}<dat:content>{_text(content)}</dat:content></dat:value>"
        else:
            yield f"{head}{_content_text('dat:content', value, kind)}</dat:value>"
    yield "</dat:values><dat:entries>"
    for name, values in store.entries():
        if values:
            refs = _BETWEEN_REFS.join([v.id for v in values])
            if _ESCAPED_IN_ATTR.search(refs):
                refs = _BETWEEN_REFS.join([_attr(v.id) for v in values])
            yield f'<dat:entry name="{_attr(name)}"><dat:value>{refs}</dat:value></dat:entry>'
        else:
            yield f'<dat:entry name="{_attr(name)}"/>'
    yield "</dat:entries>"


_BETWEEN_REFS = "</dat:value><dat:value>"
_ESCAPED_IN_ATTR = re.compile('[&<>"\t\n\r]')  # what _attr writes otherwise than as it is


def _simple_entry_text(name: str, values: tuple[Value, ...]) -> str:
    if not values:
        return f'<dat:entry name="{_attr(name)}"/>'
    content_type = _simple_type(values)
    kind = kind_of(content_type)
    return (f'<dat:entry name="{_attr(name)}" type="{_attr(content_type)}">'
            + "".join(_content_text("dat:value", value, kind) for value in values) + "</dat:entry>")


def _content_text(tag: str, value: Value, kind: str) -> str:
    """A `tag` element holding a value's content as a type of `kind` holds it: text or one element.

    `xmlns=""` on the holder keeps content in no namespace there under a default namespace.
    """
    if kind != XML:
        text = _text_as(value, kind)
        return f"<{tag}>{_text(text)}</{tag}>" if text else f"<{tag}/>"
    content = value.content if value.kind == XML else canonical(value.element())
    if _UNPREFIXED_TAG.search(content):
        return f'<{tag} xmlns="">{content}</{tag}>'
    return f"<{tag}>{content}</{tag}>"


_UNPREFIXED_TAG = re.compile(r"<(?![/?!])[^\s/>:]+[\s/>]")  # canonical XML has no comment or CDATA


def _text(text: str) -> str:
    """Character data as libxml2 writes it (a carriage return as a reference, or a parser drops it)."""
    if "&" in text or "<" in text or ">" in text or "\r" in text:
        return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\r", "&#13;")
    return text


def _attr(text: str) -> str:
    if text.isalnum():  # most IDs
        return text
    return _short_attr(text) if len(text) <= 128 else _attr_of(text)


def _attr_of(text: str) -> str:
    return _text(text).replace('"', "&quot;").replace("\t", "&#9;").replace("\n", "&#10;")


_short_attr = functools.lru_cache(maxsize=1024)(_attr_of)  # content types repeat


def _text_as(value: Value, kind: str) -> str:
    """A value's content as the text a type of `kind` holds (the simple form converts mixed entries)."""
    if kind == BINARY and value.kind != BINARY:
        return base64.b64encode(value.text.encode("utf-8")).decode("ascii")
    return value.text  # text as is, XML serialized, bytes as base64


def _simple_type(values: tuple[Value, ...]) -> str:
    """The type the simple form writes all of an entry's values under: the first, if it can carry them.

    An XML type carries only XML (or text that is one element); else the first type that can (a text or
    binary type always can) is taken, since content that no reader could load back would be lost.
    """
    for content_type in dict.fromkeys(value.type for value in values):
        if kind_of(content_type) != XML or all(map(_is_element, values)):
            return content_type
    return values[0].type


def _is_element(value: Value) -> bool:
    if value.kind != TEXT:
        return value.kind == XML
    try:
        value.element()
        return True
    except XmlError:
        return False


# -- writing JSON -----------------------------------------------------------------------------------

def dump_json(store: DataStore, simple: bool) -> dict:
    """The store as `{"dataStore": {...}}` in the simple or the standard form."""
    return {"dataStore": dump_json_body(store, simple)}


def dump_json_body(store: DataStore, simple: bool) -> dict:
    """The inside of `"dataStore"`, for a key holding a store under its own name (a pipeline)."""
    if simple:
        return {"entry": [_json_entry(name, values) for name, values in store.entries()]}
    return {"values": {"value": [_json_stored_value(value) for value in store.values()]},
            "entries": {"entry": [_json_standard_entry(name, values) for name, values in store.entries()]}}


def dump_json_document(store: DataStore, simple: bool) -> Iterator[bytes]:
    """dump_json's document as UTF-8 JSON text, in pieces written as they are asked for (see json_markup)."""
    return itertools.chain((b'{"dataStore":',), json_markup(store, simple), (b"}",))


def json_markup(store: DataStore, simple: bool) -> Iterator[bytes]:
    """dump_json_body's object as UTF-8 JSON text in pieces of a few hundred items, each written when it
    is asked for: a 10 MB store's answer is never held as Python objects as well, nor whole (issue 15).
    Written from a copy of the store, as xml_markup's."""
    return _json_pieces(store.copy(), simple)


def _json_pieces(store: DataStore, simple: bool) -> Iterator[bytes]:
    if simple:
        yield b'{"entry":['
        yield from _json_items(_json_entry(name, values) for name, values in store.entries())
        yield b"]}"
        return
    yield b'{"values":{"value":['
    yield from _json_items(map(_json_stored_value, store.values()))
    yield b']},"entries":{"entry":['
    yield from _json_items(_json_standard_entry(name, values) for name, values in store.entries())
    yield b"]}}"


def _json_items(items: Iterable[dict], at_once: int = 256) -> Iterator[bytes]:
    """Items of a JSON array, comma-separated, in pieces of `at_once` items: each piece written by one
    call as an array, its brackets dropped (a call for each item: 15.2 ms against 11.7 for the values
    and entries of a 10 MB store)."""
    items = iter(items)
    first = True
    while batch := list(itertools.islice(items, at_once)):
        if not first:
            yield b","
        yield jsontext.dumps_utf8(batch)[1:-1]
        first = False


def _json_stored_value(value: Value) -> dict:
    # (content read straight where it is text: this runs for every value of a 10 MB store)
    return {"type": value.type, "id": value.id,
            "content": {"value": [value.content if value.content.__class__ is str else value.text]}}


def _json_standard_entry(name: str, values: tuple[Value, ...]) -> dict:
    return {"name": name, "value": [value.id for value in values]}


def _json_entry(name: str, values: tuple[Value, ...]) -> dict:
    if not values:
        return {"name": name, "value": []}
    content_type = _simple_type(values)
    kind = kind_of(content_type)
    return {"name": name, "type": content_type, "value": [_text_as(value, kind) for value in values]}


# For the OpenAPI document: the JSON body of a data store (either form), and the fields that are strings.
JSON_BODY_SCHEMA, STRING_FIELDS = _Body, (_Text, _Id)
