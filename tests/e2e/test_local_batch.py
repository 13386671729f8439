"""One local run in batch mode, as a user runs it (issue 19): `gemini-tuning local` in a real
process, the bundled zh example with `evaluation.mode: batch`; the simulator plays the batch
jobs, the poller collects them and the run ends SUCCEEDED with a full report."""

from __future__ import annotations

import json
import shutil
import signal
from pathlib import Path

import pytest

from shared.local.paths import LocalLayout
from tests.e2e.test_local_runtime import EXAMPLE, _drop, _start, _wait

pytestmark = pytest.mark.slow


def test_a_local_run_in_batch_mode_ends_succeeded_with_batch_answers(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "bucket").mkdir(parents=True)
    folder = tmp_path / "zh"
    shutil.copytree(EXAMPLE, folder)
    yaml = (folder / "tuning.yaml").read_text(encoding="utf-8")
    (folder / "tuning.yaml").write_text(
        yaml.replace("evaluation:\n", "evaluation:\n  mode: batch\n", 1), encoding="utf-8"
    )
    proc = _start(root, SIM_TRAINING_SECONDS="2", SIM_BATCH_SECONDS="2")
    try:
        _drop(root, folder, "zh")
        waiting = _wait(root, lambda r: bool(r.evaluation.batch), timeout=90)
        assert waiting.status == "EVALUATING"
        run = _wait(root, lambda r: r.is_terminal, timeout=120)
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    assert run.status == "SUCCEEDED", run.history
    ev = run.evaluation
    assert ev.batch is not None and ev.batch["state"] == "SUCCEEDED"
    assert set(ev.batch["jobs"]) == {"tuned", "base"}
    assert all(j["simulated"] and j["succeeded"] for j in ev.batch["jobs"].values())
    assert ev.simulated and ev.verdict in ("PASSED", "FAILED")  # the example ships gates
    assert ev.summary["scored"] == ev.batch["examples"] == 40
    assert ev.cost is not None and ev.cost["actual"]["pricing"] == "batch"
    layout = LocalLayout(root)
    batch_dir = layout.root / "artifacts" / "batch-inference" / run.run_id
    outputs = sorted(batch_dir.glob("*/*/prediction-model-*/predictions.jsonl"))
    assert len(outputs) == 2
    row = json.loads(outputs[0].read_text(encoding="utf-8").splitlines()[0])
    assert row["response"]["simulated"] is True
    report = json.loads(
        (root / "artifacts" / "runs" / run.run_id / "evaluation" / "report.json").read_text()
    )
    assert report["verdict"] == ev.verdict and report["cost"]["actual"]["pricing"] == "batch"
