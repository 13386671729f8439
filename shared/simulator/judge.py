"""`SimulatedJudge`: the local stand-in for Vertex AI's model-based evaluation service.

There is no autorater on one machine, so the simulator judges by what it can measure honestly:
chrF to the reference (character n-grams, so Chinese paraphrases that share phrases still
score). It ignores the rubric template, needs a reference to have an opinion, and labels every
verdict `simulated=True` with an explanation that says how it was reached, so nobody mistakes
it for a model's judgement.
"""

from __future__ import annotations

from shared.evaluation.metrics import pair_stats, sentence_scores
from shared.ports import (
    PairwiseJudgement,
    PointwiseJudgement,
    require_metric_prompt_template,
)

#: The rubric scale the simulated pointwise score lands on (Vertex's rubric examples use 1..5).
SCORE_MIN = 1.0
SCORE_MAX = 5.0
#: chrF (0..1) lead one answer needs over the other for a pairwise win; below it is a TIE, so
#: near-identical answers do not produce arbitrary winners.
DEFAULT_MARGIN = 0.05
#: Without a reference there is nothing to measure: the scale's midpoint, and a TIE.
NO_REFERENCE_SCORE = (SCORE_MIN + SCORE_MAX) / 2
NO_REFERENCE_WHY = "simulated judge: no reference answer to compare with, so no preference"


def chrf(response: str, reference: str) -> float:
    """Sentence chrF in 0..1, the evaluator's own implementation (same normalisation)."""
    return sentence_scores(pair_stats(response, reference, ("chrf",)), ("chrf",))["chrf"]


def chrf_to_score(value: float) -> float:
    """0..1 chrF onto the 1..5 rubric scale, linearly, two decimals."""
    clamped = min(1.0, max(0.0, value))
    return round(SCORE_MIN + (SCORE_MAX - SCORE_MIN) * clamped, 2)


class SimulatedJudge:
    """Implements `ports.Judge` deterministically from chrF; stateless and thread-safe."""

    def __init__(self, *, margin: float = DEFAULT_MARGIN) -> None:
        if not 0.0 <= margin < 1.0:
            raise ValueError(f"margin {margin} must be in [0, 1).")
        self.margin = margin

    def pointwise(
        self, *, prompt: str, response: str, reference: str | None, metric_prompt_template: str
    ) -> PointwiseJudgement:
        require_metric_prompt_template(metric_prompt_template)
        if reference is None or not reference.strip():
            return PointwiseJudgement(NO_REFERENCE_SCORE, NO_REFERENCE_WHY, simulated=True)
        value = chrf(response, reference)
        return PointwiseJudgement(
            chrf_to_score(value),
            f"simulated judge: chrF {value:.3f} to the reference, mapped onto 1..5",
            simulated=True,
        )

    def pairwise(
        self,
        *,
        prompt: str,
        response: str,
        baseline_response: str,
        reference: str | None,
        metric_prompt_template: str,
    ) -> PairwiseJudgement:
        require_metric_prompt_template(metric_prompt_template)
        if reference is None or not reference.strip():
            return PairwiseJudgement("TIE", NO_REFERENCE_WHY, simulated=True)
        cand, base = chrf(response, reference), chrf(baseline_response, reference)
        if cand - base > self.margin:
            choice = "CANDIDATE"
        elif base - cand > self.margin:
            choice = "BASELINE"
        else:
            choice = "TIE"
        why = (
            f"simulated judge: chrF to the reference {cand:.3f} (candidate) vs {base:.3f} "
            f"(baseline), margin {self.margin:.2f}"
        )
        return PairwiseJudgement(choice, why, simulated=True)
