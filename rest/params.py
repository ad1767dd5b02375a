"""Everything the REST door reads from a request, in one place: query, path and header parameters
(booleans, numbers, timeouts, lists, timestamps), content negotiation, and bodies.

A parameter is declared once (`Param`); the same declaration parses it and describes it in the
OpenAPI document. Every malformed value is an InvalidParameter naming the parameter (CONTRACT §2).
"""
from __future__ import annotations

import json
import re
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, Any, Callable, Iterator

from flask import Request
from werkzeug.exceptions import ClientDisconnected

from engine.support.clock import check_timeout, parse_timestamp
from engine.model.datastore import check_xml_text
from engine.errors import (InvalidDataStore, InvalidParameter, NotAcceptable, PayloadTooLarge, UnsupportedMediaType,
                           shown)
from schemas.signatures import Parameter, snake_case

JSON, XML = "application/json", "application/xml"
XML_TYPES = ("application/xml", "text/xml")


def parse_string(name: str, text: str) -> str:
    """Text the engine can store and every answer can carry: characters XML 1.0 allows (no NUL)."""
    try:
        return check_xml_text(text, "the value")
    except InvalidDataStore as exc:
        raise InvalidParameter(name, exc.message) from None


def parse_boolean(name: str, text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("true", "1"):
        return True
    if lowered in ("false", "0"):
        return False
    raise InvalidParameter(name, f"{shown(text)} is not a boolean (true, false, 1 or 0)")


def parse_integer(name: str, text: str) -> int:
    try:
        value = int(text.strip())
    except ValueError:
        raise InvalidParameter(name, f"{shown(text)} is not an integer") from None
    if not -(2 ** 63) <= value < 2 ** 63:
        raise InvalidParameter(name, f"{shown(text)} is out of range")
    return value


def parse_timeout(name: str, text: str) -> int:
    return check_timeout(parse_integer(name, text), name)


def parse_timestamp_param(name: str, text: str) -> datetime:
    try:
        return parse_timestamp(text)
    except (ValueError, OverflowError):
        raise InvalidParameter(name, f"{shown(text)} is not an ISO 8601 timestamp") from None


@dataclass(frozen=True)
class Param:
    """One parameter of an endpoint: where it is, how it parses, how it is described."""

    name: str
    kind: str = "string"              # string | boolean | integer | timeout | timestamp
    where: str = "query"              # query | path | header
    many: bool = False                # a list: the parameter repeated, or comma-separated
    required: bool = False
    default: Any = None
    choices: tuple[str, ...] = ()
    description: str = ""
    arg: str | None = None            # the handler's keyword, when it differs from the name

    @property
    def keyword(self) -> str:
        return self.arg or snake_case(self.name)

    @property
    def optional_query(self) -> bool:
        """Read only when present: absent, it is its default."""
        return self.where == "query" and not self.required

    @classmethod
    def declared(cls, parameter: Parameter, path: str) -> "Param":
        """The REST form of an operation's parameter (`schemas.signatures`): in the path where the route
        names it, else in the query."""
        where = "path" if f"{{{parameter.name}}}" in path else "query"
        return cls(parameter.name, parameter.kind, where, parameter.many, parameter.required or where == "path",
                   parameter.default, parameter.choices, parameter.description, parameter.arg)

    def absent(self) -> Any:
        return [] if self.many else self.default

    def read(self, request: Request, path_args: dict[str, str], args: Any = None) -> Any:
        """The parsed value (`args`: the request's query arguments, when the caller holds them)."""
        raw = self._raw(request, path_args, request.args if args is None else args)
        if not raw:
            if self.required:
                raise InvalidParameter(self.name, "is required")
            return [] if self.many else self.default
        values = [self._parse(text) for text in raw]
        return values if self.many else values[-1]

    def _raw(self, request: Request, path_args: dict[str, str], args: Any) -> list[str]:
        if self.where == "path":
            return [path_args[self.name]]
        if self.where == "header":
            value = request.headers.get(self.name)
            return [value] if value is not None else []
        if self.name not in args:
            return []
        values = args.getlist(self.name)
        if self.many:
            values = [part for value in values for part in value.split(",")]
        return [v for v in values if v.strip()] if self.many else values

    def _parse(self, text: str) -> Any:
        parsed = _PARSERS[self.kind](self.name, text)
        if self.choices and parsed not in self.choices:
            raise InvalidParameter(self.name, f"{shown(text)} is not one of {', '.join(self.choices)}")
        return parsed


_PARSERS: dict[str, Callable[[str, str], Any]] = {
    "string": parse_string, "boolean": parse_boolean, "integer": parse_integer,
    "timeout": parse_timeout, "timestamp": parse_timestamp_param,
}


@dataclass(frozen=True)
class Negotiated:
    """How to answer: XML or JSON (Accept), and the data store form (x-infinica-datastore-mode)."""

    xml: bool
    simple: bool
    options: dict = field(default_factory=dict)


DATASTORE_MODE = Param("x-infinica-datastore-mode", where="header", choices=("simple", "standard"),
                       default="simple", description="The form of data stores in the answer.")


def wants_xml(request: Request) -> bool:
    """XML when Accept prefers an XML type to JSON; JSON when it is absent, */* or JSON."""
    accept = request.headers.get("Accept")
    if not accept or accept in ("*/*", JSON):
        return False
    best = request.accept_mimetypes.best_match([JSON, *XML_TYPES], default=JSON)
    return best in XML_TYPES and request.accept_mimetypes.best not in (None, "*/*")


_NEGOTIATED = {(xml, simple): Negotiated(xml, simple, {"simple": simple})
               for xml in (False, True) for simple in (False, True)}


def negotiate(request: Request, produces: tuple[str, ...] = ()) -> Negotiated:
    """How to answer; NotAcceptable when the Accept header allows none of the types the answer can be
    given as (`produces`; none: an answer without a body, which any Accept allows)."""
    accept = request.headers.get("Accept")
    if accept and produces and request.accept_mimetypes.best_match(produces) is None:
        raise NotAcceptable(f"this operation answers {', '.join(produces)}; the Accept header allows none of them")
    mode = DATASTORE_MODE.name in request.headers and DATASTORE_MODE.read(request, {})
    return _NEGOTIATED[wants_xml(request), mode in (False, "simple")]


def body_kind(request: Request, accepted: tuple[str, ...]) -> str | None:
    """The body's media type among `accepted` ('json', 'xml', 'text', 'form'), None for no body, or
    UnsupportedMediaType."""
    if not request.content_length and not request.headers.get("Transfer-Encoding") and not request.mimetype:
        return None
    mimetype = request.mimetype
    kind = ("json" if mimetype == JSON or mimetype.endswith("+json") else
            "xml" if mimetype in XML_TYPES or mimetype.endswith("+xml") else
            "text" if mimetype == "text/plain" else "form" if mimetype == "multipart/form-data" else None)
    if kind is None or kind not in accepted:
        if not mimetype and "text" in accepted:
            return "text"
        names = {"json": JSON, "xml": "application/xml or text/xml", "text": "text/plain",
                 "form": "multipart/form-data"}
        wanted = ", ".join(names[k] for k in accepted)
        raise UnsupportedMediaType(f"a body of type {mimetype or 'unknown'!r} is not taken here; send {wanted}")
    return kind


def raw_body(request: Request, limit: int) -> bytes:
    """The whole body, or PayloadTooLarge (see `_pieces`)."""
    held = request.environ.get("pe.body")
    if held is not None:
        return held
    stream = request.environ.get("wsgi.input")
    if stream is None:
        data = request.get_data(cache=True)
    else:  # (in one read: one piece, which the join hands back as it is)
        data = b"".join(_pieces(stream, request.content_length, limit, limit + 1))
    request.environ["pe.body"] = data
    return data


def _pieces(stream: IO[bytes], length: int | None, limit: int, piece: int) -> Iterator[bytes]:
    """The body `piece` bytes at a time: as long as its Content-Length says, or, without one (chunked),
    up to one byte past the limit: Werkzeug's own limit would silently cut it short instead. Past the
    limit, PayloadTooLarge; short of the length, ClientDisconnected."""
    if length is not None and length > limit:
        raise PayloadTooLarge("the request body is larger than this service accepts")
    left = limit + 1 if length is None else length
    while left:
        data = stream.read(min(left, piece))
        if not data:
            break
        left -= len(data)
        yield data
    if length is not None and left:
        raise ClientDisconnected()
    if length is None and not left:
        raise PayloadTooLarge("the request body is larger than this service accepts")


SPOOLED = 1 << 20  # a data store body this long, or of no stated length, is spooled to a file (spooled_body)


def spools(request: Request) -> bool:
    """Whether a data store body goes to `spooled_body` rather than `raw_body`."""
    length = request.content_length
    return request.environ.get("wsgi.input") is not None and "pe.body" not in request.environ and (
        length >= SPOOLED if length is not None else bool(request.headers.get("Transfer-Encoding")))


@contextmanager
def spooled_body(request: Request, limit: int, piece: int = 1 << 18) -> Iterator[IO[bytes]]:
    """The body written to a temporary file as it arrives, a piece at a time (the file goes when the
    block ends): a large data store is read from there (schemas.datastore.load_spooled) and is never
    whole in the worker's memory (issue 15). Limits as raw_body's."""
    with tempfile.NamedTemporaryFile(prefix="pe-body-") as spool:
        for data in _pieces(request.environ["wsgi.input"], request.content_length, limit, piece):
            spool.write(data)
        spool.flush()
        yield spool


def blank_file(file: IO[bytes], piece: int = 1 << 16) -> bool:
    """Whether a file holds whitespace only (read until it does not)."""
    file.seek(0)
    for data in iter(lambda: file.read(piece), b""):
        if not BLANK.fullmatch(data):
            return False
    return True


BLANK = re.compile(rb"\s*")  # a blank body (not strip(): that copies a 10 MB body to find it is not blank)


def release_body(request: Request) -> None:
    """Let go of the body once it has been read into what it stands for: a 10 MB data store's bytes
    would otherwise stay beside the store and the answer for the rest of the call (issue 15: peak
    memory). Nothing reads a body twice; a later raw_body would find it empty."""
    request.environ.pop("pe.body", None)
    request._cached_data = b""  # Werkzeug's copy (get_data(cache=True))


def json_text_body(raw: bytes, name: str, kind: str) -> str:
    """A text/plain body sent as JSON instead (a JSON string, boolean, or list of strings for a
    comma-separated text), read as the text it stands for."""
    try:
        value = json.loads(raw)
    except ValueError:
        raise InvalidParameter(name, "the body is not JSON") from None
    if kind == "boolean" and isinstance(value, bool):
        return "true" if value else "false"
    if kind == "strings" and isinstance(value, list) and all(isinstance(v, str) for v in value):
        return ",".join(parse_string(name, v) for v in value)
    if isinstance(value, str):
        return parse_string(name, value)
    wanted = {"boolean": "a JSON boolean or string", "strings": "a JSON array of strings or a string"}
    raise InvalidParameter(name, f"the body must be {wanted.get(kind, 'a JSON string')}, not {shown(value)}")


def text_body(request: Request, name: str, limit: int) -> str:
    """A text/plain body, decoded as UTF-8 (or its charset)."""
    try:
        text = raw_body(request, limit).decode(request.mimetype_params.get("charset", "utf-8"))
    except (UnicodeDecodeError, LookupError):
        raise InvalidParameter(name, "the body is not text in its charset (UTF-8 by default)") from None
    return parse_string(name, text)
