"""A run taken through the whole local pipeline (validation, simulated tuning, evaluation)."""

from __future__ import annotations

from shared.events import StorageObject
from shared.pipeline import poll, validation
from shared.runs import RunStatus

from .conftest import World


def trained(world: World, obj: StorageObject) -> str:
    """The id of the run `obj` (a dropped train.jsonl) started, once it is SUCCEEDED."""
    out = validation.handle_upload(world.deps, obj)
    assert out.run_id, out
    world.pump()
    world.advance_clock(1000)
    poll.poll_once(world.deps)
    world.pump()
    run = world.run(out.run_id)
    assert run.status == RunStatus.SUCCEEDED, run.history
    return out.run_id
