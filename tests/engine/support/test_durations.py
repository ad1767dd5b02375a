"""Durations in 1 % buckets (engine/support/durations.py): percentiles read from the buckets, merged
across days, stay within 1 % of the exact nearest-rank ones, never above, and exact below 100 ms."""
from __future__ import annotations

from hypothesis import given, strategies as st

from engine.support.durations import Histogram

DURATIONS = st.lists(st.integers(min_value=0, max_value=10**10), min_size=1, max_size=300)


def exact(values: list[int], percent: int) -> int:
    ordered = sorted(values)
    return ordered[max(1, -(-percent * len(ordered) // 100)) - 1]


@given(DURATIONS, DURATIONS, st.sampled_from([1, 50, 95, 99, 100]))
def test_percentiles_of_merged_days_are_within_one_percent_below(first, second, percent):
    merged = Histogram().merge(Histogram().add(first).dumps()).merge(Histogram().add(second).dumps())
    value, read = exact(first + second, percent), merged.percentile(percent)
    assert value * 0.99 <= read <= value


@given(st.lists(st.integers(min_value=0, max_value=100), min_size=1, max_size=300), st.integers(1, 100))
def test_short_durations_are_exact(values, percent):
    assert Histogram().add(values).percentile(percent) == exact(values, percent)


def test_no_durations_no_percentile():
    assert Histogram().percentile(50) is None and Histogram().merge("[]").percentile(95) is None
