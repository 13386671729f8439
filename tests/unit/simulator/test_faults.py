"""Fault injection and the refusals the real service makes, with Vertex's wording."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shared import errors
from shared.local.paths import LocalLayout
from shared.simulator import SimulatedModels, SimulatedTuner
from tests.unit.simulator.helpers import ManualClock, dataset, make_spec, make_tuner


def test_the_first_k_calls_are_transient_then_calls_succeed(tmp_path: Path) -> None:
    uri = dataset(tmp_path)
    env = {"SIM_TRANSIENT_ERRORS": "2"}
    a = SimulatedTuner.from_root(tmp_path, env=env)
    b = SimulatedTuner.from_root(tmp_path, env=env)  # the budget is shared, not per instance

    with pytest.raises(errors.TransientError, match=r"^503 "):
        a.create_job(make_spec(uri))
    with pytest.raises(errors.TransientError, match=r"^503 "):
        b.find_jobs("run-1")
    job = a.create_job(make_spec(uri))
    assert b.get_job(job.name).name == job.name
    assert not isinstance(errors.TransientError("x"), errors.PermanentError)


def test_the_control_file_rearms_faults_while_running(tmp_path: Path) -> None:
    tuner = SimulatedTuner.from_root(tmp_path, env={})
    assert tuner.find_jobs("run-1") == []
    control = LocalLayout(tmp_path).simulator_control
    control.write_text(json.dumps({"transient_errors": 1}), encoding="utf-8")

    with pytest.raises(errors.TransientError):
        tuner.find_jobs("run-1")
    assert tuner.find_jobs("run-1") == []


def test_quota_refuses_more_concurrent_jobs_until_one_ends(tmp_path: Path) -> None:
    clock = ManualClock()
    tuner = make_tuner(tmp_path, clock, training_seconds=10, quota=1)
    uri = dataset(tmp_path)
    first = tuner.create_job(make_spec(uri, "run-1"))

    with pytest.raises(errors.QuotaExceeded, match="Global concurrent tuning jobs"):
        tuner.create_job(make_spec(uri, "run-2"))
    assert tuner.find_jobs("run-2") == []
    tuner.finish_job(first.name, "FAILED", "boom")
    assert tuner.create_job(make_spec(uri, "run-2")).state == "QUEUED"
    with pytest.raises(errors.QuotaExceeded):
        tuner.create_job(make_spec(uri, "run-3"))
    clock.now += 10  # run-2 finished on its own: its slot is free again
    tuner.create_job(make_spec(uri, "run-3"))


def test_a_configured_permanent_error_is_a_400(tmp_path: Path) -> None:
    tuner = make_tuner(tmp_path, permanent_error="Request contains an invalid argument.")
    with pytest.raises(errors.PermanentError, match=r"^400 Request contains an invalid"):
        tuner.create_job(make_spec(dataset(tmp_path)))
    assert tuner.find_jobs("run-1") == []


@pytest.mark.parametrize(
    ("model", "size", "ok"),
    [
        ("gemini-2.5-flash", 16, True),
        ("gemini-2.5-pro", 16, False),
        ("gemini-2.5-flash", 32, False),
        ("gemini-3.1-flash-lite-001", 8, True),
    ],
)
def test_adapter_size_is_checked_against_the_model(
    tmp_path: Path, model: str, size: int, ok: bool
) -> None:
    tuner = make_tuner(tmp_path)
    spec = make_spec(dataset(tmp_path), base_model=model, adapter_size=size)
    if ok:
        assert tuner.create_job(spec).state == "QUEUED"
    else:
        with pytest.raises(errors.PermanentError, match="adapter size is not supported for this"):
            tuner.create_job(spec)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"training_dataset_uri": "MISSING"}, "does not exist"),
        ({"training_dataset_uri": "gs://b/incoming/x/train.jsonl"}, "only reads file:// URIs"),
        ({"validation_dataset_uri": "MISSING"}, "Validation dataset"),
        ({"base_model": "gpt-4o"}, "not supported for supervised tuning"),
        ({"labels": {"Team": "cs"}}, "Invalid label"),
    ],
)
def test_create_refuses_what_vertex_refuses(
    tmp_path: Path, overrides: dict[str, object], message: str
) -> None:
    uri = dataset(tmp_path)
    missing = (tmp_path / "nope.jsonl").as_uri()
    fixed = {k: missing if v == "MISSING" else v for k, v in overrides.items()}
    with pytest.raises(errors.PermanentError, match=message):
        make_tuner(tmp_path).create_job(make_spec(uri, **fixed))  # type: ignore[arg-type]


def test_models_have_their_own_transient_budget(tmp_path: Path) -> None:
    tuner = SimulatedTuner.from_root(tmp_path, env={"SIM_MODELS_TRANSIENT_ERRORS": "1"})
    models = SimulatedModels(tuner)
    contents = [{"role": "user", "parts": [{"text": "hi"}]}]

    assert tuner.find_jobs("run-1") == []  # tuner calls do not spend the models' budget
    with pytest.raises(errors.TransientError, match=r"^503 "):
        models.generate("gemini-2.5-flash", contents)
    assert models.generate("gemini-2.5-flash", contents).simulated


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"SIM_QUOTA": "many"}, "SIM_QUOTA: quota='many' is not a whole number"),
        ({"SIM_QUOTA": "0"}, "SIM_QUOTA.*whole number >= 1"),
        ({"SIM_TRAINING_SECONDS": "-1"}, "out of range"),
        ({"SIM_TRANSIENT_ERRORS": "1.5"}, "whole number"),
    ],
)
def test_bad_settings_say_what_to_write(tmp_path: Path, env: dict[str, str], message: str) -> None:
    with pytest.raises(errors.ConfigError, match=message):
        SimulatedTuner.from_root(tmp_path, env=env)


@pytest.mark.parametrize(
    ("text", "message"),
    [("{not json", "not valid JSON"), ('{"trainig_seconds": 1}', "unknown simulator setting")],
)
def test_a_bad_control_file_is_a_clear_error(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "state").mkdir()
    (LocalLayout(tmp_path).simulator_control).write_text(text, encoding="utf-8")
    tuner = SimulatedTuner.from_root(tmp_path, env={})
    with pytest.raises(errors.ConfigError, match=message):
        tuner.find_jobs("run-1")
