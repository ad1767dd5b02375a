"""Data stores (CONTRACT §4): ordered, named entries of typed values.

A value has an ID, a MIME content type and content: `str` for text types, canonical XML text for XML
types, and `bytes` for everything else. Values are immutable, so an entry may share a value with
another entry; the store keeps one value per ID. The wire forms live in `schemas/datastore.py`; this
module knows none of them.
"""
from __future__ import annotations

import base64
import collections
import functools
import re
from dataclasses import dataclass
from typing import Iterable, Iterator

from lxml import etree

from ..errors import InvalidDataStore
from ..support.safexml import XmlError, canonical, parse

TEXT, XML, BINARY = "text", "xml", "binary"

_MIME = re.compile(r"^[A-Za-z0-9][\w.+-]*/[\w.+-]+(\s*;.*)?$")
_NOT_XML_CHAR = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


@functools.lru_cache(maxsize=1024)
def kind_of(content_type: str) -> str:
    """Which content a MIME type holds: TEXT, XML or BINARY (asked for every value: remembered)."""
    base = content_type.split(";", 1)[0].strip().lower()
    if base in ("text/xml", "application/xml") or base.endswith("+xml"):
        return XML
    if base.startswith("text/") or base == "application/json":
        return TEXT
    return BINARY


def check_xml_text(text: str, what: str) -> str:
    """Refuse text that XML 1.0 cannot carry, so every form of the store can hold it."""
    bad = _NOT_XML_CHAR.search(text)
    if bad:
        raise InvalidDataStore(f"{what} contains U+{ord(bad.group()):04X}, which XML cannot carry")
    return text


@dataclass(frozen=True, slots=True)
class Value:
    id: str
    type: str
    content: str | bytes

    @property
    def kind(self) -> str:
        return kind_of(self.type)

    @property
    def text(self) -> str:
        """The content as text: itself for text and XML, base64 for binary."""
        if isinstance(self.content, bytes):
            return base64.b64encode(self.content).decode("ascii")
        return self.content

    def element(self) -> etree._Element:
        """A fresh parsed copy of XML content (callers may modify or move it)."""
        return parse(self.content if isinstance(self.content, str) else self.content.decode())

    def with_id(self, new_id: str) -> "Value":
        return Value(new_id, self.type, self.content)


@functools.lru_cache(maxsize=1024)
def is_mime_type(content_type: str) -> bool:
    return bool(content_type) and _MIME.match(content_type) is not None


def make_value(value_id: str, content_type: str, content: "str | bytes | etree._Element",
               what: str = "value", parsed: bool = False) -> Value:
    """Build a value, converting content to the form its type holds; InvalidDataStore if it cannot.
    `parsed`: text content comes from an XML parser, which admits no character XML cannot carry."""
    if not isinstance(content_type, str) or not is_mime_type(content_type):
        raise InvalidDataStore(f"{what}: {content_type!r} is not a MIME type")
    kind = kind_of(content_type)
    if kind == BINARY:
        if isinstance(content, str):
            try:
                content = base64.b64decode(content.strip().encode("ascii"), validate=True)
            except (ValueError, UnicodeEncodeError):
                raise InvalidDataStore(f"{what}: content of type {content_type} must be base64") from None
        elif not isinstance(content, bytes):
            raise InvalidDataStore(f"{what}: content of type {content_type} must be base64, not XML")
        return Value(value_id, content_type, content)
    if kind == XML:
        if isinstance(content, (str, bytes)):
            try:
                content = parse(content)
            except XmlError as exc:
                raise InvalidDataStore(f"{what}: content of type {content_type} is not XML: {exc}") from None
        return Value(value_id, content_type, canonical(content))
    if isinstance(content, bytes):
        try:
            content = content.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidDataStore(f"{what}: content of type {content_type} is not UTF-8") from None
    if not isinstance(content, str):
        content = etree.tostring(content, encoding="unicode")
    elif parsed:
        return Value(value_id, content_type, content)
    return Value(value_id, content_type, check_xml_text(content, what))


