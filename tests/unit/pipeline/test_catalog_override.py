"""One catalog (issue 16, defect 8): a model added by MODEL_CATALOG_OVERRIDES is the same model
to every step. The validator used to read the built-in catalog, raise ValueError (no
PipelineError) and leave the run retried in VALIDATING for ever."""

from __future__ import annotations

import json
from pathlib import Path

from shared import composition
from shared.catalog import BUILTIN
from shared.pipeline import poll, validation
from shared.runs import RunStatus
from tests.unit.pipeline.conftest import make_world

S = RunStatus
NEW = "gemini-3.9-flash"
#: A model the built-in catalog does not have, as a deployment would add it (README).
OVERRIDE = {
    "MODEL_CATALOG_OVERRIDES": json.dumps(
        {
            NEW: {
                "display_name": "Gemini 3.9 Flash",
                "limits": {
                    "max_tokens_per_example": 131072,
                    "max_validation_examples": 5000,
                    "max_training_file_bytes": 1073741824,
                    "adapter_sizes": [1, 2, 4, 8, 16],
                },
                "lifecycle": {"released": "2026-11-01"},
                "thinking": {"control": "level", "lowest": "MINIMAL"},
                "price_per_million_training_tokens": 1.0,
            }
        }
    )
}
TURNS = [{"role": "user", "parts": [{"text": "q"}]}, {"role": "model", "parts": [{"text": "a"}]}]
TEST_SET = (json.dumps({"contents": TURNS}) + "\n").encode()


def test_an_added_model_validates_trains_and_is_evaluated_in_local_mode(tmp_path: Path) -> None:
    assert BUILTIN.get(NEW) is None
    world = make_world(tmp_path, env=OVERRIDE)
    obj = world.drop_dataset(test=TEST_SET, tuning_yaml=f"source_model_name: {NEW}\n")
    out = validation.handle_upload(world.deps, obj)
    rid = out.run_id
    assert rid and world.run(rid).status == S.VALIDATED, world.run(rid or "").error
    world.pump()
    assert world.run(rid).status == S.TRAINING
    world.advance_clock(1000)
    poll.poll_once(world.deps)
    world.pump()
    run = world.run(rid)
    assert run.status == S.SUCCEEDED, run.history
    assert run.tuning.source_model_name == NEW


def test_the_local_composition_hands_the_deployments_catalog_to_the_simulator(
    tmp_path: Path,
) -> None:
    deps = composition.local_deps(tmp_path / "root", env=OVERRIDE)
    tuner = deps.tuner
    assert getattr(tuner, "catalog", None) is deps.settings.catalog
    assert deps.settings.catalog.get(NEW) is not None
