"""`gemini-tuning status`: the table, one run, the JSON shapes the README promises, bad ids."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from shared.cli import main
from shared.local.paths import LocalLayout
from tests import changes

from .runs import FINDING, METRICS, rejected_run, store_for, succeeded_run

Cap = pytest.CaptureFixture[str]


def status(capsys: Cap, *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["status", *args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "root"


def test_a_root_without_a_pipeline_is_a_clear_error(root: Path, capsys: Cap) -> None:
    code, out, err = status(capsys, "--root", str(root))
    assert code == 2 and out == ""
    assert "no local pipeline at" in err and "--root" in err
    assert not (LocalLayout(root).runs_db).exists()  # nothing is created by looking


def test_no_runs_says_how_to_start_one(root: Path, capsys: Cap) -> None:
    store_for(root)
    code, out, err = status(capsys, "--root", str(root))
    assert code == 0 and err == ""
    assert "no runs yet" in out and "incoming/" in out


def test_no_runs_as_json_is_an_empty_list(root: Path, capsys: Cap) -> None:
    store_for(root)
    code, out, _ = status(capsys, "--root", str(root), "--json")
    assert code == 0 and json.loads(out) == []


def test_table_lists_every_run_with_status_and_detail(root: Path, capsys: Cap) -> None:
    store = store_for(root)
    bad, good = rejected_run(store), succeeded_run(store)
    code, out, err = status(capsys, "--root", str(root))
    assert code == 0 and err == ""
    lines = out.splitlines()
    bad_line = next(line for line in lines if bad.run_id in line)
    good_line = next(line for line in lines if good.run_id in line)
    assert "REJECTED [sim]" in bad_line
    assert "validation: line 3 is not valid JSON" in bad_line
    assert "SUCCEEDED [sim]" in good_line and "gates PASSED" in good_line
    assert "chrf 0.91 (base 0.12)" in good_line


def test_json_list_has_the_documented_fields(root: Path, capsys: Cap) -> None:
    store = store_for(root)
    bad, good = rejected_run(store), succeeded_run(store)
    code, out, _ = status(capsys, "--root", str(root), "--json")
    assert code == 0
    docs = {d["run_id"]: d for d in json.loads(out)}
    assert set(docs) == {bad.run_id, good.run_id}
    for d in docs.values():
        assert {"run_id", "status", "history", "age_seconds", "stage_seconds"} <= set(d)
        assert d["age_seconds"] >= 0
    rej = docs[bad.run_id]
    assert rej["status"] == "REJECTED"
    assert rej["error"] == {
        "stage": "validation",
        "code": "invalid_json",
        "message": FINDING["message"],
    }
    assert rej["validation"]["findings"] == [FINDING]
    ok = docs[good.run_id]
    assert ok["status"] == "SUCCEEDED" and ok["error"] is None
    ev = ok["evaluation"]
    assert ev["passed"] is True and ev["reason"] == "gates passed"
    assert ev["report_uri"].endswith("evaluation.json")
    assert ev["metrics"] == METRICS
    assert [h["status"] for h in ok["history"]] == [
        "RECEIVED",
        "VALIDATING",
        "VALIDATED",
        "TRAINING",
        "TRAINED",
        "EVALUATING",
        "SUCCEEDED",
    ]
    # A finished run's stages are closed: one entry per status it left.
    assert set(ok["stage_seconds"]) == {
        "RECEIVED",
        "VALIDATING",
        "VALIDATED",
        "TRAINING",
        "TRAINED",
        "EVALUATING",
    }


def test_one_run_in_detail_and_as_one_json_object(root: Path, capsys: Cap) -> None:
    store = store_for(root)
    bad = rejected_run(store)
    succeeded_run(store)
    code, out, _ = status(capsys, bad.run_id, "--root", str(root))
    assert code == 0
    assert f"run       {bad.run_id}" in out and "SIMULATED" in out
    assert "status    REJECTED" in out
    assert f"invalid_json  {FINDING['file']}:3" in out
    code, out, _ = status(capsys, bad.run_id, "--root", str(root), "--json")
    assert code == 0
    doc = json.loads(out)
    assert isinstance(doc, dict) and doc["run_id"] == bad.run_id
    assert doc["validation"]["findings"] == [FINDING]


@pytest.mark.parametrize("as_json", [False, True])
def test_unknown_run_id_exits_1_like_cancel(root: Path, capsys: Cap, as_json: bool) -> None:
    succeeded_run(store_for(root))
    code, out, err = status(capsys, "no-such-run", "--root", str(root), *(["--json"] * as_json))
    assert code == 1 and out == ""
    assert "no run 'no-such-run'" in err and "gemini-tuning status" in err
    assert "Traceback" not in err


def test_a_root_that_is_a_file_exits_2_with_a_message(tmp_path: Path, capsys: Cap) -> None:
    afile = tmp_path / "afile"
    afile.write_text("not a folder")
    code, out, err = status(capsys, "--root", str(afile))
    assert code == 2 and out == ""
    assert "no local pipeline at" in err and "Traceback" not in err


def test_brackets_in_an_error_message_print_verbatim(
    root: Path, capsys: Cap, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Error text comes from users' files and APIs: it is never read as terminal markup."""
    monkeypatch.setenv("COLUMNS", "200")  # wide enough that the cell does not wrap
    store = store_for(root)
    run = rejected_run(store)
    message = "tuning.yaml: unknown key [/evaluation] (see [bold]docs[/bold])"
    store.update(run.run_id, changes.error(message=message))
    code, out, err = status(capsys, "--root", str(root))
    assert code == 0, err
    assert message in out


