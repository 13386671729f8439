"""The first-run path for a team with a chat export: `prepare` -> `validate` -> `submit` to a
local runtime -> a finished run, with real processes and files (as in test_local_runtime)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.test_local_runtime import _env, _start, _wait

REPO = Path(__file__).resolve().parents[2]
EXPORT = REPO / "examples" / "exports" / "chat-export-gb18030.csv"
pytestmark = pytest.mark.slow


def _cli(root: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "shared.cli", *argv],
        env=_env(root),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_chinese_csv_export_becomes_a_finished_local_run(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "bucket").mkdir(parents=True)
    ds = tmp_path / "game-cs-export"
    prepared = _cli(root, "prepare", str(EXPORT), "--out", str(ds), "--json")
    assert prepared.returncode == 0, prepared.stderr
    report = json.loads(prepared.stdout)
    assert report["sources"][0]["encoding"] == "GB18030"
    checked = _cli(
        root, "validate", str(ds / "train.jsonl"), "--validation", str(ds / "validation.jsonl"),
        "--test", str(ds / "test.jsonl"), "--config", str(ds / "tuning.yaml"), "--json",
    )  # fmt: skip
    assert checked.returncode == 0, checked.stdout
    assert (
        json.loads(checked.stdout)["stats"]["files"]["train"]["examples"]
        == report["examples"]["train"]
    )
    proc = _start(root, SIM_TRAINING_SECONDS="2")
    try:
        submitted = _cli(root, "submit", str(ds), "--to", str(root / "bucket"), "--name", "export")
        assert submitted.returncode == 0, submitted.stderr
        run = _wait(root, lambda r: r.is_terminal, timeout=120)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    assert run.status == "SUCCEEDED", run.history
    assert run.dataset.name == "incoming/export/train.jsonl"
