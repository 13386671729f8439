"""Bounded-memory statistics: exact percentiles and exact-duplicate detection over millions of
examples.

Both keep compact C arrays rather than Python objects so that ten million examples stay within a
cloud function's memory: a per-value count table for percentiles (values past it are rare and kept
as 4-byte integers) and an 8-byte hash + 4-byte line number per example for duplicates.
"""

from __future__ import annotations

from array import array
from collections import Counter
from collections.abc import Sequence
from itertools import repeat
from typing import Any

_SMALL = 8192
_BUCKETS = 256


class Distribution:
    """Exact percentiles of non-negative integers in O(distinct small values) memory.

    The validator's hot loop updates `small` / `big` / `total` inline (a method call per value
    costs more than the rest of the bookkeeping); `add` is the same thing for other callers.
    """

    __slots__ = ("big", "small", "total")

    SMALL = _SMALL

    def __init__(self) -> None:
        self.small = array("Q", bytes(8 * _SMALL))
        self.big = array("I")
        self.total = 0

    def add(self, v: int) -> None:
        if v < _SMALL:
            self.small[v] += 1
        else:
            self.big.append(min(v, 0xFFFFFFFF))
        self.total += v

    def add_all(self, values: Sequence[int]) -> None:
        """`add` for each of `values`: counted in C (`Counter`), then one update per distinct
        value, which costs the validator's hot loop less than an update per example."""
        small, big = self.small, self.big
        for v, n in Counter(values).items():
            if v < _SMALL:
                small[v] += n
            else:
                big.extend(repeat(min(v, 0xFFFFFFFF), n))
        self.total += sum(values)

    @property
    def count(self) -> int:
        return sum(self.small) + len(self.big)

    @property
    def maximum(self) -> int:
        if self.big:
            return max(self.big)
        for v in range(_SMALL - 1, -1, -1):
            if self.small[v]:
                return v
        return 0

    def percentile(self, q: float) -> int:
        """The smallest value with at least q% of the values at or below it (nearest rank)."""
        count = self.count
        if not count:
            return 0
        rank = max(1, -(-count * q // 100))
        seen = 0
        for v, n in enumerate(self.small):
            seen += n
            if seen >= rank:
                return v
        big = sorted(self.big)
        return int(big[int(rank - seen) - 1])

    def summary(self) -> dict[str, Any]:
        count = self.count
        return {
            "p5": self.percentile(5),
            "p50": self.percentile(50),
            "p95": self.percentile(95),
            "max": self.maximum,
            "mean": round(self.total / count, 1) if count else 0,
        }


class DuplicateIndex:
    """Hashes of examples (with their line numbers), split into buckets by the hash's low byte so
    the final duplicate search needs only one bucket's worth of temporary memory at a time.

    The 64-bit `lines.line_hash` of the line bytes (StringZilla's, the same in every worker
    process); the chance of a false duplicate among 10 million examples is about 3 in a million.
    """

    def __init__(self) -> None:
        self.hashes = [array("Q") for _ in range(_BUCKETS)]
        self.lines = [array("I") for _ in range(_BUCKETS)]

    def add(self, h: int, line: int) -> None:
        b = h & 0xFF
        self.hashes[b].append(h)
        self.lines[b].append(line)

    def duplicates(self, sample: int) -> tuple[int, list[tuple[int, int]]]:
        """(number of examples that repeat an earlier one, up to `sample` (line, first_line)
        pairs, earliest lines first)."""
        total = 0
        pairs: list[tuple[int, int]] = []
        for hs, ls in zip(self.hashes, self.lines, strict=True):
            extra = len(hs) - len(set(hs))
            if not extra:
                continue
            total += extra
            first: dict[int, int] = {}
            for h, line in zip(hs, ls, strict=True):
                if h in first:
                    pairs.append((line, first[h]))
                else:
                    first[h] = line
            pairs.sort()
            del pairs[sample:]
        pairs.sort()
        return total, pairs

    def overlap(self, other: DuplicateIndex, sample: int) -> tuple[int, list[tuple[int, int]]]:
        """Examples of `other` that also occur here: (count, up to `sample` (other_line,
        line_here) pairs, earliest first)."""
        total = 0
        pairs: list[tuple[int, int]] = []
        for b in range(_BUCKETS):
            theirs = other.hashes[b]
            common = set(theirs).intersection(self.hashes[b]) if theirs else set()
            if not common:
                continue
            here: dict[int, int] = {}
            for h, line in zip(self.hashes[b], self.lines[b], strict=True):
                if h in common and h not in here:
                    here[h] = line
            for h, line in zip(theirs, other.lines[b], strict=True):
                if h in common:
                    total += 1
                    pairs.append((line, here[h]))
            pairs.sort()
            del pairs[sample:]
        return total, pairs
