"""A step that meets an exception nothing classifies says so on the run and ends it FAILED
after a bounded number of deliveries, instead of sitting in a working state until the
dead-letter topic and then blaming "another delivery" (issue 17)."""

from __future__ import annotations

from pathlib import Path

import pytest

import shared.datasets
from shared.bounds import MAX_UNEXPECTED_FAILURES
from shared.errors import PermanentError
from shared.pipeline import deadletter, launch, validation
from shared.runs import RunStatus

from .conftest import make_world

S = RunStatus


def _boom(*args: object, **kwargs: object) -> None:
    raise ValueError("the walk met something new")


def test_an_unexpected_validator_exception_is_recorded_and_fails_the_run_after_n_deliveries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = make_world(tmp_path)
    monkeypatch.setattr(shared.datasets, "validate_dataset", _boom)
    obj = world.drop_dataset("ds")
    for attempt in range(1, MAX_UNEXPECTED_FAILURES):
        # Each redelivery really retries (the failed delivery released its lease): the same
        # exception again, not "being validated by another delivery".
        with pytest.raises(ValueError):
            validation.handle_upload(world.deps, obj)
        run = world.run(_rid(world, obj))
        assert run.status == S.VALIDATING
        assert run.step_failure is not None
        assert (run.step_failure.stage, run.step_failure.type) == ("validation", "ValueError")
        assert run.step_failure.count == attempt
        assert "met something new" in run.step_failure.message
    with pytest.raises(PermanentError):
        validation.handle_upload(world.deps, obj)
    run = world.run(_rid(world, obj))
    assert run.status == S.FAILED and run.error is not None
    assert run.error.code == "unexpected_error" and run.error.stage == "validation"
    assert "ValueError" in run.error.message and "met something new" in run.error.message


def _rid(world: object, obj: object) -> str:
    from shared.runs import make_run_id

    return make_run_id(obj.bucket, obj.name, obj.generation)  # type: ignore[attr-defined]


def test_the_dead_letter_message_names_what_actually_failed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = make_world(tmp_path)
    monkeypatch.setattr(shared.datasets, "validate_dataset", _boom)
    obj = world.drop_dataset("ds")
    with pytest.raises(ValueError):
        validation.handle_upload(world.deps, obj)
    rid = _rid(world, obj)
    assert deadletter.record_dead_letter(
        world.deps, {"run_id": rid}, "handler raised", attempts=5, stage="validator"
    )
    run = world.run(rid)
    assert run.status == S.FAILED and run.error is not None
    assert "ValueError" in run.error.message and "met something new" in run.error.message
    assert "another delivery" not in run.error.message


def test_an_unexpected_launcher_exception_fails_the_run_without_a_job(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = make_world(tmp_path)
    rid = validation.handle_upload(world.deps, world.drop_dataset("ds")).run_id
    assert rid is not None and world.run(rid).status == S.VALIDATED
    monkeypatch.setattr(launch, "try_start", lambda deps, run: {}["no such key"])  # type: ignore[index]
    for _ in range(MAX_UNEXPECTED_FAILURES - 1):
        with pytest.raises(KeyError):
            launch.handle_validated(world.deps, rid)
    with pytest.raises(PermanentError):
        launch.handle_validated(world.deps, rid)
    run = world.run(rid)
    assert run.status == S.FAILED and run.error is not None
    assert run.error.stage == "launch" and "KeyError" in run.error.message
    assert world.tuner.find_jobs(rid) == []
