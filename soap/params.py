"""Reading the parameters of a SOAP call the way REST reads its own (CONTRACT §2): lists repeated or
comma-separated, choices checked, text XML can carry, timeouts from -1 up; every refusal an
InvalidParameter naming the parameter. Also the caller and the engine of the call."""
from __future__ import annotations

from typing import Any, Iterable

from lxml import etree

from engine.datastore import DataStore, check_xml_text
from engine.errors import InvalidDataStore, InvalidParameter
from engine.query import Query
from engine.security import Principal
from schemas import datastore, query as query_form


def engine(ctx: Any) -> Any:
    return ctx.app.engine


def principal(ctx: Any) -> Principal:
    return ctx.transport.req_env["pe.principal"]


def text(name: str, value: str | None, required: bool = False, choices: tuple[str, ...] = ()) -> str | None:
    if value is None:
        if required:
            raise InvalidParameter(name, "is required")
        return None
    try:
        value = check_xml_text(value, "the value")
    except InvalidDataStore as exc:
        raise InvalidParameter(name, exc.message) from None
    if choices and value not in choices:
        raise InvalidParameter(name, f"{value!r} is not one of {', '.join(choices)}")
    return value


def texts(name: str, values: Iterable[str] | None, choices: tuple[str, ...] = ()) -> list[str]:
    """A list parameter: the element repeated, or one comma-separated value; blanks dropped."""
    parts = [part.strip() for value in values or () if value is not None for part in value.split(",")]
    return [text(name, part, choices=choices) for part in parts if part]


def flag(value: bool | None, default: bool | None = False) -> bool | None:
    return default if value is None else value


def required_flag(name: str, value: bool | None) -> bool:
    if value is None:
        raise InvalidParameter(name, "is required")
    return value


def stream(data: bytes | list | None) -> bytes | None:
    """A base64Binary parameter: Spyne hands over the decoded bytes (in one or more pieces)."""
    if data is None:
        return None
    return b"".join(data) if isinstance(data, (list, tuple)) else bytes(data)


def read_timeout(name: str, value: int | None, default: int = -1) -> int:
    if value is None:
        return default
    if value < -1:
        raise InvalidParameter(name, f"{value} is neither -1 (block) nor a number of milliseconds")
    return value


def number(name: str, value: int | None) -> int | None:
    if value is not None and not -(2 ** 63) <= value < 2 ** 63:
        raise InvalidParameter(name, f"{value} is out of range")
    return value


def _document(element: etree._Element | None) -> Any:
    """The document a parameter element holds: its child element, or its text (JSON, or XML as text)."""
    if element is None:
        return None
    children = [child for child in element if isinstance(child.tag, str)]
    if len(children) > 1:
        return children  # the caller's mistake, named by the reader
    if children:
        return children[0]
    return element.text if element.text and element.text.strip() else None


def data_store(name: str, element: etree._Element | None, required: bool = False) -> DataStore | None:
    document = _document(element)
    if isinstance(document, list):
        raise InvalidDataStore(f"{name}: holds {len(document)} elements; give one dataStore element")
    if document is None:
        if required:
            raise InvalidParameter(name, "is required")
        return None
    return datastore.load(document)


def read_query(name: str, element: etree._Element | None) -> Query:
    document = _document(element)
    if isinstance(document, list):
        raise InvalidParameter(name, f"holds {len(document)} elements; give one query element")
    if document is None:
        raise InvalidParameter(name, "is required")
    return query_form.load(document)
