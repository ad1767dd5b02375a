"""The engine's own serialisation of saved state (not a wire format).

Every saved row carries `state_format`. `decode_*` reads the current format and every older one it
knows an upgrade for; anything else — a newer format, or bytes that do not decode — raises
`CorruptState`, and the instance is reported `CORRUPT` rather than misread.
"""
from __future__ import annotations

import base64
from typing import Any, Callable

from ..support import jsontext
from ..model.datastore import BINARY, DataStore, Value, kind_of

STATE_FORMAT = 1

# Upgrades from an older format to the next: {old_format: function(row_fields) -> row_fields}.
UPGRADES: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {}


class CorruptState(Exception):
    """Saved state this engine cannot read."""


def upgrade_fields(fmt: int, fields: dict[str, Any]) -> dict[str, Any]:
    """Bring the JSON fields of a row saved in format `fmt` up to STATE_FORMAT."""
    if not isinstance(fmt, int) or fmt > STATE_FORMAT or fmt < 1:
        raise CorruptState(f"saved state has format {fmt!r}; this engine reads formats up to {STATE_FORMAT}")
    while fmt < STATE_FORMAT:
        if fmt not in UPGRADES:
            raise CorruptState(f"no upgrade from saved-state format {fmt}")
        fields = UPGRADES[fmt](fields)
        fmt += 1
    return fields


def encode_value(value: Value) -> list[str]:
    content = value.content
    text = base64.b64encode(content).decode("ascii") if isinstance(content, bytes) else content
    return [value.id, value.type, text]


def decode_value(item: list[str]) -> Value:
    value_id, content_type, text = item
    if not (isinstance(value_id, str) and isinstance(content_type, str) and isinstance(text, str)):
        raise CorruptState("a saved value is not [id, type, content]")
    content: str | bytes = base64.b64decode(text) if kind_of(content_type) == BINARY else text
    return Value(value_id, content_type, content)


def encode_store(store: DataStore) -> str:
    return jsontext.dumps({"v": [encode_value(v) for v in store.values()],
                           "e": [[name, [v.id for v in values]] for name, values in store.entries()]})


def decode_store(text: str | None) -> DataStore:
    if not text:
        return DataStore()
    try:
        data = jsontext.loads(text)
        values = {item[0]: decode_value(item) for item in data["v"]}
        return DataStore((name, [values[i] for i in ids]) for name, ids in data["e"])
    except CorruptState:
        raise
    except Exception as exc:  # any shape error means the row cannot be trusted
        raise CorruptState(f"saved data store does not decode: {type(exc).__name__}: {exc}") from None


def dumps(data: Any) -> str:
    return jsontext.dumps(data)


def loads(text: str | None, default: Any = None) -> Any:
    if text is None:
        return default
    try:
        return jsontext.loads(text)
    except ValueError as exc:
        raise CorruptState(f"saved state does not decode: {exc}") from None
