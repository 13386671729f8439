"""`VertexBatchPredictor` on the generated JobServiceClient (REST) against the local fake."""

from __future__ import annotations

import pytest

from shared.errors import NotFound, PermanentError
from shared.gcp.vertex_batch import VertexBatchPredictor
from shared.ports import BatchJobSpec
from tests.fakes.vertex_fake import VertexFake

from .conftest import FAST, LOCATION, PROJECT

SPEC = BatchJobSpec(
    run_id="cs-zh-0123456789ab",
    display_name="gtp-cs-zh-0123456789ab-eval-tuned",
    model=f"projects/{PROJECT}/locations/{LOCATION}/models/42@1",
    input_uri="gs://art/runs/r/evaluation/batch/k/input.jsonl",
    output_uri_prefix="gs://art/runs/r/evaluation/batch/k/tuned",
    labels={"eval_role": "tuned", "eval_key": "0123456789abcdef"},
)


@pytest.fixture
def batch(fake: VertexFake) -> VertexBatchPredictor:
    return VertexBatchPredictor(PROJECT, LOCATION, api_endpoint=fake.endpoint, **FAST)


def test_a_tuned_model_job_is_created_in_its_own_location_with_jsonl_in_and_out(
    fake: VertexFake, batch: VertexBatchPredictor
) -> None:
    job = batch.create_job(SPEC)
    assert job.state == "PENDING" and job.name.startswith(
        f"projects/{PROJECT}/locations/{LOCATION}/"
    )
    (sent,) = [r for r in fake.state.requests if r.route == "create_batch"]
    body = sent.body
    assert body["model"] == SPEC.model
    assert body["inputConfig"] == {
        "instancesFormat": "jsonl",
        "gcsSource": {"uris": [SPEC.input_uri]},
    }
    assert body["outputConfig"] == {
        "predictionsFormat": "jsonl",
        "gcsDestination": {"outputUriPrefix": SPEC.output_uri_prefix},
    }
    assert body["labels"] == {**SPEC.labels, "run_id": SPEC.run_id}
    folder = fake.finish_batch(job.name, "SUCCEEDED", ok=5, failed=1)
    done = batch.get_job(job.name)
    assert (done.state, done.output_dir, done.succeeded, done.failed) == ("SUCCEEDED", folder, 5, 1)


def test_a_base_model_is_named_as_a_publisher_model(
    fake: VertexFake, batch: VertexBatchPredictor
) -> None:
    job = batch.create_job(
        BatchJobSpec(**{**SPEC.__dict__, "model": "gemini-2.5-flash", "display_name": "b"})
    )
    assert job.model == "publishers/google/models/gemini-2.5-flash"
    assert batch.find_jobs(SPEC.run_id)[0].name == job.name


def test_a_lost_create_response_finds_the_job_instead_of_a_second(
    fake: VertexFake, batch: VertexBatchPredictor
) -> None:
    fake.lose_response(1, method="create_batch")
    job = batch.create_job(SPEC)
    assert len(fake.state.batch_jobs) == 1 and job.name in fake.state.batch_jobs


def test_a_job_runs_where_its_tuned_model_lives(batch: VertexBatchPredictor) -> None:
    elsewhere = f"projects/{PROJECT}/locations/us-central1/models/7@1"
    job = batch.create_job(BatchJobSpec(**{**SPEC.__dict__, "model": elsewhere}))
    assert job.name.startswith(f"projects/{PROJECT}/locations/us-central1/batchPredictionJobs/")
    assert batch.get_job(job.name).model == elsewhere


def test_refusals_and_unknown_jobs_are_clear(batch: VertexBatchPredictor) -> None:
    with pytest.raises(PermanentError, match="label"):
        batch.create_job(BatchJobSpec(**{**SPEC.__dict__, "labels": {"Bad": "x"}}))
    with pytest.raises(PermanentError, match="share the job's location"):
        batch.create_job(BatchJobSpec(**{**SPEC.__dict__, "model": "models/7"}))
    with pytest.raises(NotFound):
        batch.get_job(f"projects/{PROJECT}/locations/{LOCATION}/batchPredictionJobs/999")


def test_a_base_model_job_in_a_multi_region_is_found_again(batch: VertexBatchPredictor) -> None:
    """A 3.x base model answers from the jurisdiction's multi-region (catalog `serving`), so its
    job lives there; a redelivery after a lost record must still find it."""
    spec = BatchJobSpec(**{**SPEC.__dict__, "model": "gemini-3.5-flash", "display_name": "b3"})
    job = batch.create_job(spec)
    assert "/locations/eu/" in job.name  # the deployment is in europe-west4
    assert [j.name for j in batch.find_jobs(SPEC.run_id)] == [job.name]