class DataStore:
    """An ordered mapping of entry names to value lists, with one value per ID across entries.

    Made to hold a 10 MB store without copies (issue 15: a call's peak memory): the index by ID is
    built when a change first needs it, and a copy shares its dicts until either side changes."""

    __slots__ = ("_entries", "_by_id", "_refs", "_next", "_shared")

    def __init__(self, entries: Iterable[tuple[str, Iterable[Value]]] = ()) -> None:
        self._entries: dict[str, tuple[Value, ...]] = {}
        self._by_id: dict[str, Value] | None = {}
        self._refs: dict[str, int] | None = {}
        self._next = 1
        self._shared = False
        for name, values in entries:
            if name in self._entries:
                raise InvalidDataStore(f"entry {name!r} appears twice")
            self.set(name, values)

    @classmethod
    def of(cls, entries: dict[str, tuple[Value, ...]]) -> "DataStore":
        """A store of these entries as they are, taken in one step (a reader's: 28,000 values at once).
        The caller vouches for them: non-empty names, and one value per ID across entries."""
        store = cls()
        store._entries, store._by_id, store._refs = entries, None, None
        return store

    # -- reading -------------------------------------------------------------------------------
    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, DataStore) and list(self._entries.items()) == list(other._entries.items())

    def __repr__(self) -> str:
        return f"DataStore({list(self._entries.items())!r})"

    def get(self, name: str) -> tuple[Value, ...]:
        return self._entries.get(name, ())

    def entries(self) -> list[tuple[str, tuple[Value, ...]]]:
        return list(self._entries.items())

    def values(self) -> list[Value]:
        """Every distinct value, in order of first appearance (a later entry holding an ID holds the
        same value, so the comprehension may overwrite it: the position stays the first)."""
        return list({value.id: value for values in self._entries.values() for value in values}.values())

    def first_text(self, name: str, default: str | None = None) -> str | None:
        values = self._entries.get(name)
        return values[0].text if values else default

    # -- writing -------------------------------------------------------------------------------
    def set(self, name: str, values: Iterable[Value], _renamed: dict[str, Value] | None = None) -> None:
        """Replace (or add, at the end) entry `name`; a value whose ID clashes gets a fresh ID."""
        self._own()
        held = self._entries.pop(name, None)
        if held is None:  # a name already held was checked when it came in
            if not isinstance(name, str) or not name:
                raise InvalidDataStore("an entry needs a non-empty name")
            check_xml_text(name, f"entry name {name!r}")
        values = tuple(values)
        self._release(held or ())
        renamed = {} if _renamed is None else _renamed
        self._entries[name] = tuple(self._adopt(v, renamed) for v in values)

    def append(self, name: str, values: Iterable[Value]) -> None:
        self.set(name, self.get(name) + tuple(values))

    def remove(self, name: str) -> None:
        self._own()
        self._release(self._entries.pop(name, ()))

    def update(self, other: "DataStore") -> None:
        """Merge `other` in: its entries replace same-named ones; sharing inside `other` survives."""
        if not self._entries:  # into an empty store (a first start's parameters): `other` as it is
            self._take(other)
            return
        renamed: dict[str, Value] = {}
        for name, values in other.entries():
            self.set(name, values, renamed)

    def new_id(self) -> str:
        by_id = self._index()[0]
        while str(self._next) in by_id:
            self._next += 1
        return str(self._next)

    def copy(self) -> "DataStore":
        clone = DataStore()
        clone._take(self)
        return clone

    def _take(self, other: "DataStore") -> None:
        """Hold what `other` holds, sharing its dicts until one of the two changes (values are
        immutable, so the entries' tuples are shared for good)."""
        self._entries, self._by_id, self._refs = other._entries, other._by_id, other._refs
        self._next = max(self._next, other._next)
        self._shared = other._shared = True

    def _own(self) -> None:
        """Dicts of this store's own, and its index, before it changes them (the index is built from
        the entries as they are: after a change began, it would miss what the change took out)."""
        if self._shared:
            self._entries = dict(self._entries)
            self._by_id = None if self._by_id is None else dict(self._by_id)
            self._refs = None if self._refs is None else dict(self._refs)
            self._shared = False
        self._index()

    def _index(self) -> tuple[dict[str, Value], dict[str, int]]:
        """Each value by its ID, and how many entries hold it: built from the entries when first asked."""
        if self._by_id is None or self._refs is None:
            self._by_id = {value.id: value for values in self._entries.values() for value in values}
            self._refs = collections.Counter(value.id for values in self._entries.values() for value in values)
        return self._by_id, self._refs

    def _adopt(self, value: Value, renamed: dict[str, Value]) -> Value:
        by_id, refs = self._index()
        moved = renamed.get(value.id)
        if moved is not None and (moved.type, moved.content) == (value.type, value.content):
            value = moved
        held = by_id.get(value.id)
        if held is not None and held is not value and held != value:
            fresh = value.with_id(self.new_id())
            renamed[value.id] = fresh
            value = fresh
        by_id[value.id] = value
        refs[value.id] = refs.get(value.id, 0) + 1
        return value

    def _release(self, values: Iterable[Value]) -> None:
        by_id, refs = self._index()
        for value in values:
            left = refs[value.id] - 1
            if left:
                refs[value.id] = left
            else:
                del refs[value.id], by_id[value.id]
