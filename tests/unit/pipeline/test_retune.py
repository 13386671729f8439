"""`retune` on the real local adapters: a linked run on another base model with the same files,
hyperparameters unset, evaluated against production, promoted only when production_gates pass;
a dataset file that is gone stops it before any run exists."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.errors import PermanentError
from shared.pipeline import poll, promote
from shared.pipeline.retune import Hyperparameters, retune_run
from shared.runs import RunStatus
from shared.status import render_run_detail

from .conftest import World, make_world
from .test_promote import TEST_SET
from .trained import trained

S = RunStatus
NEW = "gemini-3.1-flash-lite"


def _yaml(production_min_delta: float) -> str:
    return (
        "source_model_name: gemini-3.5-flash\nepoch: 2\nadapter_size: 4\n"
        "evaluation: {auto_promote: true, gates: {chrf: {min_delta: 0.05}}, "
        f"production_gates: {{chrf: {{min_delta: {production_min_delta}}}}}}}\n"
    )


@pytest.fixture
def world(tmp_path: Path) -> World:
    return make_world(tmp_path, max_jobs=4)


def _finish(world: World, run_id: str) -> None:
    world.pump()
    world.advance_clock(1000)
    poll.poll_once(world.deps)
    world.pump()


def _production(world: World, folder: str, production_min_delta: float) -> str:
    obj = world.drop_dataset(folder, test=TEST_SET, tuning_yaml=_yaml(production_min_delta))
    rid = trained(world, obj)
    current = world.deps.production.current()
    if current is None or current.run_id != rid:
        promote.promote_run(world.deps, rid, by="test")
    return rid


def test_retune_runs_on_the_new_model_against_production_and_promotes_on_pass(
    world: World,
) -> None:
    old = _production(world, "ds", -0.9)
    result = retune_run(world.deps, old, model=NEW)
    assert result.created and result.model == NEW and result.auto_promote
    _finish(world, result.run_id)
    new = world.run(result.run_id)
    assert new.status == S.SUCCEEDED, new.history
    assert new.retune_of == old and world.run(old).retuned_by == new.run_id
    assert f"retune of {old}" in render_run_detail(new)
    assert f"retuned   as {new.run_id}" in render_run_detail(world.run(old))
    assert new.config is not None and new.config.source_model_name == NEW
    assert (new.config.epoch, new.config.adapter_size) == (None, None)  # Vertex chooses
    assert new.job.base_model == NEW
    old_run = world.run(old)
    assert new.dataset.test_generation == old_run.dataset.test_generation
    assert new.dataset.config_generation == old_run.dataset.config_generation
    vs = new.evaluation.vs_production
    assert vs is not None and vs["production_run"] == old and vs["passed"] is True
    current = world.deps.production.current()
    assert current is not None and current.run_id == new.run_id
    again = retune_run(world.deps, old, model=NEW)
    assert not again.created and again.run_id == new.run_id


def test_a_retune_that_fails_the_production_gates_is_not_promoted(world: World) -> None:
    old = _production(world, "ds", 0.9)
    result = retune_run(world.deps, old, model=NEW, hp=Hyperparameters(epoch=3))
    _finish(world, result.run_id)
    new = world.run(result.run_id)
    assert new.status == S.SUCCEEDED and new.config is not None and new.config.epoch == 3
    vs = new.evaluation.vs_production
    assert vs is not None and vs["passed"] is False
    current = world.deps.production.current()
    assert current is not None and current.run_id == old


def test_a_dataset_file_that_is_gone_is_named_and_nothing_starts(world: World) -> None:
    old = _production(world, "ds", -0.9)
    (world.root / "bucket" / "incoming" / "ds" / "test.jsonl").unlink()
    before = len(world.store.list_recent(limit=100))
    with pytest.raises(PermanentError, match=r"incoming/ds/test\.jsonl is gone"):
        retune_run(world.deps, old, model=NEW)
    assert len(world.store.list_recent(limit=100)) == before
    assert world.run(old).retuned_by is None


def test_without_a_replacement_or_on_the_same_model_it_says_what_to_pass(world: World) -> None:
    old = _production(world, "ds", -0.9)
    with pytest.raises(PermanentError, match=r"names no replacement for gemini-3\.5-flash"):
        retune_run(world.deps, old)
    with pytest.raises(PermanentError, match=r"already tuned on gemini-3\.5-flash"):
        retune_run(world.deps, old, model="gemini-3.5-flash-001")


def test_an_adapter_size_the_new_model_refuses_is_named_before_any_run(world: World) -> None:
    old = _production(world, "ds", -0.9)
    before = len(world.store.list_recent(limit=100))
    with pytest.raises(PermanentError, match=r"--adapter-size: .*not supported"):
        retune_run(world.deps, old, model=NEW, hp=Hyperparameters(adapter_size=3))
    assert len(world.store.list_recent(limit=100)) == before
