"""Contract of `ports.BatchPredictor`, run against every backend (the simulator, and the Vertex
adapter on the generated JobServiceClient against the REST fake). Probe: see conftest."""

from __future__ import annotations

import re
from typing import Any

import pytest

from shared import errors
from shared.ports import JOB_ACTIVE_STATES, BatchJobSpec

JOB_NAME = re.compile(r"projects/[^/]+/locations/[^/]+/batchPredictionJobs/[^/]+")


def spec(probe: Any, run_id: str, **labels: str) -> BatchJobSpec:
    return BatchJobSpec(
        run_id=run_id,
        display_name=f"gtp-{run_id}-eval-base",
        model="gemini-2.5-flash",
        input_uri=probe.input_uri,
        output_uri_prefix=probe.output_prefix,
        labels={"eval_role": "base", **labels},
    )


def test_create_get_and_find_return_the_same_job_with_its_labels(batch_probe: Any) -> None:
    created = batch_probe.batch.create_job(spec(batch_probe, "run-b1", eval_key="k1"))
    batch_probe.batch.create_job(spec(batch_probe, "run-other"))
    got = batch_probe.batch.get_job(created.name)
    assert JOB_NAME.fullmatch(created.name) and got.name == created.name
    for job in (created, got):
        assert job.state in JOB_ACTIVE_STATES and job.output_dir is None
        assert {"run_id": "run-b1", "eval_role": "base", "eval_key": "k1"}.items() <= dict(
            job.labels
        ).items()
    assert [j.name for j in batch_probe.batch.find_jobs("run-b1")] == [created.name]


def test_a_finished_job_names_the_folder_under_its_prefix(batch_probe: Any) -> None:
    job = batch_probe.batch.create_job(spec(batch_probe, "run-b2"))
    batch_probe.finish(job.name)
    done = batch_probe.batch.get_job(job.name)
    assert done.state == "SUCCEEDED" and done.succeeded == 1
    assert done.output_dir and done.output_dir.startswith(batch_probe.output_prefix + "/")


def test_unknown_jobs_and_invalid_labels_are_clear_errors(batch_probe: Any) -> None:
    with pytest.raises(errors.NotFound):
        batch_probe.batch.get_job("projects/p/locations/us-central1/batchPredictionJobs/424242")
    with pytest.raises(errors.PermanentError):
        batch_probe.batch.create_job(spec(batch_probe, "run-b3", Bad="x"))
