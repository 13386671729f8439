"""`gemini-tuning validate` through shared.cli.main: exit codes, JSON shape, no tracebacks."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from shared.cli import main

from .helpers import example, jsonl, turn


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    good = tmp_path / "train.jsonl"
    good.write_bytes(jsonl(example(("q1", "answer one")), example(("q2", "answer two"))))
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(jsonl(example(), {"contents": [turn("user", "a")]}, b"{x"))
    val = tmp_path / "val.jsonl"
    val.write_bytes(jsonl(example(("q3", "answer three"))))
    return {"good": good, "bad": bad, "val": val}


def _json(capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    out = capsys.readouterr().out
    obj: dict[str, object] = json.loads(out)  # exactly one JSON object
    return obj


def test_valid_json_output(files: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["validate", str(files["good"]), "--validation", str(files["val"]), "--json"])
    obj = _json(capsys)
    assert code == 0
    assert obj["valid"] is True and obj["errors"] == [] and obj["warnings"] == []
    stats = obj["stats"]
    assert isinstance(stats, dict) and stats["examples"] == 2
    assert set(stats["estimated_tokens"]) >= {"total", "p50", "p95", "max"}
    assert set(obj["estimate"]) >= {"billable_tokens", "cost_usd"}  # type: ignore[call-overload]


def test_invalid_json_output(files: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(files["bad"]), "--json", "--max-errors", "1"]) == 1
    obj = _json(capsys)
    assert obj["valid"] is False
    errors = obj["errors"]
    assert isinstance(errors, list)
    assert {tuple(e) for e in errors} == {("code", "file", "line", "path", "message")}
    assert {(e["code"], e["line"]) for e in errors} == {("no_model_turn", 2), ("invalid_json", 3)}
    assert obj["counts"] == {"invalid_json": 1, "no_model_turn": 1}


def test_config_sets_model_and_epochs(
    files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = tmp_path / "tuning.yaml"
    cfg.write_text("source_model_name: gemini-3.1-flash-lite\nepoch: 5\nadapter_size: 4\n")
    assert main(["validate", str(files["good"]), "--config", str(cfg), "--json"]) == 0
    est = _json(capsys)["estimate"]
    assert isinstance(est, dict)
    assert (est["model"], est["epochs"]) == ("gemini-3.1-flash-lite", 5)


def test_human_output(files: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(files["bad"])]) == 1
    out = capsys.readouterr().out
    assert "no_model_turn" in out and "invalid" in out and "tokens / example" in out


def test_a_finding_stays_on_one_line_whatever_the_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Piped output used to fold at 80 columns inside the path, so `file:line` could not be
    grepped or opened from an editor."""
    deep = tmp_path / ("game-support-datasets-" * 4)
    deep.mkdir()
    bad = deep / "train.jsonl"
    bad.write_bytes(jsonl(example(), {"contents": [turn("user", "a")]}))
    assert main(["validate", str(bad)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert any(line.strip().startswith(f"{bad}:2 ") for line in lines), lines


@pytest.mark.parametrize(
    "argv_fn",
    [
        lambda f, t: [str(t / "missing.jsonl")],
        lambda f, t: [str(t / "empty")],
        lambda f, t: [str(f["good"]), "--model", "gpt-4"],
        lambda f, t: [str(f["good"]), "--config", str(t / "nope.yaml")],
        lambda f, t: [str(f["good"]), "--validation", str(t / "missing.jsonl")],
    ],
    ids=["missing", "directory", "unknown_model", "missing_config", "missing_validation"],
)
def test_usage_and_io_errors_exit_2_without_traceback(
    files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str], argv_fn: object
) -> None:
    (tmp_path / "empty").mkdir()  # a folder without train.jsonl
    argv = argv_fn(files, tmp_path)  # type: ignore[operator]
    assert main(["validate", *argv, "--json"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.startswith("gemini-tuning validate:")


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads unreadable files")
def test_permission_denied(files: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    files["good"].chmod(0)
    assert main(["validate", str(files["good"])]) == 2
    assert "permission" in capsys.readouterr().err


def test_bad_config_value(
    files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = tmp_path / "tuning.yaml"
    cfg.write_text("epoch: 0\n")
    # An invalid tuning.yaml is invalid input (1), like an invalid dataset; 2 is usage or I/O.
    assert main(["validate", str(files["good"]), "--config", str(cfg)]) == 1
    assert "epoch" in capsys.readouterr().err


def test_an_openai_format_file_is_one_grouped_finding_with_the_exact_convert_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import shlex

    monkeypatch.chdir(tmp_path)
    line = {
        "messages": [{"role": "user", "content": "你好"}, {"role": "assistant", "content": "在"}]
    }
    Path("my data.jsonl").write_text((json.dumps(line, ensure_ascii=False) + "\n") * 30)
    assert main(["validate", "my data.jsonl"]) == 1
    out = capsys.readouterr().out
    assert out.count("messages") == 1 and "30 line(s)" in out
    assert "Dataset summary" not in out  # no table of zeros
    command = [ln for ln in out.splitlines() if "gemini-tuning convert" in ln]
    assert len(command) == 1
    args = shlex.split(command[0].split("gemini-tuning ", 1)[1])
    assert main(args) == 0  # the printed command works as printed
    capsys.readouterr()
    assert main(["validate", args[-1]]) == 0


PII = Path(__file__).parents[3] / "examples" / "broken" / "personal-data" / "train.jsonl"


def test_a_dataset_folder_is_validated_with_its_siblings_and_tuning_yaml(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """What `prepare` writes and `submit` uploads, validated as the pipeline reads it."""
    ds = tmp_path / "ds"
    ds.mkdir()
    (ds / "train.jsonl").write_bytes(jsonl(example(("q1", "answer one"))))
    (ds / "validation.jsonl").write_bytes(jsonl(example(("q1", "answer one"))))
    (ds / "test.jsonl").write_bytes(jsonl(example(("q3", "answer three"))))
    (ds / "tuning.yaml").write_text("source_model_name: gemini-3.1-flash-lite\nepoch: 4\n")
    assert main(["validate", str(ds), "--json"]) == 0
    obj = _json(capsys)
    stats, est = obj["stats"], obj["estimate"]
    assert isinstance(stats, dict) and isinstance(est, dict)
    assert set(stats["files"]) == {"train", "validation", "test"}
    assert (est["model"], est["epochs"]) == ("gemini-3.1-flash-lite", 4)
    warnings = obj["warnings"]
    assert isinstance(warnings, list)
    assert [w["code"] for w in warnings] == ["train_validation_overlap"]
    # an option still wins over the folder's own file
    other = tmp_path / "other.yaml"
    other.write_text("epoch: 2\n")
    assert main(["validate", str(ds), "--config", str(other), "--json"]) == 0
    assert _json(capsys)["estimate"]["epochs"] == 2  # type: ignore[index]


def test_the_tuning_yaml_privacy_policy_applies_as_in_the_pipeline(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The pipeline validates with tuning.yaml's policy: `validate --config` must not call
    valid what the upload will reject. The stricter of the file and `--pii-policy` wins."""
    cfg = tmp_path / "tuning.yaml"
    cfg.write_text("privacy:\n  policy: reject\n")
    assert main(["validate", str(PII), "--json"]) == 0  # warn: valid with warnings
    capsys.readouterr()
    assert main(["validate", str(PII), "--config", str(cfg), "--json"]) == 1
    errors = _json(capsys)["errors"]
    assert isinstance(errors, list)
    codes = {e["code"] for e in errors}
    assert "personal_data_rejected" in codes
    assert main(["validate", str(PII), "--config", str(cfg), "--pii-policy", "warn"]) == 1
    capsys.readouterr()
    cfg.write_text("privacy:\n  patterns:\n    order_id: 'GM[0-9]{10}'\n")
    assert main(["validate", str(PII), "--config", str(cfg), "--pii-policy", "reject"]) == 1
