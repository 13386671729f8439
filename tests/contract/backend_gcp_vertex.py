"""Contract fixtures for the Vertex AI adapters: the official v1 clients (REST transport) against
the local HTTP fake in `tests.fakes.vertex_fake`.

Provides `gcp_tuner_probe`, `gcp_models` and `gcp_judge` in the shapes
`tests/contract/conftest.py` documents.
Load it from `tests/contract/backend_gcp.py` with `pytest_plugins = [...]` or `from ... import *`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from shared.gcp.vertex import VertexJudge, VertexModels, VertexTuner
from shared.gcp.vertex_batch import VertexBatchPredictor
from shared.gcp.vertex_clients import RetryPolicy
from shared.ports import TuningJob
from tests.contract.backend_local_sim import JUDGE_CASE, JudgeProbe
from tests.fakes.vertex_fake import VertexFake, running_fake

PROJECT = "contract-project"
LOCATION = "us-central1"
KNOWN_PROMPT = "怎么找回被盗的账号？"
KNOWN_ANSWER = "请在登录页点击“找回账号”，按提示验证手机号后重设密码。"
BASE_MODEL = "gemini-3.5-flash"

#: Fast backoff so retry paths stay within milliseconds in tests.
FAST_RETRY: dict[str, Any] = {"retry": RetryPolicy(deadline_s=2.0, initial_s=0.005, max_s=0.02)}


@dataclass
class VertexTunerProbe:
    """`.tuner` is the real adapter; `.finish` plays the service moving a job to an end state."""

    tuner: VertexTuner
    fake: VertexFake

    def finish(self, job_name: str, state: str, error_message: str | None = None) -> None:
        self.fake.finish(job_name, state, error_message)


@dataclass
class VertexBatchProbe:
    batch: VertexBatchPredictor
    fake: VertexFake
    input_uri: str = "gs://contract-art/batch-inference/r/k/input.jsonl"
    output_prefix: str = "gs://contract-art/batch-inference/r/k/base"

    def finish(self, job_name: str) -> None:
        self.fake.finish_batch(job_name, "SUCCEEDED", ok=1)


@pytest.fixture
def gcp_batch_probe(vertex_fake: VertexFake) -> VertexBatchProbe:
    batch = VertexBatchPredictor(PROJECT, LOCATION, api_endpoint=vertex_fake.endpoint, **FAST_RETRY)
    return VertexBatchProbe(batch, vertex_fake)


@pytest.fixture
def vertex_fake() -> Iterator[VertexFake]:
    with running_fake(PROJECT, LOCATION) as fake:
        yield fake


@pytest.fixture
def gcp_tuner_probe(vertex_fake: VertexFake) -> VertexTunerProbe:
    tuner = VertexTuner(PROJECT, LOCATION, api_endpoint=vertex_fake.endpoint, **FAST_RETRY)
    return VertexTunerProbe(tuner=tuner, fake=vertex_fake)


@pytest.fixture
def gcp_models(
    vertex_fake: VertexFake,
) -> tuple[VertexModels, str, str, str, str]:
    """A tuned endpoint that learned (KNOWN_PROMPT -> KNOWN_ANSWER); the base model did not."""
    models = VertexModels(PROJECT, LOCATION, api_endpoint=vertex_fake.endpoint, **FAST_RETRY)
    endpoint = _tuned_endpoint(vertex_fake)
    vertex_fake.teach(endpoint, KNOWN_PROMPT, KNOWN_ANSWER)
    return models, endpoint, BASE_MODEL, KNOWN_PROMPT, KNOWN_ANSWER


@pytest.fixture
def gcp_judge(vertex_fake: VertexFake) -> JudgeProbe:
    """The real adapter; the fake service is taught the verdicts an autorater gives on the
    known case (the same ones the simulated judge reaches by itself)."""
    c = JUDGE_CASE
    vertex_fake.program_pairwise(c.prompt, c.good, c.bad, "CANDIDATE", "B follows the reference")
    vertex_fake.program_pairwise(c.prompt, c.bad, c.good, "BASELINE", "A follows the reference")
    vertex_fake.program_pairwise(c.prompt, c.good, c.good, "TIE", "identical answers")
    vertex_fake.program_pointwise(c.prompt, c.good, 5.0, "correct and actionable")
    vertex_fake.program_pointwise(c.prompt, c.bad, 1.0, "does not answer the question")
    judge = VertexJudge(PROJECT, LOCATION, api_endpoint=vertex_fake.endpoint, **FAST_RETRY)
    return JudgeProbe(judge=judge, case=c, simulated=False)


def _tuned_endpoint(fake: VertexFake) -> str:
    """Tune a job through the real adapter and let the fake deploy it, as production would."""
    from shared.ports import TuningJobSpec

    tuner = VertexTuner(PROJECT, LOCATION, api_endpoint=fake.endpoint, **FAST_RETRY)
    job: TuningJob = tuner.create_job(
        TuningJobSpec(
            run_id="contract-models",
            display_name="gtp-contract-models",
            base_model=BASE_MODEL,
            training_dataset_uri="gs://contract/incoming/cs/train.jsonl",
            validation_dataset_uri=None,
            tuned_model_display_name="contract models",
            epoch_count=1,
            learning_rate_multiplier=1.0,
            adapter_size=4,
            export_last_checkpoint_only=True,
        )
    )
    fake.finish(job.name, "SUCCEEDED")
    endpoint = tuner.get_job(job.name).tuned_model_endpoint
    assert endpoint, "the fake deploys an endpoint for a SUCCEEDED job"
    return endpoint
