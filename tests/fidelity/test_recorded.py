"""Real Vertex AI replies (recorded in GoogleCloudPlatform/generative-ai notebooks; see each
fixture's `_source`) as golden fixtures: the document accepts them, our job parser reads them,
and the fake's replies carry every field the parser reads from them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from shared.gcp.vertex_tuning import to_tuning_job
from tests.fakes.vertex_fake import running_fake
from tests.fidelity.discovery import document, walk

RECORDED = Path(__file__).parent / "recorded"
FIXTURES = sorted(RECORDED.glob("tuning_job_*.json"))


def _job(path: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    assert doc["_source"]["commit"] and doc["_source"]["path"]
    job: dict[str, Any] = doc["tuningJob"]
    return job


def _parse(job: dict[str, Any]) -> Any:
    from google.cloud.aiplatform_v1 import types
    from google.protobuf import json_format

    pb = types.TuningJob.pb(types.TuningJob())
    json_format.ParseDict(job, pb, ignore_unknown_fields=False)
    return to_tuning_job(types.TuningJob.wrap(pb), "801452371447")


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.stem)
def test_the_document_accepts_the_recorded_job(path: Path) -> None:
    assert walk(_job(path), "TuningJob", document()) == []


def test_the_parser_reads_a_recorded_succeeded_job() -> None:
    job = _parse(_job(RECORDED / "tuning_job_succeeded_gemini20_image.json"))
    assert job.state == "SUCCEEDED"
    assert job.base_model == "gemini-2.0-flash-001"
    assert job.tuned_model_endpoint == (
        "projects/801452371447/locations/us-central1/endpoints/4867904113536401408"
    )
    assert job.tuned_model_name and job.tuned_model_name.endswith("@1")
    assert (job.epoch_count, job.learning_rate_multiplier, job.adapter_size) == (40, 0.5, 4)
    assert job.stats is not None and job.stats.examples == 90
    assert job.stats.billable_tokens and job.stats.billable_tokens > 0
    assert job.experiment and "/metadataStores/default/contexts/" in job.experiment
    assert job.end_time and job.create_time


def test_the_parser_reads_a_recorded_running_job() -> None:
    job = _parse(_job(RECORDED / "tuning_job_running_gemini20_image.json"))
    assert job.state in ("PENDING", "RUNNING", "QUEUED")
    assert job.tuned_model_endpoint is None and job.stats is None


def _paths(value: Any, at: str = "") -> set[str]:
    if isinstance(value, dict):
        return {p for k, v in value.items() for p in {f"{at}.{k}"} | _paths(v, f"{at}.{k}")}
    return set()


def test_the_fakes_succeeded_job_has_what_the_real_one_has() -> None:
    """Every field the recorded job shows and the parser reads is in the fake's reply too."""
    real = _job(RECORDED / "tuning_job_succeeded_gemini20_image.json")
    read_by_parser = {
        ".name", ".state", ".createTime", ".endTime", ".experiment", ".tunedModel.model",
        ".tunedModel.endpoint",
        ".tuningDataStats.supervisedTuningDataStats.totalBillableTokenCount",
        ".tuningDataStats.supervisedTuningDataStats.tuningDatasetExampleCount",
        ".supervisedTuningSpec.hyperParameters.epochCount",
        ".supervisedTuningSpec.hyperParameters.adapterSize",
    }  # fmt: skip
    assert read_by_parser <= _paths(real)
    with running_fake("801452371447", "us-central1") as fake:
        body = {
            "baseModel": "gemini-2.0-flash-001",
            "supervisedTuningSpec": {"trainingDatasetUri": "gs://b/train.jsonl"},
        }
        created = fake._create(fake.parent, body, None)
        fake.set_curves(created["name"], {"train_total_loss": [(1, 1.0)]})
        fake.finish(created["name"], "SUCCEEDED")
        replied = fake._get(created["name"], None, None)
    assert read_by_parser <= _paths(replied), read_by_parser - _paths(replied)
