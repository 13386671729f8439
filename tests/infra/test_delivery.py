"""cloudbuild.yaml's promises (apply only on the deploy branch, smoke after apply, remote state)
and the smoke dataset it uploads (valid, and a dry run so no paid tuning job starts)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from shared.datasets import validate_dataset
from shared.tuning_config import TuningConfig, parse_tuning_yaml
from tests.infra.hcl import INFRA, REPO

SMOKE = INFRA / "smoke" / "dataset"


def _build() -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load((REPO / "cloudbuild.yaml").read_text(encoding="utf-8"))
    return doc


def _script(step: dict[str, Any]) -> str:
    return " ".join(str(a) for a in step.get("args", []))


def test_steps_run_in_the_promised_order() -> None:
    ids = [s["id"] for s in _build()["steps"]]
    assert ids == [
        "test",
        "checkov",
        "terraform-init",
        "terraform-validate",
        "terraform-plan",
        "terraform-apply",
        "smoke",
    ]


def test_apply_and_smoke_happen_only_on_the_deploy_branch() -> None:
    build = _build()
    steps = {s["id"]: s for s in build["steps"]}
    apply = _script(steps["terraform-apply"])
    assert '"${BRANCH_NAME}" = "${_DEPLOY_BRANCH}"' in apply and "apply" in apply
    assert build["substitutions"]["_DEPLOY_BRANCH"] == "main"
    assert "tfplan" in apply and "-out=tfplan" in _script(steps["terraform-plan"])
    # Smoke runs only when apply left its outputs behind.
    assert "/workspace/.datasets_bucket" in _script(steps["smoke"])
    assert "infra/smoke/smoke.py" in _script(steps["smoke"])


def test_state_is_remote() -> None:
    assert 'backend "gcs"' in (INFRA / "versions.tf").read_text(encoding="utf-8")
    assert '-backend-config="bucket=${_TF_STATE_BUCKET}"' in _script(
        next(s for s in _build()["steps"] if s["id"] == "terraform-init")
    )


def test_test_step_runs_make_test() -> None:
    (step,) = [s for s in _build()["steps"] if s["id"] == "test"]
    assert "make test" in _script(step)
    assert "infra-check" in (REPO / "mk" / "infra.mk").read_text(encoding="utf-8")


def test_smoke_dataset_is_a_valid_dry_run(tmp_path: Path) -> None:
    config = parse_tuning_yaml(
        (SMOKE / "tuning.yaml").read_bytes(), source="tuning.yaml", base=TuningConfig()
    )
    assert config.dry_run is True, "the smoke test must never start a paid tuning job"
    with (SMOKE / "train.jsonl").open("rb") as fh:
        report = validate_dataset(fh, model=config.source_model_name)
    assert report.valid, report.errors
