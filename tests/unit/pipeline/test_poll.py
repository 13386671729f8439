"""The poller's less common paths: lost jobs, stale claims, lost evaluation requests."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from shared.clock import parse_time, to_iso, utcnow
from shared.errors import TransientError
from shared.local.paths import LocalLayout
from shared.pipeline import launch, poll, validation
from shared.runs import RunStatus
from shared.simulator.config import SimConfig
from tests import changes

from .conftest import World, make_world

S = RunStatus


def _training_run(world: World) -> str:
    rid = validation.handle_upload(world.deps, world.drop_dataset()).run_id or ""
    world.pump()
    assert world.run(rid).status == S.TRAINING
    return rid


def test_a_job_that_disappeared_fails_the_run(world: World) -> None:
    rid = _training_run(world)
    world.store.update(rid, changes.job(name=world.tuner.parent + "/tuningJobs/404"))
    report = poll.poll_once(world.deps)
    run = world.run(rid)
    assert run.status == S.FAILED and run.error and run.error.code == "job_not_found"
    assert report.changed == [rid]


def test_a_stale_claim_without_a_job_is_reconciled_by_creating_it(world: World) -> None:
    rid = validation.handle_upload(world.deps, world.drop_dataset()).run_id or ""
    # The launcher claimed the slot long ago and died before creating the job.
    world.store.transition(
        rid,
        [S.VALIDATED],
        S.TRAINING,
        change=changes.job(state="CREATING", claimed_at="2020-01-01T00:00:00Z"),
    )
    poll.poll_once(world.deps)
    run = world.run(rid)
    assert run.job.name and len(world.tuner.find_jobs(rid)) == 1
    poll.poll_once(world.deps)  # nothing more happens on the next tick
    assert len(world.tuner.find_jobs(rid)) == 1


def test_a_fresh_claim_is_left_to_its_launcher(world: World) -> None:
    rid = validation.handle_upload(world.deps, world.drop_dataset()).run_id or ""
    claimed = world.store.transition(
        rid,
        [S.VALIDATED],
        S.TRAINING,
        change=changes.job(state="CREATING", claimed_at="9999-01-01T00:00:00Z"),
    )
    assert claimed
    poll.poll_once(world.deps)
    assert world.tuner.find_jobs(rid) == []
    # A duplicate delivery races the claimer, which may be creating the job this instant
    # (find-by-label cannot see it yet): it must not create a second one.
    assert launch.handle_validated(world.deps, rid) == "claimed by another delivery"
    assert world.tuner.find_jobs(rid) == []
    # The local runtime, restarted, knows the claimer died: the redelivery reconciles at once.
    assert launch.release_training_claims(world.deps, "test") == [rid]
    launch.handle_validated(world.deps, rid)
    assert len(world.tuner.find_jobs(rid)) == 1


def _failing_launch(world: World, monkeypatch: pytest.MonkeyPatch) -> tuple[str, list[int]]:
    """A validated run whose job creation always fails (503), after its first delivery tried;
    returns it with the count of create calls."""
    rid = validation.handle_upload(world.deps, world.drop_dataset()).run_id or ""
    calls = [0]

    def unavailable(spec: object) -> None:
        calls[0] += 1
        raise TransientError("503 The service is currently unavailable")

    monkeypatch.setattr(world.tuner, "create_job", unavailable)
    with pytest.raises(TransientError):
        launch.handle_validated(world.deps, rid)
    return rid, calls


def test_a_claim_released_by_a_failed_create_is_left_to_the_redelivery(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A tick must not take over what the redelivery will retry: in CI one did, the redelivery
    was acknowledged as 'claimed by another delivery', and a persistent 503 never reached the
    dead-letter topic (the run stayed TRAINING)."""
    real_create = world.tuner.create_job
    rid, calls = _failing_launch(world, monkeypatch)
    run = world.run(rid)
    assert run.status == S.TRAINING and run.job.released_at is not None
    assert run.job.claimed_at is not None  # still a started run for the month's budget
    poll.poll_once(world.deps)
    assert calls[0] == 1  # the tick left it
    with pytest.raises(TransientError):
        launch.handle_validated(world.deps, rid)
    assert calls[0] == 2  # the redelivery took it over at once
    # Should every delivery be lost, the poller is the backstop once the release is stale.
    monkeypatch.setattr(world.tuner, "create_job", real_create)
    world.store.update(rid, changes.job(released_at="2020-01-01T00:00:00Z"))
    poll.poll_once(world.deps)
    assert len(world.tuner.find_jobs(rid)) == 1 and world.run(rid).job.released_at is None


def test_a_training_run_whose_job_is_never_created_is_called_stuck_for_that_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = make_world(tmp_path, env={"STUCK_AFTER_MINUTES": "5"})
    ten_minutes_ago = to_iso(parse_time(utcnow()) - timedelta(minutes=10))
    rid, _ = _launch_failing_since(world, monkeypatch, ten_minutes_ago)
    report = poll.poll_once(world.deps)
    run = world.run(rid)
    assert report.warned == [rid] and run.status == S.TRAINING and not run.job.name
    assert run.stuck is not None and "no tuning job has been created" in run.stuck.message
    assert "still running" not in run.stuck.message


def _launch_failing_since(
    world: World, monkeypatch: pytest.MonkeyPatch, at: str
) -> tuple[str, list[int]]:
    """A run TRAINING since `at` whose job creation always fails and whose claim was released
    long ago (every delivery lost); returns it with the count of create calls."""
    rid, calls = _failing_launch(world, monkeypatch)

    def age(r):
        r.history[-1].at = at
        r.job.released_at = "2020-01-01T00:00:00.000Z"

    world.store.update(rid, age)
    return rid, calls


