"""`status` and the status page say why a working run is not moving (issue 17): a step being
redelivered after an unexpected exception (which step, attempt n of the bound, the last error)
and a run waiting for a training slot (the concurrency limit, or Vertex AI's quota refusal)."""

from __future__ import annotations

from pathlib import Path

import pytest

import shared.datasets
from shared.bounds import MAX_UNEXPECTED_FAILURES
from shared.cli import main
from shared.errors import QuotaExceeded
from shared.events import StorageObject
from shared.pipeline import launch, validation
from shared.runs import RunStatus, make_run_id
from shared.status import render_html, render_run_detail, render_run_html
from tests.unit.pipeline.conftest import World, make_world

S = RunStatus
Capsys = pytest.CaptureFixture[str]


def _boom(*args: object, **kwargs: object) -> None:
    raise ValueError("the walk met <something> new")


def _failing_validation(
    world: World, monkeypatch: pytest.MonkeyPatch, times: int
) -> tuple[str, StorageObject]:
    monkeypatch.setattr(shared.datasets, "validate_dataset", _boom)
    obj = world.drop_dataset("ds")
    for _ in range(times):
        with pytest.raises(ValueError):
            validation.handle_upload(world.deps, obj)
    monkeypatch.undo()
    return make_run_id(obj.bucket, obj.name, obj.generation), obj


def test_a_step_being_retried_shows_its_stage_attempts_and_last_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Capsys
) -> None:
    world = make_world(tmp_path)
    rid, _ = _failing_validation(world, monkeypatch, times=2)
    run = world.run(rid)
    assert run.status == S.VALIDATING
    said = f"retrying the validation step: attempt 2 of {MAX_UNEXPECTED_FAILURES} failed"
    row = render_html([run])
    assert said in row and "ValueError: the walk met &lt;something&gt; new" in row
    page = render_run_html(run)
    assert "<table id='step-failure'" in page
    assert f"<td>validation</td><td>2 of {MAX_UNEXPECTED_FAILURES}</td>" in page
    assert "ValueError: the walk met &lt;something&gt; new" in page and "<something>" not in page
    assert f"delivery  {said}" in render_run_detail(run)
    assert main(["status", rid, "--root", str(world.root)]) == 0
    assert said in capsys.readouterr().out


def test_a_run_that_recovered_no_longer_shows_the_old_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = make_world(tmp_path)
    rid, obj = _failing_validation(world, monkeypatch, times=1)
    assert "retrying" in render_html([world.run(rid)])
    assert validation.handle_upload(world.deps, obj).run_id == rid  # the redelivery succeeds
    run = world.run(rid)
    assert run.status == S.VALIDATED
    assert run.step_failure is not None  # kept on the document...
    assert "retrying" not in render_html([run])  # ...but not shown once the run moved on
    assert "<table id='step-failure'" not in render_run_html(run)
    assert "retrying" not in render_run_detail(run)


def _two_validated(world: World) -> tuple[str, str]:
    a = validation.handle_upload(world.deps, world.drop_dataset("a")).run_id
    b = validation.handle_upload(world.deps, world.drop_dataset("b")).run_id
    assert a and b
    return a, b


def test_a_run_waiting_at_the_concurrency_limit_says_so_and_since_when(
    tmp_path: Path, capsys: Capsys
) -> None:
    world = make_world(tmp_path, max_jobs=1)
    a, b = _two_validated(world)
    assert launch.handle_validated(world.deps, a) == "created"
    assert launch.handle_validated(world.deps, b) == "queued"
    run = world.run(b)
    assert run.status == S.QUEUED
    said = "waiting for a tuning slot (limit 1). The poller starts queued runs, oldest first"
    assert f"QUEUED since {run.entered_status_at}" in render_html([run])
    assert said in render_html([run])
    assert "<p id='waiting'>QUEUED since" in render_run_html(run)
    assert said in render_run_html(run)
    assert "waiting   QUEUED since" in render_run_detail(run)
    assert "waiting   " not in render_run_detail(world.run(a))  # TRAINING: not waiting
    assert main(["status", b, "--root", str(world.root)]) == 0
    assert said in capsys.readouterr().out


def test_a_run_back_in_the_queue_after_a_quota_refusal_shows_vertex_ais_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = make_world(tmp_path, max_jobs=2)
    a, _ = _two_validated(world)

    def refuse(spec: object) -> None:
        raise QuotaExceeded("429 Resource exhausted: tuning jobs per region")

    monkeypatch.setattr(world.tuner, "create_job", refuse)
    assert launch.handle_validated(world.deps, a) == "queued (quota)"
    run = world.run(a)
    assert run.status == S.QUEUED
    page = render_run_html(run)
    assert "<p id='waiting'>QUEUED since" in page
    assert "Vertex AI quota: 429 Resource exhausted: tuning jobs per region" in page
    assert "Vertex AI quota: 429" in render_html([run])
    assert "Vertex AI quota: 429" in render_run_detail(run)


def test_a_run_validating_says_until_when_a_redelivery_waits_for_its_lease(
    tmp_path: Path,
) -> None:
    """A validator that died (a function instance killed mid-file) leaves its lease: the page
    says until when the redelivered upload waits before it takes over."""
    from shared.bounds import VALIDATION_LEASE_SECONDS
    from shared.clock import parse_time

    world = make_world(tmp_path)
    obj = world.drop_dataset("ds")
    rid = make_run_id(obj.bucket, obj.name, obj.generation)
    validation.handle_upload(world.deps, obj)  # a real run, then as a dead validator left it
    started = "2026-01-01T00:00:00.000Z"
    run = world.run(rid)
    run.status, run.validation.started_at = S.VALIDATING, started
    until = parse_time(started).timestamp() + VALIDATION_LEASE_SECONDS
    assert until == parse_time("2026-01-01T00:10:00.000Z").timestamp()
    said = "a redelivery waits for the validation lease until 2026-01-01T00:10:00.000Z"
    assert said in render_html([run])
    assert said in render_run_html(run) and "<p id='waiting'>validating since" in render_run_html(
        run
    )
    assert f"waiting   validating since {started}" in render_run_detail(run)
    run.validation.started_at = None  # released (a failed delivery, a restarted runtime)
    assert "lease" not in render_run_html(run)
