"""Guard rails: the budget (per run, per month) refused before any job, the maximum training
time, stuck-run warnings and `retry`."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path

import pytest

from shared.errors import NotFound, PermanentError
from shared.pipeline import budget, poll, validation
from shared.pipeline.retry import retry_run
from shared.runs import RunStatus
from shared.simulator.config import SimConfig
from tests import changes

from .conftest import World, dataset_bytes, make_world

S = RunStatus
#: A price for the default model (the catalog knows none), high enough that a small dataset
#: costs dollars, so the figures in messages are readable.
PRICE = {
    "MODEL_CATALOG_OVERRIDES": json.dumps(
        {"gemini-3.5-flash": {"price_per_million_training_tokens": 4000.0}}
    )
}


def _validated(world: World, folder: str = "ds", tuning_yaml: str | None = None) -> str:
    rid = validation.handle_upload(
        world.deps, world.drop_dataset(folder, tuning_yaml=tuning_yaml)
    ).run_id
    assert rid and world.run(rid).status == S.VALIDATED, world.run(rid or "").error
    return rid


def _expected_usd(world: World, rid: str) -> float:
    tokens = world.run(rid).validation.summary["billable_tokens"]
    return round(tokens / 1e6 * 4000.0, 4)  # type: ignore[no-any-return]


def test_a_run_over_the_deployment_limit_fails_before_any_job_with_the_figures(
    tmp_path: Path,
) -> None:
    world = make_world(tmp_path, env={**PRICE, "MAX_RUN_USD": "0.5"})
    rid = _validated(world)
    usd = _expected_usd(world, rid)
    assert usd > 0.5
    world.pump()
    run = world.run(rid)
    assert run.status == S.FAILED and run.error is not None
    assert run.error.code == "over_budget" and run.error.stage == "launch"
    assert f"${usd:,.2f}" in run.error.message and "$0.50" in run.error.message
    assert world.tuner.find_jobs(rid) == []
    assert "FAILED" in world.events(rid)


def test_tuning_yaml_can_lower_the_limit_but_not_raise_it(tmp_path: Path) -> None:
    world = make_world(tmp_path, env={**PRICE, "MAX_RUN_USD": "0.5"})
    raised = _validated(world, "raised", "budget: {max_run_usd: 100000}\n")
    world.pump()
    assert world.run(raised).error and world.run(raised).error.code == "over_budget"  # type: ignore[union-attr]

    world2 = make_world(tmp_path / "2", env=PRICE)
    lowered = _validated(world2, "lowered", "budget: {max_run_usd: 0.01}\n")
    world2.pump()
    run = world2.run(lowered)
    assert run.status == S.FAILED and "per-run limit $0.01" in (
        run.error.message if run.error else ""
    )
    fine = _validated(world2, "fine", "budget: {max_run_usd: 100000}\n")
    world2.pump()
    assert world2.run(fine).status == S.TRAINING


def test_an_unknown_price_is_said_not_guessed(tmp_path: Path) -> None:
    world = make_world(tmp_path, env={"MAX_RUN_USD": "1000"})
    rid = _validated(world, tuning_yaml="source_model_name: gemini-3.5-flash-lite\n")
    world.pump()
    run = world.run(rid)
    assert run.status == S.FAILED and run.error is not None
    assert "no training price is known for gemini-3.5-flash-lite" in run.error.message
    assert "MODEL_CATALOG_OVERRIDES" in run.error.message
    assert world.tuner.find_jobs(rid) == []


def test_the_month_total_counts_started_runs_and_refuses_the_one_over(tmp_path: Path) -> None:
    world = make_world(tmp_path, max_jobs=5, env=PRICE)
    first = _validated(world, "first")
    one = _expected_usd(world, first)
    # The deployment allows one and a half such runs per month.
    world.deps.settings = replace(world.deps.settings, max_month_usd=one * 1.5)
    world.pump()  # the first run starts: its cost is under the month's limit
    assert world.run(first).status == S.TRAINING
    second = _validated(world, "second")
    world.pump()
    run = world.run(second)
    assert run.status == S.FAILED and run.error and run.error.code == "over_budget"
    assert "MAX_MONTH_USD" in run.error.message and f"${one:,.2f} already started" in (
        run.error.message
    )


def test_small_limits_are_printed_as_written_not_rounded_to_zero() -> None:
    assert budget.usd(0.001) == "$0.001" and budget.usd(1234.5) == "$1,234.50"


def test_the_job_billable_tokens_replace_the_estimate() -> None:
    from shared.runs import DatasetInfo, JobStats, Run
    from shared.settings import Settings
    from shared.tuning_config import TuningConfig

    settings = Settings.from_env(PRICE)
    run = Run.new("r", DatasetInfo("b", "n", "1", "u"))
    run.config = TuningConfig()
    run.validation.summary = {"billable_tokens": 1000}
    assert budget.run_cost(run, settings).usd == 4.0
    run.job.stats = JobStats(billable_tokens=2500)
    cost = budget.run_cost(run, settings)
    assert cost.usd == 10.0 and cost.basis == "the job's billable tokens"


def test_a_queued_run_over_budget_is_refused_by_the_poller(tmp_path: Path) -> None:
    world = make_world(tmp_path, max_jobs=1, env=PRICE)
    a = _validated(world, "a")
    b = _validated(world, "b", "budget: {max_run_usd: 0.01}\n")
    # b arrived while a held the only slot: it waits in QUEUED (the check runs again later).
    world.store.transition(a, [S.VALIDATED], S.TRAINING, change=changes.job(state="RUNNING"))
    world.pump()
    assert world.run(b).status == S.FAILED  # refused at the launcher, before queueing
    c = _validated(world, "c", "budget: {max_run_usd: 0.01}\n")
    world.store.transition(c, [S.VALIDATED], S.QUEUED)
    report = poll.poll_once(world.deps)
    assert world.run(c).status == S.FAILED and c in report.changed and c not in report.started


def test_a_job_past_the_maximum_training_time_is_cancelled_and_the_run_says_why(
    tmp_path: Path,
) -> None:
    sim = SimConfig(training_seconds=10 * 3600.0)
    world = make_world(tmp_path, sim=sim, env={"MAX_TRAINING_HOURS": "1"})
    world.clock[0] = time.time() - 2 * 3600  # the job was created two hours ago
    rid = _validated(world)
    world.pump()
    world.clock[0] = time.time()
    assert world.run(rid).status == S.TRAINING
    poll.poll_once(world.deps)
    run = world.run(rid)
    assert run.job.state == "CANCELLING" and run.job.cancel_reason
    world.advance_clock(600)
    poll.poll_once(world.deps)
    run = world.run(rid)
    assert run.status == S.CANCELLED and run.error is not None
    assert "maximum training time (1 h" in run.error.message
    assert "CANCELLED" in world.events(rid)


def test_a_job_within_the_time_limit_is_left_alone(tmp_path: Path) -> None:
    world = make_world(tmp_path, env={"MAX_TRAINING_HOURS": "1"})
    world.clock[0] = time.time()
    rid = _validated(world)
    world.pump()
    poll.poll_once(world.deps)
    assert world.run(rid).job.cancel_reason is None


def test_a_stuck_run_is_warned_about_once(tmp_path: Path) -> None:
    world = make_world(tmp_path, env={"STUCK_AFTER_MINUTES": "5"})
    rid = _validated(world)  # VALIDATED, and its launcher message is never delivered
    assert not poll.poll_once(world.deps).warned  # not old enough yet
    old = "2020-01-01T00:00:00.000Z"

    def age(r):
        r.history[-1].at = old

    world.store.update(rid, age)
    world.events(rid)  # drain
    assert poll.poll_once(world.deps).warned == [rid]
    assert poll.poll_once(world.deps).warned == []
    run = world.run(rid)
    assert run.stuck is not None and run.stuck.status == S.VALIDATED and run.stuck.since == old
    assert "launcher" in run.stuck.message
    msgs = [m for m in world.bus.pull("t-run-events", 50) if m.attributes.get("run_id") == rid]
    assert [m.attributes["kind"] for m in msgs] == ["warning"]


def test_retry_makes_one_linked_attempt_from_the_same_generation(world: World) -> None:
    rid = (
        validation.handle_upload(world.deps, world.drop_dataset(tuning_yaml="epoch: 0\n")).run_id
        or ""
    )
    assert world.run(rid).status == S.REJECTED
    world.drop("incoming/ds/tuning.yaml", b"epoch: 2\n")  # the fix: only the config changes
    first = retry_run(world.deps, rid)
    assert first.created and first.status == "VALIDATED"
    again = retry_run(world.deps, rid)
    assert (again.run_id, again.created) == (first.run_id, False)
    new, old = world.run(first.run_id), world.run(rid)
    assert new.retry_of == rid and old.retried_by == first.run_id
    assert new.dataset.generation == old.dataset.generation
    assert new.run_id != rid and len(new.run_id) <= 63


def test_retry_refuses_unknown_and_working_runs(world: World) -> None:
    with pytest.raises(NotFound, match="no run 'nope'"):
        retry_run(world.deps, "nope")
    rid = _validated(world)
    with pytest.raises(PermanentError, match=r"still VALIDATED.*gemini-tuning cancel"):
        retry_run(world.deps, rid)


def test_retry_refuses_a_training_file_replaced_since(world: World) -> None:
    rid = validation.handle_upload(world.deps, world.drop_dataset(train=b"not json\n")).run_id or ""
    time.sleep(0.01)
    world.drop_dataset()  # a new upload: it has its own run
    with pytest.raises(PermanentError, match="replaced by a newer upload"):
        retry_run(world.deps, rid)


@pytest.mark.parametrize(
    ("model", "per_million"), [("gemini-3.5-flash", 10.0), ("gemini-3.1-flash-lite", 3.0)]
)
def test_3x_runs_with_a_known_price_start_under_a_budget(
    tmp_path: Path, model: str, per_million: float
) -> None:
    """Issue 16, defect 6: the catalog had no 3.x price, so every 3.x run with a budget was
    refused; the publicly quoted prices (shared/catalog.json, marked unofficial) now count."""
    world = make_world(tmp_path, env={"MAX_RUN_USD": "1000"})
    rid = _validated(world, model, f"source_model_name: {model}\n")
    world.pump()
    run = world.run(rid)
    assert run.status == S.TRAINING, run.error
    info = world.deps.settings.catalog.get(model)
    assert info is not None and info.limits.training_price_per_million_tokens == per_million


def test_the_evaluations_own_cost_counts_towards_the_per_run_limit(tmp_path: Path) -> None:
    # Training alone is under the limit; the evaluation's estimate (priced from the catalog's
    # online-prediction prices) takes the run over it, and the message names both figures.
    prices = {
        "price_per_million_training_tokens": 4000.0,
        "price_per_million_input_tokens": 200000.0,
        "price_per_million_output_tokens": 800000.0,
    }
    env = {"MODEL_CATALOG_OVERRIDES": json.dumps({"gemini-3.5-flash": prices})}
    probe = make_world(tmp_path / "probe", env=env)
    training_only = _expected_usd(probe, _validated(probe))
    world = make_world(tmp_path, env={**env, "MAX_RUN_USD": str(training_only * 1.01)})
    world.drop(
        "incoming/ds/test.jsonl", dataset_bytes([("公会怎么解散？", "会长在公会设置里点击解散。")])
    )
    rid = _validated(world)
    world.pump()
    run = world.run(rid)
    assert run.status == S.FAILED and run.error is not None and run.error.code == "over_budget"
    assert "+ evaluation $" in run.error.message and "prediction calls" in run.error.message
