"""Which checkpoint to serve: a cheap screening pass of every exported checkpoint on a small
seeded sample, scored on one metric against the references; the best goes on to the full
evaluation and becomes the tuned model's default.

Why: small customer-service datasets over-fit after a few epochs, so the last checkpoint (what
the tuned endpoint serves by default) is often not the best. The screening sample is a prefix
of nothing in particular — its own seeded pick — so it costs `size` calls per checkpoint and no
base-model calls (the base model does not change between checkpoints).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from shared.evaluation.examples import iter_picked, pick
from shared.evaluation.metrics import corpus_scores, pair_stats
from shared.evaluation.predict import predict
from shared.ports import GenerationSettings, Models


@dataclass(frozen=True)
class CheckpointCandidate:
    checkpoint_id: str
    epoch: int | None
    endpoint: str


@dataclass(frozen=True)
class CheckpointScore:
    checkpoint_id: str
    epoch: int | None
    endpoint: str
    score: float | None  #: the metric on the screening sample; None when nothing was answered
    scored: int
    errors: int


def screen(
    models: Models,
    examples: Iterable[Any],
    candidates: Sequence[CheckpointCandidate],
    *,
    metric: str,
    size: int,
    seed: str,
    settings: GenerationSettings | None,
    max_concurrency: int,
) -> list[CheckpointScore]:
    """Each candidate's `metric` on the same seeded sample of `size` examples."""
    picked = pick(examples, size=size, seed=f"{seed}/checkpoints")
    sample = list(iter_picked(examples, picked.indices))
    preds = predict(
        models,
        [c.endpoint for c in candidates],
        sample,
        max_concurrency=max_concurrency,
        settings=settings,
    )
    out = []
    for cand, answers in zip(candidates, preds, strict=True):
        stats = [
            pair_stats(p.text, ex.reference, (metric,))
            for p, ex in zip(answers, sample, strict=True)
            if p.text is not None
        ]
        value = corpus_scores(stats, (metric,))[metric] if stats else None
        out.append(
            CheckpointScore(
                cand.checkpoint_id,
                cand.epoch,
                cand.endpoint,
                None if value is None else round(value, 4),
                len(stats),
                len(answers) - len(stats),
            )
        )
    return out


def best(scores: Sequence[CheckpointScore]) -> CheckpointScore | None:
    """The highest score; a tie goes to the later checkpoint (what Vertex serves by default),
    so the default only changes for a real improvement."""
    ranked = [s for s in scores if s.score is not None]
    if not ranked:
        return None
    return max(reversed(ranked), key=lambda s: s.score or 0.0)
