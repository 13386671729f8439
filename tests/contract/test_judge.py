"""Contract of `ports.Judge`, run against every backend (fixture shape: see conftest.py).

The Vertex adapter runs over REST against the wire fake taught an autorater's verdicts on the
known case; the simulator has to reach the same verdicts from the text alone.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from shared import errors
from shared.evaluation import DEFAULT_PAIRWISE_TEMPLATE
from shared.ports import Judge, PairwiseJudgement, PointwiseJudgement
from tests.contract.backend_local_sim import JudgeProbe

POINTWISE_TEMPLATE = (
    "Rate from 1 to 5 how well the response answers the player, given the reference.\n"
    "Player: {prompt}\nReference: {reference}\nResponse: {response}"
)


def pairwise(probe: JudgeProbe, candidate: str, baseline: str) -> PairwiseJudgement:
    c = probe.case
    return probe.judge.pairwise(
        prompt=c.prompt,
        response=candidate,
        baseline_response=baseline,
        reference=c.reference,
        metric_prompt_template=DEFAULT_PAIRWISE_TEMPLATE,
    )


def pointwise(probe: JudgeProbe, response: str) -> PointwiseJudgement:
    c = probe.case
    return probe.judge.pointwise(
        prompt=c.prompt,
        response=response,
        reference=c.reference,
        metric_prompt_template=POINTWISE_TEMPLATE,
    )


def test_implements_the_port(judge: JudgeProbe) -> None:
    assert isinstance(judge.judge, Judge)


def test_pairwise_prefers_the_answer_that_matches_the_reference(judge: JudgeProbe) -> None:
    got = pairwise(judge, judge.case.good, judge.case.bad)
    assert got.choice == "CANDIDATE", got.explanation
    assert got.explanation.strip()
    assert got.simulated is judge.simulated


def test_swapping_the_answers_swaps_the_verdict(judge: JudgeProbe) -> None:
    got = pairwise(judge, judge.case.bad, judge.case.good)
    assert got.choice == "BASELINE", got.explanation
    assert got.simulated is judge.simulated


def test_identical_answers_tie(judge: JudgeProbe) -> None:
    assert pairwise(judge, judge.case.good, judge.case.good).choice == "TIE"


def test_pointwise_scores_on_the_1_to_5_rubric_scale(judge: JudgeProbe) -> None:
    good, bad = pointwise(judge, judge.case.good), pointwise(judge, judge.case.bad)
    assert 1.0 <= bad.score < good.score <= 5.0, (good, bad)
    assert good.simulated is bad.simulated is judge.simulated


def test_an_empty_rubric_is_a_permanent_error(judge: JudgeProbe) -> None:
    c = judge.case
    with pytest.raises(errors.PermanentError, match="metric_prompt_template"):
        judge.judge.pairwise(
            prompt=c.prompt,
            response=c.good,
            baseline_response=c.bad,
            reference=c.reference,
            metric_prompt_template="  ",
        )
    with pytest.raises(errors.PermanentError, match="metric_prompt_template"):
        judge.judge.pointwise(
            prompt=c.prompt, response=c.good, reference=c.reference, metric_prompt_template=""
        )


def test_concurrent_calls_get_the_same_verdicts(judge: JudgeProbe) -> None:
    """The evaluator fans judge calls out over threads: one adapter must serve them all."""
    c = judge.case
    pairs = [(c.good, c.bad), (c.bad, c.good), (c.good, c.good)] * 4
    with ThreadPoolExecutor(max_workers=6) as pool:
        got = list(pool.map(lambda p: pairwise(judge, *p).choice, pairs))
    assert got == ["CANDIDATE", "BASELINE", "TIE"] * 4
