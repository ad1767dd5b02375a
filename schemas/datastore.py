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
import copy
import itertools
import json
import re
from typing import Any, Callable, Iterable, Iterator, NoReturn

from lxml import etree
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from engine.datastore import BINARY, TEXT, XML, DataStore, Value, check_xml_text, kind_of, make_value
from engine.errors import InvalidDataStore
from engine.safexml import XmlError, column_of
from schemas.documents import is_xml, position as _at, read_json, read_xml
from schemas.namespaces import DATASTORE, qname
from schemas.xsd import SchemaViolation, schema
from schemas.xsd import validate as xsd_validate

_XSD = "datastore.xsd"
_NSMAP = {"dat": DATASTORE}
_STORE, _VALUES, _VALUE, _ENTRIES, _ENTRY, _CONTENT = (
    qname(DATASTORE, local) for local in ("dataStore", "values", "value", "entries", "entry", "content"))
_WS = " \t\r\n"  # XML's whitespace; other Unicode spaces are content
_ANY_WS = re.compile(f"[{_WS}]")
_JSON_TYPES = {list: "an array", str: "a string", bool: "a boolean", int: "a number", float: "a number",
               type(None): "null", dict: "an object"}

Fail = Callable[[Any, str], NoReturn]  # raises InvalidDataStore naming a place in the input and a reason


# -- reading: any form ------------------------------------------------------------------------------

def load(data: bytes | str | dict | etree._Element) -> DataStore:
    """Read a data store in any of the four forms, told apart by the document itself (CONTRACT §2).

    Text whose first character after whitespace and a byte order mark is `<` is XML, other text JSON;
    a dict is parsed JSON; an element is a parsed dataStore element (e.g. inside a SOAP body).
    """
    if isinstance(data, etree._Element):
        return load_xml(data)
    if isinstance(data, dict):
        return load_json(data)
    if not isinstance(data, (bytes, str)):
        raise InvalidDataStore(f"a data store is an XML or JSON document, not {_json_type(data)}")
    if not data.strip(b" \t\r\n" if isinstance(data, bytes) else _WS):
        raise InvalidDataStore("the data store document is empty")
    if is_xml(data):
        return _XmlReader(data).store(read_xml(data, InvalidDataStore))
    return load_json(read_json(data, InvalidDataStore))


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
    holder.tag = _STORE
    holder.attrib.clear()
    return _XmlReader(None).store(holder)


class _XmlReader:
    """Walks a dataStore element; with the source text at hand, messages also give the column."""

    def __init__(self, source: bytes | str | None) -> None:
        self.source = source

    def store(self, root: etree._Element) -> DataStore:
        if root.tag != _STORE:
            found = root.tag if isinstance(root.tag, str) else "a comment or instruction"
            self.fail(root, f"expected the element {{{DATASTORE}}}dataStore, found {found}")
        self.check_schema(root)
        if root.find(_ENTRY) is not None:
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
            value_id = item.get("id", "").strip(_WS)  # the XSD saw to it that id, type and content exist
            yield self.value(value_id, item.get("type", ""), item.find(_CONTENT), f"value {value_id!r}"), item

    def entries(self, root: etree._Element) -> Iterator[tuple[str, list[str], etree._Element]]:
        for entry in root.iterfind("dat:entries/dat:entry", _NSMAP):
            ids = [(ref.text or "").strip(_WS) for ref in entry.iterfind(_VALUE)]
            yield entry.get("name", ""), ids, entry

    def simple_entries(self, root: etree._Element) -> Iterator[tuple[str, list[Value], etree._Element]]:
        ids = map(str, itertools.count(1))  # the simple form carries no IDs
        for entry in root.iterfind(_ENTRY):
            name, content_type, items = entry.get("name", ""), entry.get("type"), entry.findall(_VALUE)
            if items and content_type is None:
                self.fail(entry, f"entry {name!r} has values but no type")
            what = f"entry {name!r}"
            yield name, [self.value(next(ids), content_type, item, what) for item in items], entry

    def value(self, value_id: str, content_type: str, content: etree._Element, what: str) -> Value:
        try:
            return make_value(value_id, content_type, _xml_content(content, content_type, what), what, parsed=True)
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


