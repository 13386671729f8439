"""Train / validation / test without leakage.

The unit of the split is a group, never a row or an example: every piece of one session, and
every conversation whose final question and answer are near-duplicates of another's (the
evaluator asks the final question and compares the final answer, so such a pair across splits
would score memorisation), land in one split. Groups go to validation and test in an order
fixed by a seed, until each holds its share; the rest is training data.

Sizes follow the target model's validation rule from the catalog: at most
`max_validation_examples` (5,000), and, past `VALIDATION_FRACTION_FROM` (1,000) validation
examples, at most `max_validation_fraction` (30%) of the training examples.
"""

from __future__ import annotations

import hashlib
from array import array
from dataclasses import dataclass

from shared.catalog import VALIDATION_FRACTION_FROM, ModelLimits


class Groups:
    """Union-find over example ids 1..n (an int array: 8 bytes per example) whose groups may not
    grow past `cap` through near-duplicate links: a closing exchange shared by thousands of
    conversations ("thanks" / "you're welcome") must not pull a third of the data into one
    group. Session links (`force`) always join."""

    def __init__(self, n: int, cap: int) -> None:
        self.parent = array("q", range(n + 1))
        self.size = array("q", [1]) * (n + 1)
        self.cap = cap
        self.refused = 0

    def root(self, i: int) -> int:
        p = self.parent
        while p[i] != i:
            p[i] = p[p[i]]
            i = p[i]
        return i

    def join(self, i: int, j: int, *, force: bool = False) -> bool:
        a, b = self.root(i), self.root(j)
        if a == b:
            return True
        if not force and self.size[a] + self.size[b] > self.cap:
            self.refused += 1
            return False
        if a > b:
            a, b = b, a
        self.parent[b] = a  # the smaller id is the root: stable across runs
        self.size[a] += self.size[b]
        return True


@dataclass(frozen=True)
class Targets:
    validation: int
    test: int


def targets(n: int, limits: ModelLimits, validation_share: float, test_share: float) -> Targets:
    """How many of `n` examples go to validation and test."""
    if n < 3:
        return Targets(0, 0)
    test = min(
        max(1, round(n * test_share)) if test_share > 0 else 0, limits.max_validation_examples
    )
    val = max(1, round(n * validation_share)) if validation_share > 0 else 0
    val = min(val, limits.max_validation_examples)
    f = limits.max_validation_fraction
    if f is not None and val > VALIDATION_FRACTION_FROM:
        val = min(val, max(VALIDATION_FRACTION_FROM, int(f * (n - test) / (1 + f))))
    return Targets(val, test)


def order_key(seed: int, name: str) -> bytes:
    """Where a group comes in the seeded order (a hash of its first session's name, so the
    order does not depend on the order rows were read in)."""
    return hashlib.blake2b(f"{seed}\x00{name}".encode(), digest_size=8).digest()


class Assigner:
    """Fills validation, then test, group by group in the seeded order; a group that no longer
    fits goes to training."""

    def __init__(self, t: Targets) -> None:
        self.t = t
        self.counts = {"train": 0, "validation": 0, "test": 0}

    def place(self, size: int) -> str:
        if self.counts["validation"] + size <= self.t.validation:
            split = "validation"
        elif self.counts["test"] + size <= self.t.test:
            split = "test"
        else:
            split = "train"
        self.counts[split] += size
        return split
