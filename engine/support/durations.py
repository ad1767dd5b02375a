"""Durations counted in buckets 1 % wide, so that the history's statistics over long windows add up the
days' counts instead of reading millions of records (issue 17).

A duration of `ms` milliseconds falls in bucket `floor(log(ms) / log(1.01))` (0 ms: bucket -1), so every
value of a bucket is within 1 % of every other and a percentile read from the buckets is within 1 % of
the exact one. The buckets are kept as JSON pairs, merged by adding; below 100 ms a bucket holds one
value at most, so short durations stay exact. (A sketch library such as DDSketch does the same with a
protobuf encoding; these few lines keep the stored form plain JSON, readable in both databases.)
"""
from __future__ import annotations

import math
from collections import Counter
from typing import Iterable

from . import jsontext

_STEP = math.log(1.01)


def bucket(ms: int) -> int:
    return -1 if ms <= 0 else int(math.log(ms) / _STEP)


def _value(index: int) -> int:
    """The duration a bucket stands for: its lowest whole millisecond (exact for short durations)."""
    return 0 if index < 0 else math.ceil(math.exp(index * _STEP) - 1e-9)


class Histogram:
    """Durations by bucket."""

    def __init__(self) -> None:
        self.counts: Counter[int] = Counter()

    def add(self, durations: Iterable[int]) -> "Histogram":
        self.counts.update(bucket(ms) for ms in durations)
        return self

    def merge(self, text: str) -> "Histogram":
        """Add the buckets `dumps` wrote."""
        return self.merge_pairs(jsontext.loads(text))

    def merge_pairs(self, pairs: Iterable[Iterable[int]]) -> "Histogram":
        for index, count in pairs:
            self.counts[index] += count
        return self

    def pairs(self) -> list[tuple[int, int]]:
        return sorted(self.counts.items())

    def dumps(self) -> str:
        return jsontext.dumps(self.pairs())

    def percentile(self, percent: int) -> int | None:
        """The nearest-rank percentile, as the duration its bucket stands for."""
        total = sum(self.counts.values())
        if not total:
            return None
        rank, seen = max(1, -(-percent * total // 100)), 0  # ceil(p/100 · n)
        for index in sorted(self.counts):
            seen += self.counts[index]
            if seen >= rank:
                return _value(index)
        return None  # (unreachable: the ranks add up to the total)
