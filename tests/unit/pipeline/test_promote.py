"""Promotion, rollback and auto-promotion on the real local adapters (runs trained by the
simulator through the pipeline itself, the production record in SQLite, events on the bus)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from shared.errors import NotFound, PermanentError, TransientError
from shared.events import PRODUCTION_CHANGED
from shared.pipeline import promote, validation
from shared.ports import Promotion
from shared.runs import RunStatus

from .conftest import ZH_EXAMPLES, World, dataset_bytes, make_world
from .trained import trained as succeeded

S = RunStatus
GATES_PASS = "evaluation: {auto_promote: true, gates: {chrf: {min_delta: 0.05}}}\n"
GATES_FAIL = "evaluation: {auto_promote: true, gates: {chrf: {min_delta: 1.0}}}\n"
#: Questions asked with a preamble the training data never had: different enough not to count
#: as leaked (question MinHash similarity under the validator's threshold), close enough for
#: the simulated tuned model to answer them partly right and beat the base model.
TEST_SET = dataset_bytes(
    [("你好客服，我是新玩家，有个问题想请教一下：" + q, a) for q, a in ZH_EXAMPLES[:4]]
)


@pytest.fixture
def world(tmp_path: Path) -> World:
    w = make_world(tmp_path, max_jobs=4)
    w.bus.subscribe("run-events", "t-production")
    return w


def trained(world: World, folder: str, tuning_yaml: str | None = None) -> str:
    """A SUCCEEDED run of `folder`, evaluated on a test set."""
    return succeeded(world, world.drop_dataset(folder, test=TEST_SET, tuning_yaml=tuning_yaml))


def production_events(world: World) -> list[dict[str, Any]]:
    out = []
    for m in world.bus.pull("t-production", 100):
        world.bus.ack(m)
        if m.attributes.get("type") == PRODUCTION_CHANGED:
            assert m.attributes["run_id"] == json.loads(m.data)["run_id"]
            out.append(json.loads(m.data))
    return out


def test_promote_records_who_when_why_publishes_and_notes_the_run(world: World) -> None:
    rid = trained(world, "a")
    result = promote.promote_run(world.deps, rid, by="alice", reason="beats base on chrF")
    p = result.promotion
    run = world.run(rid)
    assert result.changed and p.sequence == 1 and p.previous is None and p.rollback_to is None
    assert (p.run_id, p.promoted_by, p.reason) == (rid, "alice", "beats base on chrF")
    assert p.endpoint == run.job.tuned_model_endpoint
    assert p.tuned_model_name == run.job.tuned_model_name and p.checkpoint_id is None
    assert p.base_model == run.tuning.source_model_name and p.simulated
    assert world.deps.production.current() == p
    [event] = production_events(world)
    assert (
        event["action"] == "promoted"
        and event["sequence"] == 1
        and event["type"] == (PRODUCTION_CHANGED)
    )
    assert [(n.sequence, n.action, n.by) for n in run.promotions] == [(1, "promoted", "alice")]
    # Asking again changes nothing (a second record would make a rollback restore itself).
    again = promote.promote_run(world.deps, rid, by="bob")
    assert not again.changed and again.promotion == p
    assert len(world.deps.production.history(limit=10)) == 1


def test_a_checkpoint_is_promoted_with_its_own_endpoint(world: World) -> None:
    rid = trained(world, "a")
    checkpoints = world.run(rid).job.checkpoints
    assert len(checkpoints) >= 2, "the simulator exports one checkpoint per epoch"
    first = checkpoints[0]
    p = promote.promote_run(world.deps, rid, by="alice", checkpoint_id=first.checkpoint_id)
    assert p.promotion.checkpoint_id == first.checkpoint_id
    assert p.promotion.endpoint == first.endpoint != world.run(rid).job.tuned_model_endpoint
    with pytest.raises(PermanentError, match=r"no checkpoint '99' \(its checkpoints: "):
        promote.promote_run(world.deps, rid, by="alice", checkpoint_id="99")


def test_rollback_walks_back_one_model_at_a_time_and_notes_both_runs(world: World) -> None:
    a, b, c = (trained(world, name) for name in ("a", "b", "c"))
    for rid in (a, b, c):
        promote.promote_run(world.deps, rid, by="alice")
    back = promote.rollback(world.deps, by="bob", reason="complaints")
    assert (back.run_id, back.previous, back.rolled_back, back.sequence) == (b, c, True, 4)
    assert (back.promoted_by, back.reason) == ("bob", "complaints")
    assert world.deps.production.current() == back
    again = promote.rollback(world.deps, by="bob")
    assert (again.run_id, again.previous, again.sequence) == (a, b, 5)
    with pytest.raises(PermanentError, match=f"nothing to roll back to: run {a}"):
        promote.rollback(world.deps, by="bob")
    assert [n.action for n in world.run(c).promotions] == ["promoted", "rolled back"]
    assert [n.action for n in world.run(b).promotions] == [
        "promoted",
        "replaced",
        "restored by rollback",
        "rolled back",
    ]
    actions = [(e["run_id"], e["action"]) for e in production_events(world)]
    assert actions[-2:] == [(b, "rolled back"), (a, "rolled back")]


def test_rollback_without_a_production_model_says_so(world: World) -> None:
    with pytest.raises(PermanentError, match="no production model yet"):
        promote.rollback(world.deps, by="bob")


def test_only_a_succeeded_run_with_a_model_is_promoted(world: World) -> None:
    with pytest.raises(NotFound, match="no run 'nope'"):
        promote.promote_run(world.deps, "nope", by="alice")
    out = validation.handle_upload(world.deps, world.drop_dataset("t"))
    assert out.run_id
    world.pump()
    assert world.run(out.run_id).status == S.TRAINING
    with pytest.raises(PermanentError, match="is TRAINING: only a SUCCEEDED run can be promoted"):
        promote.promote_run(world.deps, out.run_id, by="alice")
    dry = validation.handle_upload(world.deps, world.drop_dataset("d", tuning_yaml="dry_run: true"))
    assert dry.run_id and world.run(dry.run_id).status == S.VALIDATED  # where dry runs end
    with pytest.raises(PermanentError, match="is VALIDATED: only a SUCCEEDED"):
        promote.promote_run(world.deps, dry.run_id, by="alice")
    assert world.deps.production.current() is None


class _LosesTheRace:
    """A production store where someone else promotes between our read and our write."""

    def __init__(self, inner: Any, rival: Promotion) -> None:
        self.inner, self.rival = inner, rival

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def promote(self, promotion: Promotion, *, expected_current: int | None) -> Promotion | None:
        assert self.inner.promote(self.rival, expected_current=expected_current) is not None
        stored: Promotion | None = self.inner.promote(promotion, expected_current=expected_current)
        return stored


def test_a_promotion_that_loses_the_race_says_so_and_changes_nothing(world: World) -> None:
    a, b = trained(world, "a"), trained(world, "b")
    rival = promote.promote_run(world.deps, a, by="alice").promotion
    store = world.deps.production
    world.deps.__dict__["production"] = _LosesTheRace(store, rival)
    with pytest.raises(PermanentError, match=f"changed while this request ran .*run {a}"):
        promote.promote_run(world.deps, b, by="bob")
    assert [p.run_id for p in store.history(limit=10)] == [a, a]
    assert world.run(b).promotions == []


def test_auto_promotion_only_when_every_gate_passed(world: World) -> None:
    passing = trained(world, "pass", GATES_PASS)  # the evaluator promotes it at the end
    failing = trained(world, "fail", GATES_FAIL)
    plain = trained(world, "plain")
    assert world.run(failing).evaluation.passed is False
    done = world.deps.production.current()
    assert done is not None and done.run_id == passing
    assert done.promoted_by == promote.AUTO_PROMOTER and done.reason.startswith("every gate")
    assert promote.maybe_auto_promote(world.deps, world.run(plain)) is None
    assert promote.maybe_auto_promote(world.deps, world.run(failing)) is None
    # A redelivered evaluation asks again: nothing new is written.
    assert promote.maybe_auto_promote(world.deps, world.run(passing)) is None
    assert len(world.deps.production.history(limit=10)) == 1


class _Unreachable:
    def current(self) -> None:
        raise TransientError("503 firestore unavailable")


def test_auto_promotion_never_raises_into_the_evaluation(world: World) -> None:
    rid = trained(world, "pass", GATES_PASS)
    world.deps.__dict__["production"] = _Unreachable()
    assert promote.maybe_auto_promote(world.deps, world.run(rid)) is None
    assert world.run(rid).status == S.SUCCEEDED
