"""Contract of `ports.Tuner`, run against every backend.

Probe shape (fixture `tuner_probe`, supplied per backend as `<backend>_tuner_probe`):

- `.tuner`: the `Tuner` under test, with no jobs yet.
- `.finish(job_name: str, state: str, error_message: str | None = None) -> None`: plays the
  service moving an active job to an end state ("SUCCEEDED", "FAILED", "CANCELLED"). The local
  simulator does it through its control API, the GCP backend by setting the job in its HTTP
  fake's table. Jobs must stay active until finished or cancelled (no natural end mid-test).
- `.training_dataset_uri` (optional): a training-data URI the backend accepts at create time
  (the local backend checks its file exists); defaults to a `gs://` URI.

Fixture `models` (see test_models.py): `(models, tuned_model, base_model, known_prompt,
known_answer)` where the tuned model was trained on data containing known_prompt -> known_answer.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

import pytest

from shared import errors
from shared.ports import (
    JOB_ACTIVE_STATES,
    JOB_CANCELLED_STATES,
    JOB_FAILURE_STATES,
    JOB_SUCCESS_STATES,
    Tuner,
    TuningJob,
    TuningJobSpec,
)
from tests.contract.backend_local_sim import local_tuner_probe  # noqa: F401  (registers it)

END_STATES = JOB_SUCCESS_STATES | JOB_FAILURE_STATES | JOB_CANCELLED_STATES
JOB_NAME = re.compile(r"projects/[^/]+/locations/[^/]+/tuningJobs/[^/]+")
#: Order a job's state may only climb: waiting, working, winding down, ended.
RANK = {"QUEUED": 0, "PENDING": 0, "RUNNING": 1, "UPDATING": 1, "PAUSED": 1, "CANCELLING": 2}


def rank(state: str) -> int:
    return 3 if state in END_STATES else RANK[state]


def spec(probe: Any, run_id: str, *, labels: dict[str, str] | None = None) -> TuningJobSpec:
    return TuningJobSpec(
        run_id=run_id,
        display_name=f"gtp-{run_id}",
        base_model="gemini-3.5-flash",
        training_dataset_uri=getattr(
            probe, "training_dataset_uri", "gs://contract-tests/incoming/cs/train.jsonl"
        ),
        validation_dataset_uri=None,
        tuned_model_display_name=f"tuned {run_id}",
        epoch_count=2,
        learning_rate_multiplier=1.0,
        adapter_size=4,
        export_last_checkpoint_only=True,
        labels=labels or {},
    )


def create(probe: Any, run_id: str, **kw: Any) -> TuningJob:
    tuner: Tuner = probe.tuner
    return tuner.create_job(spec(probe, run_id, **kw))


def test_create_then_get_returns_the_same_job_with_its_labels(tuner_probe: Any) -> None:
    created = create(tuner_probe, "run-create", labels={"team": "cs"})
    got = tuner_probe.tuner.get_job(created.name)

    assert JOB_NAME.fullmatch(created.name)
    assert got.name == created.name
    assert got.display_name == "gtp-run-create"
    for job in (created, got):
        assert {"team": "cs", "run_id": "run-create"}.items() <= dict(job.labels).items()
        assert job.state in JOB_ACTIVE_STATES
        assert job.tuned_model_endpoint is None


def test_find_jobs_returns_exactly_the_runs_jobs(tuner_probe: Any) -> None:
    mine = create(tuner_probe, "run-mine")
    create(tuner_probe, "run-other")
    create(tuner_probe, "run-mine-2")  # shares a prefix: a label match must be exact

    assert [j.name for j in tuner_probe.tuner.find_jobs("run-mine")] == [mine.name]
    assert tuner_probe.tuner.find_jobs("run-nobody") == []


def test_states_only_move_forward_to_success(tuner_probe: Any) -> None:
    job = create(tuner_probe, "run-forward")
    seen = [job.state] + [tuner_probe.tuner.get_job(job.name).state for _ in range(3)]
    tuner_probe.finish(job.name, "SUCCEEDED")
    final = [tuner_probe.tuner.get_job(job.name) for _ in range(2)]
    seen += [j.state for j in final]

    assert [rank(s) for s in seen] == sorted(rank(s) for s in seen), seen
    assert seen[-1] == seen[-2] == "SUCCEEDED"
    assert final[-1].tuned_model_endpoint
    assert final[-1].error_message is None


def test_a_failed_job_shows_the_error_message(tuner_probe: Any) -> None:
    job = create(tuner_probe, "run-fails")
    tuner_probe.finish(job.name, "FAILED", "Training data has 3 invalid rows.")
    got = tuner_probe.tuner.get_job(job.name)

    assert got.state == "FAILED"
    assert got.error_message is not None
    assert "Training data has 3 invalid rows." in got.error_message
    assert got.tuned_model_endpoint is None


def test_cancel_moves_the_job_to_cancelling_then_cancelled(tuner_probe: Any) -> None:
    job = create(tuner_probe, "run-cancel")
    tuner_probe.tuner.cancel_job(job.name)
    after = tuner_probe.tuner.get_job(job.name).state
    assert after in {"CANCELLING", "CANCELLED"}
    if after == "CANCELLING":
        tuner_probe.finish(job.name, "CANCELLED")

    got = tuner_probe.tuner.get_job(job.name)
    assert got.state == "CANCELLED"
    assert got.tuned_model_endpoint is None


def test_unknown_job_is_not_found(tuner_probe: Any) -> None:
    job = create(tuner_probe, "run-exists")
    missing = job.name.rsplit("/", 1)[0] + "/1234567890123"

    with pytest.raises(errors.NotFound):
        tuner_probe.tuner.get_job(missing)


def test_a_finished_job_reports_what_it_trained_with(tuner_probe: Any) -> None:
    """Unset hyperparameters come back as the service's choice; a job that keeps checkpoints
    lists one per epoch with its own endpoint; the data statistics are there."""
    job = tuner_probe.tuner.create_job(
        replace(
            spec(tuner_probe, "run-report"),
            epoch_count=None,
            learning_rate_multiplier=None,
            adapter_size=None,
            export_last_checkpoint_only=False,
        )
    )
    tuner_probe.finish(job.name, "SUCCEEDED")
    done = tuner_probe.tuner.get_job(job.name)
    assert done.epoch_count and done.learning_rate_multiplier and done.adapter_size
    assert [c.epoch for c in done.checkpoints] == list(range(1, done.epoch_count + 1))
    assert all(c.endpoint for c in done.checkpoints)
    assert done.stats is not None and done.stats.billable_tokens and done.stats.examples
    assert done.base_model == "gemini-3.5-flash"


def test_a_last_checkpoint_only_job_keeps_one(tuner_probe: Any) -> None:
    job = create(tuner_probe, "run-last")  # epoch_count=2, export_last_checkpoint_only=True
    tuner_probe.finish(job.name, "SUCCEEDED")
    done = tuner_probe.tuner.get_job(job.name)
    assert [c.epoch for c in done.checkpoints] == [2]
    assert done.epoch_count == 2


def test_the_default_checkpoint_can_be_chosen(tuner_probe: Any) -> None:
    job = tuner_probe.tuner.create_job(
        replace(spec(tuner_probe, "run-ckpt"), export_last_checkpoint_only=False)
    )
    tuner_probe.finish(job.name, "SUCCEEDED")
    done = tuner_probe.tuner.get_job(job.name)
    assert done.tuned_model_name and len(done.checkpoints) == 2
    tuner_probe.tuner.set_default_checkpoint(done.tuned_model_name, "1")
    with pytest.raises(errors.PermanentError):  # NotFound is one too
        tuner_probe.tuner.set_default_checkpoint(done.tuned_model_name, "no-such-checkpoint")
