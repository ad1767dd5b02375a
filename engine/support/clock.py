"""Time as the engine uses it: UTC, truncated to milliseconds (the wire's precision, CONTRACT §2), so a
timestamp a client reads back compares equal to the one the engine stored."""
from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import isodate

from ..errors import InvalidParameter


def now() -> datetime:
    # Whole milliseconds as a float are exact to well under a microsecond, which fromtimestamp rounds to.
    return datetime.fromtimestamp(time.time_ns() // 1_000_000 / 1000, timezone.utc)


_second: tuple[int, str] = (-1, "")  # the last second now_text wrote, and its text


def now_text() -> str:
    """`format_timestamp(now())`, for timestamps taken by the dozen in every run (the element trail):
    the date and time of day are written once a second."""
    global _second
    second, millis = divmod(time.time_ns() // 1_000_000, 1000)
    written = _second  # (one read: another thread may replace it meanwhile, never half of it)
    if written[0] != second:
        written = _second = (second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)))
    return f"{written[1]}.{millis:03d}Z"


def format_timestamp(moment: datetime) -> str:
    if moment.tzinfo is not timezone.utc:
        moment = moment.astimezone(timezone.utc)
    return moment.isoformat(timespec="milliseconds")[:-6] + "Z"  # drop "+00:00"


def parse_timestamp(text: str) -> datetime:
    """ISO 8601 with a zone (`Z` or an offset); a naive time is taken as UTC. ValueError otherwise."""
    text = text.strip()
    if not text or len(text) > 40:
        raise ValueError(f"{text!r} is not an ISO 8601 timestamp")
    moment = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def parse_duration(text: str) -> timedelta:
    """An ISO 8601 duration such as PT5S or P1DT2H; years and months are refused (no fixed length)."""
    text = text.strip()
    if text.upper().endswith("T") or text.upper() in ("P", "-P"):
        raise ValueError(f"{text!r} is not an ISO 8601 duration: a designator has no number")
    try:
        value = isodate.parse_duration(text)
    except (isodate.ISO8601Error, ValueError, TypeError):
        raise ValueError(f"{text!r} is not an ISO 8601 duration") from None
    if not isinstance(value, timedelta):
        raise ValueError(f"{text!r}: years and months have no fixed length; use days")
    if value < timedelta(0):
        raise ValueError(f"{text!r} is negative")
    return value


def check_timeout(timeout_ms: int | None, name: str = "timeout") -> int | None:
    """A timeout as the API takes it (CONTRACT §2): -1 blocks, 0 answers at once, more is milliseconds;
    anything below -1 is refused, naming the parameter. The one place the rule is written: both doors
    and the operations call it."""
    if timeout_ms is not None and timeout_ms < -1:
        raise InvalidParameter(name, f"{timeout_ms} is neither -1 (block) nor a number of milliseconds")
    return timeout_ms
