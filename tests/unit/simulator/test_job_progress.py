"""Jobs move through their states by the clock alone, and only forward."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared import errors
from shared.simulator.config import DEFAULT_FAIL_MESSAGE
from tests.unit.simulator.helpers import ManualClock, dataset, make_spec, make_tuner


def test_a_job_is_queued_then_running_then_succeeded(tmp_path: Path) -> None:
    clock = ManualClock()
    tuner = make_tuner(tmp_path, clock, training_seconds=10, queued_fraction=0.1)
    job = tuner.create_job(make_spec(dataset(tmp_path)))
    t0 = clock.now

    observed = {}
    for offset in (0, 0.99, 1.0, 5, 9.99, 10, 1000):
        clock.now = t0 + offset
        observed[offset] = tuner.get_job(job.name)

    assert [observed[o].state for o in observed] == [
        "QUEUED",
        "QUEUED",
        "RUNNING",
        "RUNNING",
        "RUNNING",
        "SUCCEEDED",
        "SUCCEEDED",
    ]
    done = observed[10]
    assert done.tuned_model_endpoint == (
        f"projects/local-project/locations/us-central1/endpoints/sim-{job.name.rsplit('/', 1)[1]}"
    )
    assert done.tuned_model_name and done.end_time and done.create_time
    assert observed[5].tuned_model_endpoint is None and observed[5].end_time is None


def test_every_job_says_it_is_simulated(tmp_path: Path) -> None:
    tuner = make_tuner(tmp_path)
    job = tuner.create_job(make_spec(dataset(tmp_path)))

    assert job.simulated and tuner.get_job(job.name).simulated
    assert job.console_url and job.console_url.startswith("file://")
    page = Path(job.console_url.removeprefix("file://")).read_text(encoding="utf-8")
    assert "simulated" in page.lower() and job.name in page


def test_jobs_matching_the_fail_pattern_fail_with_vertexs_message(tmp_path: Path) -> None:
    clock = ManualClock()
    tuner = make_tuner(tmp_path, clock, training_seconds=10, fail_jobs="*-bad*")
    uri = dataset(tmp_path)
    bad = tuner.create_job(make_spec(uri, "bad-1", display_name="gtp-bad-1"))
    good = tuner.create_job(make_spec(uri, "good-1", display_name="gtp-good-1"))

    clock.now += 5
    assert tuner.get_job(bad.name).state == "RUNNING"  # fails only at the end, like Vertex
    clock.now += 5
    failed = tuner.get_job(bad.name)
    assert (failed.state, failed.error_message, failed.error_code) == (
        "FAILED",
        DEFAULT_FAIL_MESSAGE,
        13,
    )
    assert tuner.get_job(good.name).state == "SUCCEEDED"


def test_cancel_passes_through_cancelling(tmp_path: Path) -> None:
    clock = ManualClock()
    tuner = make_tuner(tmp_path, clock, training_seconds=10, cancel_seconds=1)
    job = tuner.create_job(make_spec(dataset(tmp_path)))
    clock.now += 2
    tuner.cancel_job(job.name)
    tuner.cancel_job(job.name)  # a repeated cancel is harmless

    assert tuner.get_job(job.name).state == "CANCELLING"
    clock.now += 1
    assert tuner.get_job(job.name).state == "CANCELLED"
    clock.now += 100  # the natural end time has passed: cancellation still wins
    assert tuner.get_job(job.name).state == "CANCELLED"


def test_ended_jobs_cannot_go_back_or_be_cancelled(tmp_path: Path) -> None:
    clock = ManualClock()
    tuner = make_tuner(tmp_path, clock, training_seconds=10)
    job = tuner.create_job(make_spec(dataset(tmp_path)))
    clock.now += 10

    with pytest.raises(errors.PermanentError, match="cannot be cancelled"):
        tuner.cancel_job(job.name)
    with pytest.raises(errors.PermanentError, match="already ended as SUCCEEDED"):
        tuner.finish_job(job.name, "FAILED", "too late")
    tuner.finish_job(job.name, "SUCCEEDED")  # same end state: a no-op
    assert tuner.get_job(job.name).state == "SUCCEEDED"


def test_unknown_names_are_not_found_with_a_hint(tmp_path: Path) -> None:
    tuner = make_tuner(tmp_path)
    name = "projects/local-project/locations/us-central1/tuningJobs/42"
    for call in (tuner.get_job, tuner.cancel_job):
        with pytest.raises(errors.NotFound, match="Check the name"):
            call(name)
