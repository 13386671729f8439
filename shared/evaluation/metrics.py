"""Reference-based metrics on a 0..1 scale: exact_match, BLEU, chrF and ROUGE-L.

Choice: small pure-Python implementations instead of sacrebleu / rouge-score at run time. These
functions ship in the evaluator Cloud Function, where every dependency costs cold-start time and
deployment size: sacrebleu pulls numpy, lxml, regex, portalocker, tabulate and colorama (~60 MB
installed), and rouge-score pulls nltk and absl while scoring Chinese as 0 (its tokenizer drops
non-ASCII). The formulas below follow sacrebleu 2.x exactly (`BLEU` with "exp" smoothing and
brevity penalty, `CHRF` with char order 6, beta 2, whitespace removed, effective-order
averaging), and the unit tests cross-check them against sacrebleu installed as a dev-only
reference (`BLEU(tokenize="zh")` and `"char"`, `CHRF()`). `bench/bench_metrics.py` measures speed
and import time side by side.

Corpus scores: BLEU and chrF sum n-gram statistics over all examples before scoring (as
sacrebleu's `corpus_score`); exact_match and ROUGE-L are means of per-example scores (as
rouge-score's aggregation). Per-example BLEU uses effective order (sacrebleu's `sentence_bleu`),
so short answers are not zeroed for lacking 4-grams. All text is normalised first (`normalize`).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from shared.evaluation.text import normalize, tokenize
from shared.tuning_config import EVAL_METRICS

METRIC_NAMES = EVAL_METRICS

BLEU_ORDER = 4
CHRF_CHAR_ORDER = 6
CHRF_BETA = 2


# --------------------------------------------------------------------------------------------
# Sufficient statistics per example (computed once, reused for sentence and corpus scores)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PairStats:
    """Everything the corpus scores need from one (prediction, reference) pair."""

    exact: float
    bleu: tuple[int, ...]  # hyp_len, ref_len, correct[1..4], total[1..4]
    chrf: tuple[int, ...]  # (hyp, ref, match) per char order 1..6
    rouge_l: float


def _ngram_counts(seq: Sequence[str] | str, n: int) -> Counter[Any]:
    if n == 1:
        return Counter(seq)
    if isinstance(seq, str):
        return Counter(seq[i : i + n] for i in range(len(seq) - n + 1))
    return Counter(zip(*(seq[i:] for i in range(n)), strict=False))  # shorter tails end it


def _bleu_stats(hyp: Sequence[str], ref: Sequence[str]) -> tuple[int, ...]:
    correct: list[int] = []
    total: list[int] = []
    for n in range(1, BLEU_ORDER + 1):
        h = _ngram_counts(hyp, n)
        r = _ngram_counts(ref, n)
        correct.append(sum(min(c, r[g]) for g, c in h.items() if g in r))
        total.append(max(0, len(hyp) - n + 1))
    return (len(hyp), len(ref), *correct, *total)


def _bleu_from_stats(stats: Sequence[int], *, effective_order: bool) -> float:
    sys_len, ref_len = stats[0], stats[1]
    correct = stats[2 : 2 + BLEU_ORDER]
    total = stats[2 + BLEU_ORDER : 2 + 2 * BLEU_ORDER]
    if not any(correct):
        return 0.0
    bp = 1.0 if sys_len >= ref_len else (math.exp(1 - ref_len / sys_len) if sys_len else 0.0)
    log_sum = 0.0
    order = BLEU_ORDER
    smooth = 1.0
    for n in range(BLEU_ORDER):
        if total[n] == 0:
            if not effective_order:
                return 0.0  # sacrebleu: a missing order has precision 0 -> score 0
            order = n
            break
        if correct[n] == 0:
            smooth *= 2  # "exp" smoothing (NIST mteval): 1/2, 1/4, ... of a count
            precision = 1.0 / (smooth * total[n])
        else:
            precision = correct[n] / total[n]
        log_sum += math.log(precision)
    return bp * math.exp(log_sum / order) if order else 0.0


def _chrf_stats(hyp: str, ref: str) -> tuple[int, ...]:
    hyp = "".join(hyp.split())
    ref = "".join(ref.split())
    out: list[int] = []
    for n in range(1, CHRF_CHAR_ORDER + 1):
        h = _ngram_counts(hyp, n)
        r = _ngram_counts(ref, n)
        match = sum(min(c, r[g]) for g, c in h.items() if g in r)
        n_ref = sum(r.values())
        out += [sum(h.values()) if n_ref else 0, n_ref, match]
    return tuple(out)


def _chrf_from_stats(stats: Sequence[int]) -> float:
    factor = CHRF_BETA**2
    avg_p = avg_r = 0.0
    effective = 0
    for i in range(CHRF_CHAR_ORDER):
        n_hyp, n_ref, n_match = stats[3 * i : 3 * i + 3]
        if n_hyp > 0 and n_ref > 0:
            avg_p += n_match / n_hyp
            avg_r += n_match / n_ref
            effective += 1
    if not effective:
        return 0.0
    avg_p /= effective
    avg_r /= effective
    if avg_p + avg_r == 0:
        return 0.0
    return (1 + factor) * avg_p * avg_r / (factor * avg_p + avg_r)


def lcs_length(a: Sequence[str], b: Sequence[str]) -> int:
    """Longest common subsequence length, bit-parallel (Allison-Dix / Hyyro 2004).

    One big-int add, subtract and two bitwise ops per token of `a`, instead of a Python-level
    inner loop over `b`: a 1000-character Chinese answer costs milliseconds, not a third of a
    second, so long answers cannot stall the evaluator.
    """
    masks: dict[str, int] = {}
    for i, y in enumerate(b):
        masks[y] = masks.get(y, 0) | (1 << i)
    full = (1 << len(b)) - 1
    v = full
    for x in a:
        u = v & masks.get(x, 0)
        v = ((v + u) | (v - u)) & full
    return len(b) - v.bit_count()


def _rouge_l_tokens(hyp: Sequence[str], ref: Sequence[str]) -> float:
    if not hyp or not ref:
        return 0.0
    lcs = lcs_length(hyp, ref)
    if lcs == 0:
        return 0.0
    p, r = lcs / len(hyp), lcs / len(ref)
    return 2 * p * r / (p + r)


_EMPTY: tuple[int, ...] = ()


def pair_stats(prediction: str, reference: str, metrics: Sequence[str] = METRIC_NAMES) -> PairStats:
    """Statistics for the requested metrics only (the others are left empty / zero)."""
    hyp, ref = normalize(prediction), normalize(reference)
    need_tokens = "bleu" in metrics or "rouge_l" in metrics
    hyp_toks, ref_toks = (tokenize(hyp), tokenize(ref)) if need_tokens else ([], [])
    return PairStats(
        exact=1.0 if hyp and hyp == ref else 0.0,
        bleu=_bleu_stats(hyp_toks, ref_toks) if "bleu" in metrics else _EMPTY,
        chrf=_chrf_stats(hyp, ref) if "chrf" in metrics else _EMPTY,
        rouge_l=_rouge_l_tokens(hyp_toks, ref_toks) if "rouge_l" in metrics else 0.0,
    )


# --------------------------------------------------------------------------------------------
# Per-example and corpus scores
# --------------------------------------------------------------------------------------------


def _sum(rows: Sequence[tuple[int, ...]]) -> list[int]:
    return [sum(col) for col in zip(*rows, strict=True)] if rows else []


def _mean(xs: Sequence[float]) -> float:
    return sum(xs) / len(xs) if xs else 0.0


_SENTENCE: Mapping[str, Callable[[PairStats], float]] = {
    "exact_match": lambda s: s.exact,
    "bleu": lambda s: _bleu_from_stats(s.bleu, effective_order=True),
    "chrf": lambda s: _chrf_from_stats(s.chrf),
    "rouge_l": lambda s: s.rouge_l,
}

_CORPUS: Mapping[str, Callable[[Sequence[PairStats]], float]] = {
    "exact_match": lambda ss: _mean([s.exact for s in ss]),
    "bleu": lambda ss: (
        _bleu_from_stats(_sum([s.bleu for s in ss]), effective_order=False) if ss else 0.0
    ),
    "chrf": lambda ss: _chrf_from_stats(_sum([s.chrf for s in ss])) if ss else 0.0,
    "rouge_l": lambda ss: _mean([s.rouge_l for s in ss]),
}


def bleu_of(summed: Sequence[int]) -> float:
    """Corpus BLEU from `PairStats.bleu` columns summed over the examples."""
    return _bleu_from_stats(summed, effective_order=False) if summed else 0.0


def chrf_of(summed: Sequence[int]) -> float:
    """Corpus chrF from `PairStats.chrf` columns summed over the examples."""
    return _chrf_from_stats(summed) if summed else 0.0


def sentence_scores(stats: PairStats, metrics: Sequence[str] = METRIC_NAMES) -> dict[str, float]:
    return {m: _SENTENCE[m](stats) for m in metrics}


def corpus_scores(
    stats: Sequence[PairStats], metrics: Sequence[str] = METRIC_NAMES
) -> dict[str, float]:
    return {m: _CORPUS[m](stats) for m in metrics}


def score(
    predictions: Sequence[str], references: Sequence[str], metrics: Sequence[str] = METRIC_NAMES
) -> dict[str, float]:
    """Corpus-level scores of aligned predictions and references (the convenient entry point)."""
    if len(predictions) != len(references):
        raise ValueError(
            f"{len(predictions)} predictions for {len(references)} references; pass one each."
        )
    unknown = [m for m in metrics if m not in _CORPUS]
    if unknown:
        raise ValueError(f"unknown metric(s) {unknown}; use some of {list(METRIC_NAMES)}.")
    return corpus_scores(
        [pair_stats(p, r, metrics) for p, r in zip(predictions, references, strict=True)], metrics
    )