def _xml_content(content: etree._Element, content_type: str, what: str) -> str | etree._Element:
    """What make_value takes: the one element for XML types, the exact text (comments left out) else."""
    if not len(content):  # no child at all, not even a comment: its text is all (most values, fast)
        kind = kind_of(content_type)
        if kind == TEXT:
            return content.text or ""
        if kind == BINARY:
            return _ANY_WS.sub("", content.text or "")
    elements = [child for child in content if isinstance(child.tag, str)]
    text = (content.text or "") + "".join(child.tail or "" for child in content)
    kind = kind_of(content_type)
    if kind == XML:
        if len(elements) != 1 or text.strip(_WS):
            found = f"{len(elements)} element(s)" + (" and text" if text.strip(_WS) else "")
            raise InvalidDataStore(f"{what}: content of type {content_type} must be one XML element, "
                                   f"found {found}")
        return elements[0]
    if elements:
        raise InvalidDataStore(f"{what}: content of type {content_type} must be text, not XML")
    return _ANY_WS.sub("", text) if kind == BINARY else text


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
        text = super()._deserialize(value, attr, data, **kwargs).strip(_WS)
        if not text or _ANY_WS.search(text):
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
        text = _ANY_WS.sub("", text)
    return make_value(value_id, content_type, text, where)


def _json_fail(where: str, message: str) -> NoReturn:
    raise InvalidDataStore(f"{where}: {message}")


# -- writing XML ------------------------------------------------------------------------------------

def dump_xml(store: DataStore, simple: bool) -> etree._Element:
    """The store as a dataStore element (prefix dat) in the simple or the standard form."""
    root = etree.Element(_STORE, nsmap=_NSMAP)
    dump_xml_into(root, store, simple)
    return root


def dump_xml_children(store: DataStore, simple: bool) -> list[etree._Element]:
    """The children of dump_xml's element, for an element holding a store under its own name.

    Prefer dump_xml_into: when elements move, lxml re-prefixes XML content whose namespaces the new
    ancestors declare, which changes its canonical text (and, if the content rebinds one of their
    prefixes, its meaning).
    """
    return list(dump_xml(store, simple))


def dump_xml_into(parent: etree._Element, store: DataStore, simple: bool) -> None:
    """Write the children of a dataStore element into `parent` (e.g. a snapshot's pipeline)."""
    if simple:
        for name, values in store.entries():
            entry = etree.SubElement(parent, _ENTRY, {"name": name})
            if values:
                content_type = _simple_type(values)
                entry.set("type", content_type)
                for value in values:
                    _put(entry, _VALUE, value, kind_of(content_type))
        return
    values_element = etree.SubElement(parent, _VALUES)
    sub = etree.SubElement
    for value in store.values():
        holder = sub(values_element, _VALUE, {"id": value.id, "type": value.type})
        kind = value.kind
        if kind == TEXT:  # most values, inline
            sub(holder, _CONTENT).text = value.content
        else:
            _put(holder, _CONTENT, value, kind)
    entries = etree.SubElement(parent, _ENTRIES)
    for name, values in store.entries():
        entry = etree.SubElement(entries, _ENTRY, {"name": name})
        for value in values:
            etree.SubElement(entry, _VALUE).text = value.id


def _put(parent: etree._Element, tag: str, value: Value, kind: str) -> None:
    """Add a `tag` element holding a value's content as a type of `kind` holds it: text or one element.

    `xmlns=""` on the holder keeps content in no namespace there if it is ever moved under a default one.
    """
    if kind != XML:
        etree.SubElement(parent, tag).text = _text_as(value, kind)
        return
    element = value.element()
    bare = element.xpath("boolean(descendant-or-self::*[namespace-uri()=''])")
    holder = etree.SubElement(parent, tag, nsmap={None: ""} if bare else None)
    if any(uri and uri in value.content for uri in holder.nsmap.values()):
        _rebuild(holder, element)  # appending would re-prefix these namespaces
    else:
        holder.append(element)


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
    return {
        "values": {"value": [{"type": value.type, "id": value.id, "content": {"value": [value.text]}}
                             for value in store.values()]},
        "entries": {"entry": [{"name": name, "value": [value.id for value in values]}
                              for name, values in store.entries()]},
    }


def _json_entry(name: str, values: tuple[Value, ...]) -> dict:
    if not values:
        return {"name": name, "value": []}
    content_type = _simple_type(values)
    kind = kind_of(content_type)
    return {"name": name, "type": content_type, "value": [_text_as(value, kind) for value in values]}


# For the OpenAPI document: the JSON body of a data store (either form), and the fields that are strings.
JSON_BODY_SCHEMA, STRING_FIELDS = _Body, (_Text, _Id)
