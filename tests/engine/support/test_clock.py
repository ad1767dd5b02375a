"""The clock's fast wire text of the time now is the wire text of `now()`, whatever the instant."""
from __future__ import annotations

from hypothesis import given, strategies as st

from engine.support import clock


# Until 2100: later, `now()`'s float of seconds can no longer hold every millisecond (the text is then right)
@given(st.integers(min_value=0, max_value=4_102_444_800 * 10**9), st.integers(min_value=0, max_value=2_000))
def test_the_time_now_as_text_is_the_text_of_now(instant_ns: int, later_ms: int) -> None:
    for at in (instant_ns, instant_ns + later_ms * 1_000_000):  # (the second it remembers, and maybe the next)
        original = clock.time.time_ns
        clock.time.time_ns = lambda: at  # type: ignore[assignment]
        try:
            assert clock.now_text() == clock.format_timestamp(clock.now())
        finally:
            clock.time.time_ns = original  # type: ignore[assignment]
