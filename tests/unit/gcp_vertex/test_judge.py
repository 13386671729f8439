"""VertexJudge on the official REST client against the wire fake: what goes over the wire, how
the answer is read back, and which failures are retried."""

from __future__ import annotations

import json

import pytest

from shared.errors import NotFound, PermanentError, TransientError
from shared.gcp.vertex import VertexJudge
from shared.gcp.vertex_judge import choice_name
from tests.fakes.vertex_fake import PAIRWISE_CHOICE_WIRE, VertexFake

from .conftest import FAST, LOCATION, PROJECT

PROMPT = "充值没到账怎么办？"
TUNED = "请提供订单号，我们核实后会在24小时内补发。"
BASE = "您好，请问还有什么可以帮您？"
REFERENCE = "请提供订单号和充值截图，我们会在24小时内为您补发。"
TEMPLATE = (
    "Which answer is better?\n{prompt}\n{reference}\nA: {baseline_model_response}\nB: {response}"
)


@pytest.fixture
def judge(fake: VertexFake) -> VertexJudge:
    return VertexJudge(PROJECT, LOCATION, api_endpoint=fake.endpoint, **FAST)


def ask(judge: VertexJudge, reference: str | None = REFERENCE) -> str:
    return judge.pairwise(
        prompt=PROMPT,
        response=TUNED,
        baseline_response=BASE,
        reference=reference,
        metric_prompt_template=TEMPLATE,
    ).choice


def test_pairwise_request_on_the_wire(judge: VertexJudge, fake: VertexFake) -> None:
    ask(judge)
    (req,) = fake.requests_for("evaluate")
    assert req.path == f"/v1/projects/{PROJECT}/locations/{LOCATION}:evaluateInstances"
    assert req.query["$alt"] == ["json;enum-encoding=int"]
    metric = req.body["pairwiseMetricInput"]
    assert set(req.body) == {"pairwiseMetricInput"}
    assert metric["metricSpec"] == {
        "metricPromptTemplate": TEMPLATE,
        "candidateResponseFieldName": "response",
        "baselineResponseFieldName": "baseline_model_response",
    }
    raw = metric["instance"]["jsonInstance"]
    assert "充值" in raw  # UTF-8, not \\u escapes: what the rubric renders is readable
    assert json.loads(raw) == {
        "prompt": PROMPT,
        "response": TUNED,
        "baseline_model_response": BASE,
        "reference": REFERENCE,
    }


def test_pointwise_request_and_result(judge: VertexJudge, fake: VertexFake) -> None:
    fake.program_pointwise(PROMPT, TUNED, 4.0, "给出了订单号这一关键步骤")
    got = judge.pointwise(
        prompt=PROMPT, response=TUNED, reference=None, metric_prompt_template="{response}"
    )
    assert (got.score, got.explanation, got.simulated) == (4.0, "给出了订单号这一关键步骤", False)
    (req,) = fake.requests_for("evaluate")
    metric = req.body["pointwiseMetricInput"]
    assert metric["metricSpec"] == {"metricPromptTemplate": "{response}"}
    # No reference: the key is left out rather than sent empty.
    assert json.loads(metric["instance"]["jsonInstance"]) == {"prompt": PROMPT, "response": TUNED}


@pytest.mark.parametrize("choice", ["CANDIDATE", "BASELINE", "TIE"])
def test_pairwise_choice_is_mapped_by_name(
    judge: VertexJudge, fake: VertexFake, choice: str
) -> None:
    fake.program_pairwise(PROMPT, TUNED, BASE, choice, f"because {choice}")
    got = judge.pairwise(
        prompt=PROMPT,
        response=TUNED,
        baseline_response=BASE,
        reference=REFERENCE,
        metric_prompt_template=TEMPLATE,
    )
    assert (got.choice, got.explanation, got.confidence) == (choice, f"because {choice}", None)


def test_the_wire_numbers_are_not_in_reading_order() -> None:
    """Guards the fake's table: a by-number mapping in the adapter would fail the test above."""
    from google.cloud.aiplatform_v1.types import PairwiseChoice

    assert {c: PairwiseChoice[c].value for c in PAIRWISE_CHOICE_WIRE} == PAIRWISE_CHOICE_WIRE  # type: ignore[misc]


def test_an_unspecified_choice_is_a_permanent_error_with_a_hint() -> None:
    from google.cloud.aiplatform_v1.types import PairwiseChoice

    assert choice_name(PairwiseChoice.CANDIDATE) == "CANDIDATE"
    with pytest.raises(PermanentError, match="custom output format"):
        choice_name(PairwiseChoice.PAIRWISE_CHOICE_UNSPECIFIED)


@pytest.mark.parametrize("status", [429, 503])
def test_transient_errors_are_retried(judge: VertexJudge, fake: VertexFake, status: int) -> None:
    fake.program_pairwise(PROMPT, TUNED, BASE, "CANDIDATE")
    fake.fail_next(2, status, method="evaluate")
    assert ask(judge) == "CANDIDATE"
    assert len(fake.requests_for("evaluate")) == 3


def test_a_lasting_outage_surfaces_as_transient(judge: VertexJudge, fake: VertexFake) -> None:
    fake.fail_next(10_000, 503, method="evaluate")
    with pytest.raises(TransientError, match="gave up after"):
        ask(judge)


def test_a_400_is_permanent_and_not_retried(judge: VertexJudge, fake: VertexFake) -> None:
    fake.fail_next(1, 400, method="evaluate", message="metric_prompt_template is invalid.")
    with pytest.raises(PermanentError, match="metric_prompt_template is invalid"):
        ask(judge)
    assert len(fake.requests_for("evaluate")) == 1


def test_an_empty_template_is_refused_before_any_call(judge: VertexJudge, fake: VertexFake) -> None:
    with pytest.raises(PermanentError, match="metric_prompt_template is empty"):
        judge.pointwise(prompt=PROMPT, response=TUNED, reference=None, metric_prompt_template="")
    assert fake.requests_for("evaluate") == []


def test_a_location_the_service_does_not_serve_is_not_found(fake: VertexFake) -> None:
    other = VertexJudge(PROJECT, "asia-east1", api_endpoint=fake.endpoint, **FAST)
    with pytest.raises(NotFound):
        ask(other)
