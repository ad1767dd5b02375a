"""Reading a document whose form the document itself tells (CONTRACT §2): XML or JSON.

Every wire form that accepts both (data stores, queries, and the REST bodies) reads through here, so
the two doors agree on what counts as XML, how an unreadable document is reported, and that every XML
byte goes through the hardened parser.
"""
from __future__ import annotations

import json
from typing import Any

from lxml import etree

from engine.errors import InvalidInput
from engine.support.safexml import XmlError, parse

_WS = "\ufeff \t\r\n"


def is_xml(data: bytes | str) -> bool:
    """True when the first character after whitespace and a byte order mark is `<`."""
    head = data[:1024]
    if isinstance(head, bytes):  # UTF-16 and UTF-32 too: a BOM or the zero bytes tell the encoding
        head = head.decode(json.detect_encoding(head), "ignore")
    return head.lstrip(_WS).startswith("<")


def position(line: int | None, column: int | None) -> str:
    """`line L, column C: ` (or less, as far as known) to put before a message."""
    if line is None:
        return ""
    return f"line {line}, column {column}: " if column is not None else f"line {line}: "


def read_xml(data: bytes | str, error: type[InvalidInput]) -> etree._Element:
    """Parse with the hardened parser; `error` carries the position and the reason."""
    try:
        return parse(data)
    except XmlError as exc:
        raise error(f"{position(exc.line, exc.column)}invalid XML: {exc.message}") from None
    except (UnicodeError, ValueError) as exc:  # a str that UTF-8 cannot encode, lone surrogates
        raise error(f"invalid XML: the document is not valid Unicode ({exc})") from None


def read_json(data: bytes | str, error: type[InvalidInput]) -> Any:
    """Parse JSON; a document that does not start with `<` and is no JSON is named neither."""
    try:
        return json.loads(data.lstrip("\ufeff") if isinstance(data, str) else data)
    except json.JSONDecodeError as exc:
        raise error(f"line {exc.lineno}, column {exc.colno}: not XML nor JSON — invalid JSON: {exc.msg}") from None
    except RecursionError:
        raise error("invalid JSON: the document nests too deeply") from None
    except ValueError as exc:  # undecodable bytes, a number too long to read
        raise error(f"invalid JSON: {exc}") from None
