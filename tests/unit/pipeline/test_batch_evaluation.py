"""Batch evaluations (issue 19): above `evaluation.batch_above` the models answer in Vertex AI
batch inference jobs (played by the simulator), the poller collects them, and the same compare
core finishes the evaluation; no model is asked online."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shared.errors import PermanentError
from shared.events import StorageObject
from shared.pipeline import layout, poll, validation
from shared.runs import Run, RunStatus
from shared.simulator import SimConfig, SimulatedBatchPredictor, SimulatedModels
from shared.status.html_page import render_run_html
from shared.status.terminal import render_run_detail
from tests.fakes.counting import CountingModels

from .conftest import ZH_EXAMPLES, World, dataset_bytes, make_world


def batch_world(tmp_path: Path, sim: SimConfig | None = None) -> tuple[World, CountingModels]:
    world = make_world(tmp_path, sim=sim)
    inner = world.deps.models
    assert isinstance(inner, SimulatedModels)
    counting = CountingModels(inner)
    world.deps.__dict__["models"] = counting  # what the pipeline asks online
    world.deps.__dict__["batch"] = SimulatedBatchPredictor.for_tuner(world.tuner, inner)
    return world, counting


TEST_SET = dataset_bytes(ZH_EXAMPLES)  # 6 examples


def drop(world: World, yaml: str) -> StorageObject:
    return world.drop_dataset(test=TEST_SET, tuning_yaml=yaml)


def train(world: World, obj: StorageObject) -> str:
    out = validation.handle_upload(world.deps, obj)
    assert out.run_id, out
    world.pump()
    world.advance_clock(1000)
    poll.poll_once(world.deps)  # TRAINING -> TRAINED, evaluation requested
    world.pump()
    return out.run_id


def test_an_eval_above_the_batch_threshold_makes_batch_jobs_and_no_online_calls(
    tmp_path: Path,
) -> None:
    world, online = batch_world(tmp_path)
    run_id = train(world, drop(world, "evaluation:\n  sample_size: 6\n  batch_above: 3\n"))
    run = world.run(run_id)
    assert run.status == RunStatus.EVALUATING, run.history
    batch = run.evaluation.batch
    assert batch is not None and batch["state"] == "RUNNING"
    assert set(batch["jobs"]) == {"tuned", "base"}
    # The tuned model is asked as a model resource (batch takes projects/.../models/ID).
    assert batch["jobs"]["tuned"]["model"] == run.job.tuned_model_name
    assert batch["jobs"]["base"]["model"] == run.tuning.source_model_name
    requests = world.deps.blobs.read_bytes(
        "artifacts", layout.evaluation_batch_prefix(run_id, batch["key"]) + "input.jsonl"
    )
    lines = [json.loads(x) for x in requests.splitlines()]
    assert len(lines) == 6 and all("eval_key" in x["request"]["labels"] for x in lines)
    assert run.evaluation.cost is not None and run.evaluation.cost["pricing"] == "batch"
    # The status page and `status` say where the evaluation is.
    page = render_run_html(run)
    assert "<h2>Batch inference</h2>" in page and "tuned PENDING" in page
    assert "batch inference (simulated): RUNNING" in render_run_detail(run)

    world.advance_clock(60)  # the simulated batch jobs finish
    poll.poll_once(world.deps)  # collects them and asks the evaluator to finish
    world.pump()
    done = world.run(run_id)
    assert done.status == RunStatus.SUCCEEDED, done.history
    assert online.calls == 0  # every answer came from the batch jobs
    ev = done.evaluation
    assert ev.batch is not None and ev.batch["state"] == "SUCCEEDED"
    assert all(j["state"] == "SUCCEEDED" and j["simulated"] for j in ev.batch["jobs"].values())
    assert ev.summary["scored"] == 6 and ev.simulated
    assert ev.verdict in ("PASSED", "FAILED", "NOT GATED")
    assert ev.cost is not None and ev.cost["actual"]["pricing"] == "batch"
    assert ev.cost["actual"]["prediction_calls"] == 12  # 6 examples x (tuned, base), all billed


def test_at_or_below_the_threshold_the_models_are_asked_online(tmp_path: Path) -> None:
    world, online = batch_world(tmp_path)
    run_id = train(world, drop(world, "evaluation:\n  sample_size: 6\n  batch_above: 6\n"))
    run = world.run(run_id)
    assert run.status == RunStatus.SUCCEEDED, run.history
    assert run.evaluation.batch is None and online.calls >= 12


def test_a_failed_batch_job_fails_the_evaluation_with_its_error(tmp_path: Path) -> None:
    world, online = batch_world(
        tmp_path, SimConfig(training_seconds=100.0, fail_jobs="*-eval-base")
    )
    run_id = train(world, drop(world, "evaluation:\n  mode: batch\n"))
    world.advance_clock(60)
    poll.poll_once(world.deps)
    with pytest.raises(PermanentError):  # the entry point logs it and acknowledges the message
        world.pump()
    run: Run = world.run(run_id)
    assert run.status == RunStatus.FAILED, run.history
    assert run.error is not None and run.error.code == "batch_job_failed"
    assert "base model's job" in run.error.message and "FAILED" in run.error.message
    assert online.calls == 0


def test_a_redelivered_request_while_jobs_run_submits_nothing_twice(tmp_path: Path) -> None:
    from shared.pipeline import evaluate

    world, _ = batch_world(tmp_path)
    run_id = train(world, drop(world, "evaluation:\n  mode: batch\n"))
    first = world.run(run_id).evaluation.batch
    assert first is not None
    out = evaluate.handle_evaluation_request(world.deps, run_id)
    assert out.startswith("waiting for batch jobs"), out
    again = world.run(run_id).evaluation.batch
    assert again is not None
    assert {r: j["name"] for r, j in again["jobs"].items()} == {
        r: j["name"] for r, j in first["jobs"].items()
    }
    assert len(world.deps.batch.find_jobs(run_id)) == 2


def test_a_batch_evaluation_is_estimated_at_the_batch_discount(tmp_path: Path) -> None:
    """The same evaluation costs half online's price in batch (catalog `batch.discount`)."""
    from dataclasses import replace

    from shared.pipeline.evaluate import estimate_cost

    prices = json.dumps(
        {
            "gemini-3.5-flash": {
                "price_per_million_input_tokens": 1.0,
                "price_per_million_output_tokens": 4.0,
            }
        }
    )
    world = make_world(tmp_path, env={"MODEL_CATALOG_OVERRIDES": prices})
    obj = world.drop_dataset(test=TEST_SET, tuning_yaml="evaluation: {mode: batch}\n")
    out = validation.handle_upload(world.deps, obj)
    assert out.run_id
    run = world.run(out.run_id)
    cfg = run.tuning
    batch = estimate_cost(world.deps, run)
    run.config = replace(
        cfg, evaluation=replace(cfg.evaluation, mode="online", choose_checkpoint=False)
    )
    online = estimate_cost(world.deps, run)
    assert (batch.pricing, online.pricing) == ("batch", "online")
    assert batch.prediction_calls == online.prediction_calls and batch.input_tokens > 0
    assert online.usd is not None and batch.usd == pytest.approx(online.usd / 2, abs=1e-4)
    assert (batch.input_price, batch.output_price) == (0.5, 2.0)


