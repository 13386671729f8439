"""Near-duplicate clustering at the sampling budget: CPU seconds of `NearDuplicates.clusters()`
over `BUDGET` sketched examples built from the bundled Chinese answers (which share greetings,
the case where candidates meet many unrelated texts in one bucket), and its recall of the
pairs an exact Jaccard computation finds above the same thresholds.
"""

from __future__ import annotations

import json
import random
import statistics
import time
from itertools import combinations
from pathlib import Path

from shared.datasets.quality_measures import NearDuplicates, shingle_hashes

DATA = Path(__file__).resolve().parents[1] / "examples" / "datasets" / "game-cs-zh" / "train.jsonl"


def _examples(n: int) -> list[tuple[str, str]]:
    rows = [json.loads(x) for x in DATA.read_bytes().splitlines()]
    pairs = [
        (r["contents"][-2]["parts"][0]["text"], r["contents"][-1]["parts"][0]["text"]) for r in rows
    ]
    rng = random.Random(7)
    out = []
    for i in range(n):
        q, a = rng.choice(pairs)
        if i % 3:  # two in three are cut and tagged: mostly distinct, some near-identical
            a = a[: rng.randint(20, max(21, len(a)))] + f" #{rng.randint(0, n)}"
        out.append((q, a))
    return out


def _truth(ex: list[tuple[str, str]]) -> set[frozenset[int]]:
    prefix = NearDuplicates.PREFIX
    sh = [(shingle_hashes(q[:prefix]), shingle_hashes(a[:prefix])) for q, a in ex]
    found = set()
    for i, j in combinations(range(len(ex)), 2):
        (q1, a1), (q2, a2) = sh[i], sh[j]
        if len(a1 & a2) >= 0.9 * len(a1 | a2) and len(q1 & q2) >= 0.8 * len(q1 | q2):
            found.add(frozenset((i, j)))
    return found


def _sketched(n: int) -> tuple[list[tuple[str, str]], NearDuplicates]:
    ex = _examples(n)
    nd = NearDuplicates()
    for i, (q, a) in enumerate(ex):
        nd.add(i, q, a)
    assert nd.sampled == n, "n must stay below the budget (no thinning)"
    return ex, nd


def main() -> None:
    n = NearDuplicates.BUDGET - 1
    _, nd = _sketched(n)
    times, clusters = [], []
    for _ in range(5):
        t = time.process_time()
        clusters = nd.clusters()
        times.append(time.process_time() - t)
    print(
        f"clusters() over {n} sketched examples: "
        f"median {statistics.median(times):.3f} CPU s (5 rounds)"
    )
    # Recall on a smaller sample: the exact computation is quadratic.
    ex, nd = _sketched(2000)
    clusters = nd.clusters()
    reported = {frozenset(p) for c in clusters if not c.template for p in combinations(c.lines, 2)}
    templated = {frozenset(p) for c in clusters if c.template for p in combinations(c.lines, 2)}
    truth = _truth(ex)
    hit = len(truth & (reported | templated))
    print(
        "recall over 2000 examples of the exact pairs (J_answer >= 0.9, J_question >= 0.8): "
        f"{hit}/{len(truth)}"
    )
