"""JSON text, compact and unescaped, for saved state and for answers: written by orjson, several times
faster than the standard library on the request path; where orjson refuses (a lone surrogate, an
integer beyond 64 bits, a key that is not a string, NaN) the standard library writes it. The text is
the standard library's compact form (floats aside, which the engine never writes)."""
from __future__ import annotations

import json
import re
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


# orjson reads an integer beyond 64 bits as a float, silently losing its digits; only a run of 19 or
# more digits can be one, and text holding such a run (in a string, too) is read by the standard library.
_LONG_DIGITS = re.compile("[0-9]{19}")
_LONG_DIGITS_UTF8 = re.compile(b"[0-9]{19}")


def loads(text: str | bytes) -> Any:
    """Parse JSON text; ValueError when it is not JSON. What the standard library reads and orjson
    does not (lone surrogates, NaN) or misreads (integers of any size) is read as it reads it."""
    long_digits = _LONG_DIGITS_UTF8 if isinstance(text, bytes) else _LONG_DIGITS
    if long_digits.search(text) is None:
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            pass
    return json.loads(text)
