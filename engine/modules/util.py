"""The built-in `util` module: small, pure helpers a process often needs."""
from __future__ import annotations

import base64
import hashlib
import time
import uuid
from typing import Mapping

from ..model.datastore import Value, make_value
from ..faults import Fault
from . import InvokeContext, Operation

MAX_SLEEP_MS = 60_000


def _text(params: Mapping[str, tuple[Value, ...]], name: str) -> str:
    values = params.get(name)
    if not values:
        raise Fault("InvalidParameter", f"parameter {name!r} is required")
    return values[0].text


def _uuid(ctx: InvokeContext, params: Mapping[str, tuple[Value, ...]]) -> Value:
    return make_value(ctx.new_id(), "text/plain", str(uuid.uuid4()))


def _sha256(ctx: InvokeContext, params: Mapping[str, tuple[Value, ...]]) -> Value:
    value = params.get("data", ())
    if not value:
        raise Fault("InvalidParameter", "parameter 'data' is required")
    content = value[0].content
    data = content if isinstance(content, bytes) else content.encode("utf-8")
    return make_value(ctx.new_id(), "text/plain", hashlib.sha256(data).hexdigest())


def _base64_encode(ctx: InvokeContext, params: Mapping[str, tuple[Value, ...]]) -> Value:
    return make_value(ctx.new_id(), "text/plain", base64.b64encode(_text(params, "text").encode()).decode())


def _base64_decode(ctx: InvokeContext, params: Mapping[str, tuple[Value, ...]]) -> Value:
    try:
        raw = base64.b64decode(_text(params, "text"), validate=True).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        raise Fault("InvalidParameter", "parameter 'text' is not base64 of UTF-8 text") from None
    return make_value(ctx.new_id(), "text/plain", raw)


def _case(upper: bool):
    def run(ctx: InvokeContext, params: Mapping[str, tuple[Value, ...]]) -> Value:
        text = _text(params, "text")
        return make_value(ctx.new_id(), "text/plain", text.upper() if upper else text.lower())
    return run


def _sleep(ctx: InvokeContext, params: Mapping[str, tuple[Value, ...]]) -> None:
    try:
        millis = int(float(_text(params, "ms")))
    except ValueError:
        raise Fault("InvalidParameter", "parameter 'ms' is not a number") from None
    if not 0 <= millis <= MAX_SLEEP_MS:
        raise Fault("InvalidParameter", f"parameter 'ms' must be between 0 and {MAX_SLEEP_MS}")
    time.sleep(millis / 1000)


class UtilModule:
    name = "util"
    version = "1.0"
    descriptions = {"en": "Small helpers: identifiers, hashes, encodings, text case, pauses.",
                    "de": "Kleine Helfer: Kennungen, Prüfsummen, Kodierungen, Groß-/Kleinschreibung, Pausen."}
    operations = {
        "uuid": Operation(_uuid, {"en": "A new random UUID.", "de": "Eine neue zufällige UUID."}),
        "sha256": Operation(_sha256, {"en": "SHA-256 of data, as hex.", "de": "SHA-256 von data, hexadezimal."},
                            {"data": "text or binary value"}),
        "base64Encode": Operation(_base64_encode, {"en": "Base64 of text (UTF-8).", "de": "Base64 von text (UTF-8)."},
                                  {"text": "text"}),
        "base64Decode": Operation(_base64_decode, {"en": "Text from base64.", "de": "Text aus Base64."},
                                  {"text": "base64"}),
        "upper": Operation(_case(True), {"en": "text in upper case.", "de": "text in Großbuchstaben."}, {"text": "text"}),
        "lower": Operation(_case(False), {"en": "text in lower case.", "de": "text in Kleinbuchstaben."}, {"text": "text"}),
        "sleep": Operation(_sleep, {"en": "Pause for ms milliseconds (at most 60000), holding the thread.",
                                    "de": "Pause von ms Millisekunden (höchstens 60000); belegt den Thread."},
                           {"ms": "milliseconds"}),
    }
