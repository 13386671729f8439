"""Leakage: which sampled eval examples the model already saw in training.

Why: a test answer that is also a training answer measures memory, not skill. In both bundled
example datasets every test answer once appeared in training, the validator warned
`train_test_overlap`, and the report still read "tuned 1.000": a team would have promoted that
model. So the evaluator marks each sampled example as leaked or not, the report shows the share
beside every metric and scores the unleaked part again.

Two detectors, both the validator's own (`shared.datasets.quality_measures`):
- exact: the same final question and answer after the metrics' normalisation (NFKC, folded
  whitespace), so formatting noise does not hide a copy;
- near: the bottom-k MinHash sketches the validator clusters near-duplicates with, question and
  answer both above `NearDuplicates`' thresholds (a paraphrased question with the same answer
  counts; the same answer to a different question does not, that is a template).

Memory stays flat in the training set's size: the (small) eval sample is indexed, the training
file is streamed once and each of its examples sketched and looked up.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from shared.datasets.quality_measures import NearDuplicates, _bottom, similar
from shared.evaluation.examples import EvalExample, extract
from shared.evaluation.text import normalize

#: Share of the sample found in training above which the verdict carries a warning and
#: auto-promotion needs the unleaked part to pass the gates too.
WARN_SHARE = 0.10

_K = NearDuplicates.K
_PREFIX = NearDuplicates.PREFIX


def _exact_key(question: str, answer: str) -> bytes:
    data = f"{normalize(question)}\x00{normalize(answer)}".encode()
    return hashlib.blake2b(data, digest_size=12).digest()


def _sketch(text: str) -> frozenset[int]:
    return frozenset(_bottom(text[:_PREFIX], _K)) - {(1 << 63) - 1}


@dataclass(frozen=True)
class Leakage:
    """Which sampled examples (by input position) appear in training, and how."""

    checked: int
    exact: frozenset[int] = frozenset()
    near: frozenset[int] = frozenset()  #: near-duplicates that are not exact copies
    training_examples: int = 0
    threshold: float = WARN_SHARE

    @property
    def leaked(self) -> frozenset[int]:
        return self.exact | self.near

    @property
    def share(self) -> float:
        return len(self.leaked) / self.checked if self.checked else 0.0

    @property
    def warning(self) -> str | None:
        """The sentence a verdict carries when the share is above the threshold."""
        if self.share <= self.threshold:
            return None
        return (
            f"{self.share:.0%} of the evaluated examples also appear in the training data "
            f"({len(self.exact)} exact, {len(self.near)} near-duplicate); the scores overstate "
            "quality. Remove them from test.jsonl (the validator's train_test_overlap finding "
            "lists them) or judge the model on the unleaked part."
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "checked": self.checked,
            "leaked": len(self.leaked),
            "exact": len(self.exact),
            "near_duplicate": len(self.near),
            "share": round(self.share, 6),
            "threshold": self.threshold,
            "training_examples": self.training_examples,
            "warning": self.warning,
            "method": (
                "exact: same final question and answer after NFKC and whitespace folding; "
                f"near: MinHash bottom-{_K} sketches of the first {_PREFIX} characters, question "
                f"Jaccard >= {NearDuplicates.QUESTION_THRESHOLD} and answer Jaccard >= "
                f"{NearDuplicates.ANSWER_THRESHOLD} (the validator's near-duplicate detector)"
            ),
        }


@dataclass
class _Probe:
    """The sample's keys and sketches, with buckets on every hash of each question's sketch
    (the validator buckets on two, enough among thousands of examples; a sample is small, so
    every shared hash makes a candidate and no near-duplicate is missed by bucketing)."""

    exact: dict[bytes, list[int]] = field(default_factory=dict)
    questions: dict[int, frozenset[int]] = field(default_factory=dict)
    answers: dict[int, frozenset[int]] = field(default_factory=dict)
    buckets: dict[int, list[int]] = field(default_factory=dict)

    def add(self, index: int, question: str, answer: str) -> None:
        self.exact.setdefault(_exact_key(question, answer), []).append(index)
        q = _sketch(question)
        self.questions[index], self.answers[index] = q, _sketch(answer)
        for h in q:
            self.buckets.setdefault(h, []).append(index)


def find_leakage(
    sample: Sequence[EvalExample],
    training: Iterable[Any],
    *,
    threshold: float = WARN_SHARE,
) -> Leakage:
    """Mark every example of `sample` found in `training` (decoded dataset lines, read once).

    An example is compared on its final exchange: the last user text and the reference."""
    probe = _Probe()
    for ex in sample:
        probe.add(ex.index, ex.prompt_text, ex.reference)
    exact: set[int] = set()
    near: set[int] = set()
    seen = 0
    for i, raw in enumerate(training):
        got = extract(raw, i)
        if isinstance(got, str):
            continue
        seen += 1
        exact.update(probe.exact.get(_exact_key(got.prompt_text, got.reference), ()))
        q = _sketch(got.prompt_text)
        candidates = {c for h in q for c in probe.buckets.get(h, ())}
        candidates -= exact | near
        if not candidates:
            continue
        a = _sketch(got.reference)
        for c in candidates:
            q_ok = similar(q, probe.questions[c], NearDuplicates.QUESTION_THRESHOLD)
            if q_ok and similar(a, probe.answers[c], NearDuplicates.ANSWER_THRESHOLD):
                near.add(c)
    return Leakage(
        checked=len(sample),
        exact=frozenset(exact),
        near=frozenset(near - exact),
        training_examples=seen,
        threshold=threshold,
    )


def leakage_from_dict(doc: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The part of a report's leakage the run document keeps (counts, share, warning)."""
    if not doc:
        return None
    keep = ("checked", "leaked", "exact", "near_duplicate", "share", "threshold", "warning")
    return {k: doc.get(k) for k in keep}
