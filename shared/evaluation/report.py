"""`EvaluationReport`: report.json as a typed value, one field per top-level key.

Why typed: the runner builds it once, report.html reads its fields by name (a misspelt key is a
type error, not a silently empty table), the pipeline adds where the evaluation ran with
`dataclasses.replace`, and `to_dict()` is the report.json document people and scripts read.
The values inside (per-metric maps, leakage, judge counts) stay plain JSON shapes: they are the
document's own sub-objects, written once by their modules (`leakage`, `judging`, `gates`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import msgspec

#: Bumped when a field changes meaning; 3: verdict, leakage, per-metric, judge flips, cost.
REPORT_VERSION = 3


@dataclass(frozen=True)
class EvaluationReport:
    """Everything one evaluation measured and decided, and where it ran."""

    models: dict[str, str]
    generation_settings: dict[str, Any] | None
    seed: str
    config: dict[str, Any]
    verdict: str  #: PASSED / FAILED / NOT GATED
    passed: bool | None
    promotable: bool
    reason: str
    metrics: dict[str, dict[str, float]]
    intervals: dict[str, dict[str, Any]]
    deltas: dict[str, float]
    per_metric: dict[str, dict[str, Any]]
    leakage: dict[str, Any] | None
    unleaked_metrics: dict[str, dict[str, float]]
    unleaked_gates: list[dict[str, Any]] | None
    interval_method: str
    metric_notes: dict[str, str]
    gates: list[dict[str, Any]]
    summary: dict[str, Any]
    not_scored: dict[str, int]
    skip_reasons: dict[str, str]
    histograms: dict[str, dict[str, list[int]]]
    highlights: list[dict[str, Any]]
    errors: list[dict[str, Any]]
    chunks: dict[str, int]
    #: Billed tokens per role and answers reused from another evaluation (not paid again).
    tokens: dict[str, dict[str, int]]
    reused_answers: int
    timings: dict[str, float]
    simulated: bool
    judge: dict[str, Any] | None = None
    rubric: dict[str, Any] | None = None
    version: int = REPORT_VERSION
    # Where it ran: set by the pipeline (`dataclasses.replace`), empty in a bare `evaluate`.
    run_id: str = ""
    against: str | None = None
    attempt_key: str | None = None
    eval_set: str = ""
    checkpoints: list[dict[str, Any]] = field(default_factory=list)
    chosen_checkpoint: str | None = None
    checkpoint_steps: dict[str, int | None] = field(default_factory=dict)
    training_curves: dict[str, list[list[float]]] = field(default_factory=dict)
    cost: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """report.json's document (plain JSON types)."""
        out: dict[str, Any] = msgspec.to_builtins(self)
        return out
