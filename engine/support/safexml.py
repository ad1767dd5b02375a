"""The one hardened XML parser for every byte that comes from outside (CONTRACT §8).

No DTD is loaded, no entity expanded, nothing fetched from the network, and a document that carries a
DOCTYPE is refused outright. Depth is bounded by libxml2's own limit (256 levels without
`XML_PARSE_HUGE`, which we never set). Callers turn `XmlError` into the error type of their context.
"""
from __future__ import annotations

import copy
import json
import re
import threading
from typing import Iterable

from lxml import etree

_local = threading.local()


class XmlError(Exception):
    """A document that is not acceptable XML; carries the position when the parser knows it."""

    def __init__(self, message: str, line: int | None = None, column: int | None = None) -> None:
        where = f"line {line}, column {column}: " if line is not None else ""
        super().__init__(where + message)
        self.message, self.line, self.column = message, line, column


# What every parser of bytes from outside is told, this one and those that read as they go
# (schemas.plain, soap.envelope): no entity expanded, no DTD loaded, nothing fetched, libxml2's depth
# limit, no index of ID attributes.
HARDENED = {"resolve_entities": False, "no_network": True, "load_dtd": False, "dtd_validation": False,
            "huge_tree": False, "collect_ids": False}


def _parser() -> etree.XMLParser:
    # Parsers are not thread-safe; one per thread, reused.
    parser = getattr(_local, "parser", None)
    if parser is None:
        parser = etree.XMLParser(remove_blank_text=False, **HARDENED)
        _local.parser = parser
    return parser


def parse(data: bytes | str) -> etree._Element:
    """Parse one XML document and return its root element, or raise XmlError."""
    if isinstance(data, str):
        data = data.encode("utf-8") if not data.lstrip().startswith("<?xml") else _strip_decl(data)
    if not data or not data.strip():
        raise XmlError("the document is empty")
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as exc:
        line, column = exc.position if exc.position else (None, None)
        raise XmlError(_clean(exc.msg), line, column) from None
    except ValueError as exc:  # e.g. an encoding lxml refuses
        raise XmlError(str(exc)) from None
    info = root.getroottree().docinfo
    if info.doctype or info.internalDTD is not None:
        raise XmlError("a DOCTYPE is not allowed", *doctype_position(data))
    return root


def parse_own(chunks: Iterable[bytes]) -> etree._Element:
    """Parse a UTF-8 document this service wrote itself, in pieces, from values it had checked (no DTD,
    no entity in it): without the depth limit, since content taken at depth 256 may be written a few
    levels deeper."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=True,
                             remove_blank_text=False, collect_ids=False)
    for chunk in chunks:
        parser.feed(chunk)
    return parser.close()


def _strip_decl(text: str) -> bytes:
    """lxml refuses a str with an encoding declaration; drop it and hand over UTF-8 bytes."""
    end = text.find("?>")
    return text[end + 2:].encode("utf-8") if end >= 0 else text.encode("utf-8")


def _clean(message: str) -> str:
    # libxml2 appends ", line L, column C" itself; the position is reported separately.
    cut = message.rfind(", line ")
    return message[:cut] if cut > 0 else message


def canonical(element: etree._Element) -> str:
    """Exclusive C14N of an element: the form in which the engine stores and compares XML content."""
    try:
        return etree.tostring(element, method="c14n", exclusive=True, with_comments=False).decode("utf-8")
    except etree.C14NError:  # C14N 1.0 refuses relative namespace URIs; 2.0 takes them, slower
        # (on a copy: it carries the namespaces it uses that were declared above it, which 2.0, given
        # the element where it stands, would find undeclared)
        return etree.canonicalize(etree.ElementTree(copy.deepcopy(element)), with_comments=False)


# Markup that may hold a `<` that starts no element: skipped when counting start tags.
_MARKUP = re.compile(r"<!--.*?-->|<!\[CDATA\[.*?\]\]>|<\?.*?\?>|<!DOCTYPE(?:[^\[>]|\[.*?\])*>|<(?![/!?])",
                     re.DOTALL | re.IGNORECASE)


def _text_of(source: bytes | str) -> str:
    return source.decode(_encoding(source), "replace") if isinstance(source, bytes) else source


def _encoding(data: bytes) -> str:
    return json.detect_encoding(data[:4])


def position_of(element: etree._Element, source: bytes | str) -> tuple[int, int] | None:
    """1-based (line, column) of an element's start tag in the source lxml parsed it from.

    lxml records only a line — the line where the start tag ends — so the n-th element in document
    order is found as the n-th start tag of the source, past comments, CDATA and instructions.
    """
    root = element.getroottree().getroot()
    try:
        index = next(i for i, e in enumerate(root.iter(etree.Element)) if e is element)
    except StopIteration:
        return None
    text = _text_of(source)
    starts = (m.start() for m in _MARKUP.finditer(text) if m.group() == "<")
    offset = next((s for i, s in enumerate(starts) if i == index), None)
    if offset is None:
        return None
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


def column_of(element: etree._Element, source: bytes | str) -> int | None:
    """1-based column of an element's start tag (see position_of)."""
    found = position_of(element, source)
    return found[1] if found else None


def doctype_position(source: bytes | str) -> tuple[int, int]:
    text = _text_of(source)
    offset = max(text.upper().find("<!DOCTYPE"), 0)
    return text.count("\n", 0, offset) + 1, offset - (text.rfind("\n", 0, offset) + 1) + 1