@pytest.mark.parametrize("limit", ["0", "-1", "ten"])
def test_a_bad_limit_is_a_usage_error(root: Path, capsys: Cap, limit: str) -> None:
    succeeded_run(store_for(root))
    with pytest.raises(SystemExit) as exit_info:
        main(["status", "--root", str(root), "--limit", limit])
    assert exit_info.value.code == 2
    assert "--limit" in capsys.readouterr().err


def test_limit_lists_the_most_recent_runs(root: Path, capsys: Cap) -> None:
    store = store_for(root)
    rejected_run(store, "zzz")
    time.sleep(0.002)  # created_at has millisecond resolution
    newest = succeeded_run(store, "aaa")  # newer, though its id sorts first
    code, out, _ = status(capsys, "--root", str(root), "--json", "--limit", "1")
    assert code == 0
    assert [d["run_id"] for d in json.loads(out)] == [newest.run_id]


def test_a_failed_gate_is_named_and_a_skipped_evaluation_says_why(root: Path) -> None:
    from shared import status as view
    from shared.runs import EvaluationInfo, Run

    from .runs import METRICS

    run = Run.from_dict(succeeded_run(store_for(root)).to_dict())
    run.evaluation = EvaluationInfo(
        passed=False, reason="failed: chrf 0.20 < min 0.30; passed: bleu ok", metrics=METRICS
    )
    assert view.summary_line(run).startswith("gates FAILED (chrf 0.20 < min 0.30; passed")
    run.evaluation = EvaluationInfo(passed=None, reason="no test or validation set to evaluate on")
    assert view.summary_line(run) == "evaluation skipped: no test or validation set to evaluate on"


def test_detail_shows_the_epoch_range_then_the_jobs_real_billable_tokens() -> None:
    from shared.runs import DatasetInfo, JobStats, Run
    from shared.status import render_run_detail

    run = Run.new("r-epochs", DatasetInfo("b", "incoming/r/train.jsonl", "1", "gs://b/r"))
    run.validation.summary = {
        "examples": 10, "estimated_tokens": 1000, "billable_tokens": 10000,
        "epochs_range": [1, 10], "billable_tokens_range": [1000, 10000],
        "cost_usd_range": [0.01, 0.1],
    }  # fmt: skip
    text = render_run_detail(run)
    assert "billable ~1,000 to ~10,000 tokens (epochs 1 to 10: left to Vertex AI)" in text
    assert "real billable" not in text
    run.job.stats = JobStats(examples=10, billable_tokens=3000)
    assert "the job's real billable tokens: 3,000" in render_run_detail(run)
