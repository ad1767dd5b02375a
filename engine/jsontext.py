"""JSON text, compact and unescaped, for saved state and for answers: written by orjson, several times
faster than the standard library on the request path; where orjson refuses (a lone surrogate, an
integer beyond 64 bits, a key that is not a string, NaN) the standard library writes it. The text is
the standard library's compact form (floats aside, which the engine never writes)."""
from __future__ import annotations

import json
from typing import Any

import orjson


def dumps(data: Any) -> str:
    try:
        return orjson.dumps(data).decode("utf-8")
    except (orjson.JSONEncodeError, TypeError):
        return _standard(data)


def dumps_utf8(data: Any) -> bytes:
    """As `dumps`, encoded: what an answer's body holds."""
    try:
        return orjson.dumps(data)
    except (orjson.JSONEncodeError, TypeError):
        return _standard(data).encode("utf-8")


def _standard(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def loads(text: str | bytes) -> Any:
    """Parse JSON text; ValueError when it is not JSON. What the standard library reads and orjson
    does not (lone surrogates, NaN) is still read."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)
