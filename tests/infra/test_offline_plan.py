"""The offline `terraform plan` (tools/tfplan, `make infra-plan`) has teeth.

`make infra-plan` plans infra/ itself; here copies of the stack with a fixed defect put back
must fail the same plan with Terraform's own error, as they would against Google on a fresh
project: the stand-in providers leave computed attributes unknown, as real providers do.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.infra.hcl import INFRA, REPO

VENV_PYTHON = REPO / ".venv-tfplan" / "bin" / "python"
PLAN = REPO / "tools" / "tfplan" / "plan.py"

pytestmark = pytest.mark.slow


def _ready() -> None:
    if shutil.which("terraform") is None:
        pytest.skip("terraform is not on PATH")
    if not VENV_PYTHON.exists():
        if os.environ.get("CI"):
            pytest.fail("no .venv-tfplan: `make test` runs `make infra-plan` first, which makes it")
        pytest.skip("no .venv-tfplan yet: run `make infra-plan` once")


def _plan_mutant(tmp_path: Path, file: str, fixed: str, broken: str, scenario: str) -> str:
    _ready()
    copy = tmp_path / "stack"
    shutil.copytree(INFRA, copy, ignore=shutil.ignore_patterns(".terraform*", "build"))
    target = copy / file
    text = target.read_text(encoding="utf-8")
    assert text.count(fixed) == 1, f"{file} no longer holds the fixed line {fixed!r}"
    target.write_text(text.replace(fixed, broken), encoding="utf-8")
    done = subprocess.run(
        [
            str(VENV_PYTHON),
            str(PLAN),
            "--infra",
            str(copy),
            "--work",
            str(tmp_path / "work"),
            "--scenario",
            scenario,
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    return done.stdout


def test_plan_fails_when_a_count_depends_on_an_apply_time_id(tmp_path: Path) -> None:
    # Defect 1: the dead-letter topic's id is only known after apply.
    out = _plan_mutant(
        tmp_path,
        "modules/function/main.tf",
        'count = var.trigger.type == "pubsub" && !var.dead_letter_sink ? 1 : 0',
        'count = var.trigger.type == "pubsub" && var.dead_letter_topic_id != null ? 1 : 0',
        "defaults",
    )
    assert "Invalid count argument" in out
    assert "push_dead_letter" in out


def test_plan_fails_when_for_each_keys_are_service_agent_emails(tmp_path: Path) -> None:
    # Defect 2: the service agents' e-mails are only known after apply (CMEK on).
    out = _plan_mutant(
        tmp_path,
        "main.tf",
        "var.kms_key_name == null ? {} : { gcs = local.gcs_agent, pubsub = local.pubsub_agent }",
        "var.kms_key_name == null ? toset([]) : toset([local.gcs_agent, local.pubsub_agent])",
        "everything",
    )
    assert "Invalid for_each argument" in out
    assert "google_kms_crypto_key_iam_member" in out
