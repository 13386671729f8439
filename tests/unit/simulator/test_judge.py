"""SimulatedJudge: chrF-based verdicts that are deterministic, honest and labelled simulated."""

from __future__ import annotations

import pytest

from shared.errors import PermanentError
from shared.ports import PairwiseJudgement
from shared.simulator import SimulatedJudge

TEMPLATE = "{prompt} {reference} {response} {baseline_model_response}"
PROMPT = "充值了648元宝但是没到账怎么办？"
REFERENCE = "非常抱歉给您带来困扰。请提供订单号和角色ID，我们会在24小时内为您补发元宝。"
PARAPHRASE = "抱歉让您久等了，麻烦提供一下订单号和角色ID，我们核实后24小时内给您补发元宝。"
UNRELATED = "周年庆活动奖励将在活动结束后通过游戏邮件发放，请注意查收。"


def pair(
    judge: SimulatedJudge, candidate: str, baseline: str, reference: str | None = REFERENCE
) -> PairwiseJudgement:
    return judge.pairwise(
        prompt=PROMPT,
        response=candidate,
        baseline_response=baseline,
        reference=reference,
        metric_prompt_template=TEMPLATE,
    )


def test_a_chinese_paraphrase_beats_an_unrelated_answer_either_way_round() -> None:
    judge = SimulatedJudge()
    won = pair(judge, PARAPHRASE, UNRELATED)
    lost = pair(judge, UNRELATED, PARAPHRASE)
    assert (won.choice, lost.choice) == ("CANDIDATE", "BASELINE")
    assert won.simulated and lost.simulated
    assert "simulated" in won.explanation and "chrF" in won.explanation


def test_answers_within_the_margin_tie() -> None:
    almost = PARAPHRASE.replace("麻烦", "请")  # a one-word edit: no real preference
    got = pair(SimulatedJudge(), PARAPHRASE, almost)
    assert got.choice == "TIE", got.explanation
    # With no margin at all, the same tiny difference does pick a side.
    assert pair(SimulatedJudge(margin=0.0), PARAPHRASE, almost).choice != "TIE"


def test_without_a_reference_it_ties_and_says_why() -> None:
    for reference in (None, "  "):
        got = pair(SimulatedJudge(), PARAPHRASE, UNRELATED, reference)
        assert got.choice == "TIE" and got.simulated
        assert "no reference" in got.explanation


def test_pointwise_maps_chrf_onto_1_to_5() -> None:
    judge = SimulatedJudge()

    def score(response: str, reference: str | None = REFERENCE) -> float:
        return judge.pointwise(
            prompt=PROMPT, response=response, reference=reference, metric_prompt_template=TEMPLATE
        ).score

    assert score(REFERENCE) == 5.0
    assert score("abc") == 1.0  # nothing in common with the Chinese reference
    assert 1.0 < score(UNRELATED) < score(PARAPHRASE) < 5.0
    assert score(PARAPHRASE, None) == 3.0  # no reference: the midpoint, not a verdict


def test_verdicts_are_deterministic() -> None:
    a, b = SimulatedJudge(), SimulatedJudge()
    assert pair(a, PARAPHRASE, UNRELATED) == pair(b, PARAPHRASE, UNRELATED)


def test_bad_arguments_get_clear_errors() -> None:
    with pytest.raises(ValueError, match="margin"):
        SimulatedJudge(margin=1.5)
    with pytest.raises(PermanentError, match="metric_prompt_template is empty"):
        SimulatedJudge().pointwise(
            prompt=PROMPT, response=PARAPHRASE, reference=REFERENCE, metric_prompt_template=""
        )
