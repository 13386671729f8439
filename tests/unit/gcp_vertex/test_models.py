"""VertexModels on the official REST clients against the wire fake."""

from __future__ import annotations

import pytest

from shared.errors import NotFound, TransientError
from shared.gcp.vertex import VertexModels, model_path
from tests.fakes.vertex_fake import BASE_MODEL_ANSWER, VertexFake

PROMPT = [{"role": "user", "parts": [{"text": "充值没到账怎么办？"}]}]


def test_short_names_expand_to_the_regional_publisher_model() -> None:
    assert model_path("gemini-3.5-flash", "p", "us-east1") == (
        "projects/p/locations/us-east1/publishers/google/models/gemini-3.5-flash"
    )
    endpoint = "projects/p/locations/us-east1/endpoints/42"
    assert model_path(endpoint, "p", "us-east1") == endpoint


def test_generate_on_an_endpoint_and_on_the_base_model(
    models: VertexModels, fake: VertexFake
) -> None:
    endpoint = f"{fake.parent}/endpoints/7"
    fake.teach(endpoint, "充值没到账怎么办？", "请提供订单号，我们会在24小时内补发。")
    assert models.generate(endpoint, PROMPT).text == "请提供订单号，我们会在24小时内补发。"
    assert models.generate("gemini-3.5-flash", PROMPT).text == BASE_MODEL_ANSWER
    paths = [r.path for r in fake.requests_for("generate")]
    # The base 3.x model is not served on europe-west4: the EU multi-region keeps the call
    # in the deployment's jurisdiction (shared/catalog.json `serving`).
    assert paths == [
        f"/v1/{endpoint}:generateContent",
        f"/v1/projects/{models.project}/locations/eu/publishers/google/models/gemini-3.5-flash"
        ":generateContent",
    ]


def test_system_instruction_is_sent(models: VertexModels, fake: VertexFake) -> None:
    system = {"parts": [{"text": "你是游戏客服。"}]}
    models.generate("gemini-3.5-flash", PROMPT, system_instruction=system)
    body = fake.requests_for("generate")[0].body
    assert body["systemInstruction"]["parts"] == [{"text": "你是游戏客服。"}]
    assert body["contents"][0]["parts"] == [{"text": "充值没到账怎么办？"}]


def test_unknown_endpoint_is_not_found(models: VertexModels, fake: VertexFake) -> None:
    with pytest.raises(NotFound, match="not found"):
        models.generate(f"{fake.parent}/endpoints/999", PROMPT)


def test_generate_retries_unavailable_then_gives_up(models: VertexModels, fake: VertexFake) -> None:
    fake.fail_next(2, 503, method="generate")
    assert models.generate("gemini-3.5-flash", PROMPT).text == BASE_MODEL_ANSWER
    fake.fail_next(10_000, 429, method="generate")
    with pytest.raises(TransientError):
        models.generate("gemini-3.5-flash", PROMPT)


def test_count_tokens(models: VertexModels, fake: VertexFake) -> None:
    contents = [{"role": "user", "parts": [{"text": "充值 failed twice"}]}]
    assert models.count_tokens("gemini-3.5-flash", contents) == 4  # 2 CJK chars + 2 words
    (req,) = fake.requests_for("count_tokens")
    assert req.path.endswith("/publishers/google/models/gemini-3.5-flash:countTokens")


def test_publisher_model_check_reports_missing_models(fake: VertexFake) -> None:
    """`gemini-tuning models --check` on the official client's REST transport."""
    from shared.gcp.vertex_catalog import check_publisher_models

    got = check_publisher_models(
        ["gemini-3.5-flash", "gemini-0.9-gone"],
        project=fake.project,
        location=fake.location,
        api_endpoint=fake.endpoint,
    )
    assert [(c.name, c.exists) for c in got] == [
        ("gemini-3.5-flash", True),
        ("gemini-0.9-gone", False),
    ]
    assert "not found" in got[1].detail


@pytest.mark.parametrize(
    ("model", "wire"),
    [
        ("gemini-3.5-flash", {"thinkingLevel": 4}),  # MINIMAL
        ("gemini-2.5-flash", {"thinkingBudget": 0}),
        ("gemini-2.5-pro", {"thinkingBudget": 128}),  # 2.5 Pro cannot turn thinking off
    ],
)
def test_thinking_goes_to_its_lowest_per_model_family(
    models: VertexModels, fake: VertexFake, model: str, wire: dict[str, int]
) -> None:
    from shared.catalog import BUILTIN, lowest_thinking
    from shared.ports import GenerationSettings

    budget, level = lowest_thinking(BUILTIN.get(model))
    settings = GenerationSettings(temperature=0.0, thinking_budget=budget, thinking_level=level)
    models.generate(model, PROMPT, settings=settings)
    body = fake.requests_for("generate")[-1].body
    assert body["generationConfig"]["thinkingConfig"] == wire
    assert body["generationConfig"]["temperature"] == 0.0


def test_sending_both_thinking_controls_is_refused_before_the_call() -> None:
    from shared.gcp.vertex_models import generation_config
    from shared.ports import GenerationSettings

    with pytest.raises(ValueError, match="400"):
        generation_config(GenerationSettings(thinking_budget=0, thinking_level="MINIMAL"))
