"""The real Vertex adapters on the REST transport, against a fresh local fake per test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import pytest

from shared.gcp.vertex import VertexModels, VertexTuner
from shared.gcp.vertex_clients import RetryPolicy
from shared.ports import TuningJobSpec
from tests.fakes.vertex_fake import VertexFake, running_fake

PROJECT = "unit-project"
LOCATION = "europe-west4"
FAST: dict[str, Any] = {"retry": RetryPolicy(deadline_s=0.3, initial_s=0.002, max_s=0.01)}

SPEC = TuningJobSpec(
    run_id="cs-zh-0123456789ab",
    display_name="gtp-cs-zh-0123456789ab",
    base_model="gemini-3.5-flash",
    training_dataset_uri="gs://ds/incoming/cs-zh/train.jsonl",
    validation_dataset_uri="gs://ds/incoming/cs-zh/validation.jsonl",
    tuned_model_display_name="cs-zh tuned",
    epoch_count=3,
    learning_rate_multiplier=0.5,
    adapter_size=4,
    export_last_checkpoint_only=True,
    labels={"team": "support"},
)


@pytest.fixture
def fake() -> Iterator[VertexFake]:
    with running_fake(PROJECT, LOCATION) as f:
        yield f


@pytest.fixture
def tuner(fake: VertexFake) -> VertexTuner:
    return VertexTuner(PROJECT, LOCATION, api_endpoint=fake.endpoint, **FAST)


@pytest.fixture
def models(fake: VertexFake) -> VertexModels:
    return VertexModels(PROJECT, LOCATION, api_endpoint=fake.endpoint, **FAST)


@pytest.fixture
def spec() -> Callable[..., TuningJobSpec]:
    def make(**changes: Any) -> TuningJobSpec:
        return replace(SPEC, **changes)

    return make