def test_the_poller_gives_up_a_launch_that_fails_for_hours_and_says_why(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    rid, calls = _launch_failing_since(world, monkeypatch, "2020-01-01T00:00:00.000Z")
    poll.poll_once(world.deps)
    run = world.run(rid)
    assert run.status == S.FAILED and run.error is not None
    assert (run.error.stage, run.error.code) == ("launch", "launch_gave_up")
    assert "no tuning job could be created in 6 h" in run.error.message
    assert "gemini-tuning retry" in run.error.message
    assert calls[0] == 1  # the first delivery's attempt only: giving up creates nothing
    assert world.tuner.find_jobs(rid) == []


def test_a_redelivery_never_gives_up_the_dead_letter_topic_ends_it(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    rid, calls = _launch_failing_since(world, monkeypatch, "2020-01-01T00:00:00.000Z")
    with pytest.raises(TransientError):
        launch.handle_validated(world.deps, rid)
    assert calls[0] == 2 and world.run(rid).status == S.TRAINING


def test_a_recent_failing_launch_is_retried_not_given_up(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    recent = utcnow()
    rid, calls = _launch_failing_since(world, monkeypatch, recent)
    poll.poll_once(world.deps)
    run = world.run(rid)
    assert run.status == S.TRAINING and calls[0] == 2 and run.job.released_at is not None


def test_a_job_found_by_its_label_is_recorded_even_past_the_give_up_time(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    rid, _ = _launch_failing_since(world, monkeypatch, "2020-01-01T00:00:00.000Z")
    monkeypatch.undo()
    world.tuner.create_job(launch.job_spec(world.run(rid)))  # a job exists, its record was lost
    poll.poll_once(world.deps)
    run = world.run(rid)
    assert run.status in (S.TRAINING, S.TRAINED) and run.job.name
    assert len(world.tuner.find_jobs(rid)) == 1


def test_a_lost_evaluation_request_is_sent_again(world: World) -> None:
    rid = _training_run(world)
    world.advance_clock(1000)
    poll.poll_once(world.deps)
    assert world.run(rid).status == S.TRAINED
    for m in world.bus.pull("t-evaluator", 10):  # the request is lost
        world.bus.ack(m)
    poll.poll_once(world.deps)
    assert world.bus.pull("t-evaluator", 10) == []  # too recent to resend
    doc_time = "2020-01-01T00:00:00.000Z"
    with world.store._db.write() as conn:  # age the run as if the tick came much later
        row = conn.execute("SELECT doc FROM runs WHERE run_id = ?", (rid,)).fetchone()
        doc = json.loads(row[0])
        doc["updated_at"] = doc_time
        conn.execute("UPDATE runs SET doc = ? WHERE run_id = ?", (json.dumps(doc), rid))
    poll.poll_once(world.deps)
    world.pump()
    assert world.run(rid).status == S.SUCCEEDED


def test_evaluation_disabled_ends_the_run_when_training_ends(world: World) -> None:
    rid = (
        validation.handle_upload(
            world.deps, world.drop_dataset(tuning_yaml="evaluation: {enabled: false}\n")
        ).run_id
        or ""
    )
    world.pump()
    world.advance_clock(1000)
    poll.poll_once(world.deps)
    run = world.run(rid)
    assert run.status == S.SUCCEEDED and run.evaluation.passed is None
    assert "evaluation disabled" in run.history[-1].note


def test_one_failing_run_does_not_stop_the_tick(tmp_path: Path) -> None:
    world = make_world(tmp_path, max_jobs=2)
    a = _training_run(world)
    world.store.update(a, changes.job(name="projects/p/locations/l/tuningJobs/nope-not-a-number"))
    b = validation.handle_upload(world.deps, world.drop_dataset("b")).run_id or ""
    world.pump()
    world.advance_clock(1000)
    report = poll.poll_once(world.deps)
    assert world.run(a).status == S.FAILED  # its job is gone
    assert world.run(b).status == S.TRAINED  # and the same tick still moved the other run
    assert report.changed == [a, b]


def test_a_transient_vertex_error_keeps_the_queue_for_the_next_tick(tmp_path: Path) -> None:
    world = make_world(tmp_path, max_jobs=1, sim=SimConfig(training_seconds=100))
    a = _training_run(world)
    b = validation.handle_upload(world.deps, world.drop_dataset("b")).run_id or ""
    world.pump()
    assert world.run(b).status == S.QUEUED
    world.advance_clock(1000)
    (LocalLayout(world.root).simulator_control).write_text('{"transient_errors": 1}')
    report = poll.poll_once(world.deps)
    assert report.errors and "503" in report.errors[0]  # logged, not raised: the tick survives
    assert (world.run(a).status, world.run(b).status) == (S.TRAINING, S.QUEUED)
    poll.poll_once(world.deps)  # the next tick sees the job's end and starts the queue
    assert world.run(a).status == S.TRAINED
    assert world.run(b).status == S.TRAINING


def test_unreadable_training_curves_never_hold_up_the_run(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    from shared.errors import TransientError

    def broken(job: object) -> None:
        raise TransientError("503 tensorboard unavailable")

    rid = _training_run(world)
    monkeypatch.setattr(world.tuner, "training_curves", broken)
    world.advance_clock(1000)
    poll.poll_once(world.deps)
    assert world.run(rid).status in (S.TRAINED, S.EVALUATING, S.SUCCEEDED)