def test_with_a_production_model_a_third_job_asks_it_and_the_tuned_answers_are_reused(
    tmp_path: Path,
) -> None:
    from shared.ports import Promotion

    world, online = batch_world(tmp_path)
    first = train(world, drop(world, "evaluation: {mode: online}\n"))
    prod = world.run(first)
    assert prod.status == RunStatus.SUCCEEDED and prod.job.tuned_model_name
    assert prod.job.tuned_model_endpoint
    world.deps.production.promote(
        Promotion(first, prod.job.tuned_model_name, prod.job.tuned_model_endpoint,
                  prod.tuning.source_model_name, "2026-12-03T00:00:00Z", "test"),
        expected_current=None,
    )  # fmt: skip
    asked_online = online.calls
    obj = world.drop_dataset(
        "ds2", train=dataset_bytes(ZH_EXAMPLES[::-1]), test=TEST_SET,
        tuning_yaml="evaluation: {mode: batch}\n",
    )  # fmt: skip
    second = train(world, obj)
    batch = world.run(second).evaluation.batch
    assert batch is not None and set(batch["jobs"]) == {"tuned", "base", "production"}
    assert batch["jobs"]["production"]["model"] == prod.job.tuned_model_name
    world.advance_clock(60)
    poll.poll_once(world.deps)
    world.pump()
    done = world.run(second)
    assert done.status == RunStatus.SUCCEEDED, done.history
    assert online.calls == asked_online  # nothing asked online for the second run
    vs = done.evaluation.vs_production
    assert vs is not None and vs["production_run"] == first
    assert vs["reused_answers"] == 6  # the tuned answers of the comparison with base


def test_the_poller_does_not_load_the_evaluation_package() -> None:
    """Following batch jobs must not make every poller tick's cold start pay for the
    evaluation package (metrics, runner): it loads only when answers are collected."""
    import subprocess
    import sys

    code = (
        "import sys, shared.pipeline.poll; "
        "print([m for m in sys.modules if m.startswith('shared.evaluation')])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
