"""Paired bootstrap confidence intervals for every metric and every tuned-vs-base delta.

Why paired and by example: the tuned and the base model answer the same examples, so a resample
draws example indices once and scores BOTH models on that same draw; the delta's interval then
reflects how consistently the tuned model wins per example, not the spread of two independent
samples (which would be far wider and hide a real gain).

Why these columns: BLEU and chrF are corpus metrics (n-gram counts summed over examples before
scoring), so a resample sums each statistic's column over the drawn indices and scores the sums,
exactly as `metrics.corpus_scores` does on the whole set; exact_match and ROUGE-L are means. The
columns live in `array` buffers (8 bytes per number), so 5,000 examples cost a few MB, and a
resample sums a column in C through `operator.itemgetter`.

Deterministic: the resamples come from `random.Random(f"bootstrap:{seed}")` (string seeds hash
with SHA-512, the same on every machine and Python version), so a run's intervals never change
between a redelivery and the next. Percentile interval (2.5th and 97.5th of `RESAMPLES` values).
"""

from __future__ import annotations

import random
from array import array
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

from shared.evaluation.metrics import BLEU_ORDER, CHRF_CHAR_ORDER, PairStats, bleu_of, chrf_of

RESAMPLES = 1000
LEVEL = 0.95
_BLEU_COLS = 2 + 2 * BLEU_ORDER
_CHRF_COLS = 3 * CHRF_CHAR_ORDER


class Columns:
    """One model's per-example statistics for the wanted metrics, column by column."""

    def __init__(self, metrics: Sequence[str]) -> None:
        self.metrics = tuple(metrics)
        self.exact = array("d")
        self.rouge_l = array("d")
        self.bleu = [array("q") for _ in range(_BLEU_COLS)] if "bleu" in metrics else []
        self.chrf = [array("q") for _ in range(_CHRF_COLS)] if "chrf" in metrics else []

    def __len__(self) -> int:
        return len(self.exact)

    def add(self, s: PairStats) -> None:
        self.exact.append(s.exact)
        self.rouge_l.append(s.rouge_l)
        for col, v in zip(self.bleu, s.bleu, strict=True):
            col.append(v)
        for col, v in zip(self.chrf, s.chrf, strict=True):
            col.append(v)

    def score(self, metric: str, pick: Callable[[Any], Any] | None) -> float:
        """The corpus score on the examples `pick` selects (all of them when None)."""
        n = len(self)
        if n == 0:
            return 0.0

        def total(col: array[Any]) -> float:
            return float(sum(col)) if pick is None else float(sum(pick(col)))

        if metric == "exact_match":
            return total(self.exact) / n
        if metric == "rouge_l":
            return total(self.rouge_l) / n
        if metric == "bleu":
            return bleu_of([int(total(c)) for c in self.bleu])
        if metric == "chrf":
            return chrf_of([int(total(c)) for c in self.chrf])
        raise ValueError(f"unknown metric {metric!r}")


@dataclass(frozen=True)
class Interval:
    low: float
    high: float

    def to_list(self) -> list[float]:
        return [round(self.low, 6), round(self.high, 6)]


@dataclass(frozen=True)
class MetricIntervals:
    """95% intervals of the tuned score, the base score and tuned minus base."""

    tuned: Interval
    base: Interval
    delta: Interval

    def to_dict(self) -> dict[str, Any]:
        return {
            "tuned": self.tuned.to_list(),
            "base": self.base.to_list(),
            "delta": self.delta.to_list(),
        }


def _percentile(sorted_xs: Sequence[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default `linear` method)."""
    if len(sorted_xs) == 1:
        return sorted_xs[0]
    pos = q * (len(sorted_xs) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(sorted_xs) - 1)
    return sorted_xs[lo] + (sorted_xs[hi] - sorted_xs[lo]) * (pos - lo)


def _interval(xs: list[float]) -> Interval:
    xs.sort()
    tail = (1 - LEVEL) / 2
    return Interval(_percentile(xs, tail), _percentile(xs, 1 - tail))


def paired_bootstrap(
    tuned: Columns, base: Columns, *, seed: str, resamples: int = RESAMPLES
) -> dict[str, MetricIntervals]:
    """Intervals for every metric of `tuned` (both `Columns` aligned example by example)."""
    n = len(tuned)
    if n != len(base):
        raise ValueError(f"{n} tuned rows but {len(base)} base rows; the bootstrap is paired.")
    if n == 0:
        return {}
    rng = random.Random(f"bootstrap:{seed}")
    draws: dict[str, tuple[list[float], list[float], list[float]]] = {
        m: ([], [], []) for m in tuned.metrics
    }
    population = range(n)
    for _ in range(resamples):
        idx = rng.choices(population, k=n)
        pick: Callable[[Any], Any] | None = (
            itemgetter(*idx) if n > 1 else None
        )  # one example: every draw is that example
        for m, (ts, bs, ds) in draws.items():
            t, b = tuned.score(m, pick), base.score(m, pick)
            ts.append(t)
            bs.append(b)
            ds.append(t - b)
    return {
        m: MetricIntervals(_interval(ts), _interval(bs), _interval(ds))
        for m, (ts, bs, ds) in draws.items()
    }


def intervals_to_dict(found: Mapping[str, MetricIntervals]) -> dict[str, dict[str, Any]]:
    return {m: iv.to_dict() for m, iv in found.items()}
