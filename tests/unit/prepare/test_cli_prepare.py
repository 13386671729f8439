"""`gemini-tuning prepare` as a user runs it: refusals, exit codes, input never modified, gs://;
and the two neighbours it fixes (`validate` on a CSV, `convert` leaving no empty file)."""

from __future__ import annotations

import hashlib
import json
import shutil
import uuid
from pathlib import Path
from typing import Any

import pytest

from shared.cli import main

EXPORTS = Path(__file__).resolve().parents[3] / "examples" / "exports"


def _digest(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def test_an_existing_out_is_refused_unless_force_and_the_input_is_untouched(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "export.csv"
    shutil.copyfile(EXPORTS / "chat-export.csv", src)
    before = _digest(src)
    out = tmp_path / "ds"
    assert main(["prepare", str(src), "--out", str(out)]) == 0
    assert "Validated: valid" in capsys.readouterr().out
    (out / "notes.txt").write_text("mine", encoding="utf-8")
    (out / "train.jsonl").write_text("old", encoding="utf-8")
    assert main(["prepare", str(src), "--out", str(out)]) == 2
    assert "already exists" in capsys.readouterr().err
    assert (out / "train.jsonl").read_text(encoding="utf-8") == "old"
    assert main(["prepare", str(src), "--out", str(out), "--force", "--json"]) == 0
    assert (out / "train.jsonl").read_text(encoding="utf-8") != "old"
    assert (out / "notes.txt").read_text(encoding="utf-8") == "mine"  # not ours: kept
    assert _digest(src) == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".ds.prepare-")]


def test_the_folder_is_what_submit_uploads(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "ds"
    assert main(["prepare", str(EXPORTS / "chat-export.xlsx"), "--out", str(out), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (
        json.loads((out / "prepare-report.json").read_text("utf-8"))["examples"]
        == report["examples"]
    )
    bucket = tmp_path / "bucket"
    bucket.mkdir()
    assert main(["submit", str(out), "--to", str(bucket), "--name", "zh"]) == 0
    assert {p.name for p in (bucket / "incoming" / "zh").iterdir()} >= {
        "train.jsonl",
        "tuning.yaml",
    }


def test_unmapped_senders_exit_1_and_name_the_row(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A long path: the message must stay on one line, not fold at 80 columns mid-phrase (it did,
    # whenever pytest's temporary path grew long enough).
    src = tmp_path / ("exports-" * 8) / "e.csv"
    src.parent.mkdir()
    src.write_text(
        "会话ID,角色,内容,时间\na,玩家,你好,1\na,客服,您好,2\na,主播,来了,3\n", encoding="utf-8"
    )
    assert main(["prepare", str(src), "--out", str(tmp_path / "o")]) == 1
    out = capsys.readouterr().out
    assert f"unmapped sender '主播': 1 row(s), first {src} row 4; add it to --map" in out


def test_usage_errors_are_one_line_without_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cases = [
        ["prepare", str(tmp_path / "missing.csv"), "--out", str(tmp_path / "o")],
        ["prepare", str(tmp_path), "--out", str(tmp_path / "o")],
        [
            "prepare",
            str(EXPORTS / "chat-export.csv"),
            "--out",
            str(tmp_path / "o"),
            "--model",
            "gemini-0",
        ],
        [
            "prepare",
            str(EXPORTS / "chat-export.csv"),
            "--out",
            str(tmp_path / "o"),
            "--encoding",
            "latin-9",
        ],
        ["prepare", "gs://bucket-only", "--out", str(tmp_path / "o")],
    ]
    for argv in cases:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert err.startswith("gemini-tuning prepare: ") and "Traceback" not in err
    assert not (tmp_path / "o").exists()


def test_validate_points_a_csv_or_excel_export_to_prepare(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("chat-export.csv", "chat-export.xlsx", "chat-export.tsv"):
        assert main(["validate", str(EXPORTS / name)]) == 1
        err = capsys.readouterr().err
        assert "gemini-tuning prepare" in err and "Invalid JSON" not in err, err
    renamed = tmp_path / "export.txt"  # a CSV whatever its name
    shutil.copyfile(EXPORTS / "chat-export-gb18030.csv", renamed)
    assert main(["validate", str(renamed)]) == 1
    assert "is a CSV export" in capsys.readouterr().err


def test_convert_leaves_no_empty_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out.jsonl"
    assert main(["convert", str(EXPORTS / "chat-export.csv"), str(out)]) == 1
    assert not out.exists()
    assert "gemini-tuning prepare" in capsys.readouterr().out
    out.write_text("kept\n", encoding="utf-8")  # with --force an existing OUT stays as it was
    assert main(["convert", str(EXPORTS / "chat-export.csv"), str(out), "--force"]) == 1
    assert out.read_text(encoding="utf-8") == "kept\n"


def test_a_source_in_a_bucket_is_read_through_blobs(
    gcs_server: Any,
    gcs_client: Any,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    bucket = gcs_client.create_bucket(f"prep-{uuid.uuid4().hex[:10]}")
    for name in ("chat-export.csv", "chat-export.xlsx"):
        bucket.blob(f"exports/{name}").upload_from_filename(str(EXPORTS / name))
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", f"http://{gcs_server.host}")
    monkeypatch.setenv("GCP_PROJECT", "test-project")
    for name in ("chat-export.csv", "chat-export.xlsx"):
        out = tmp_path / name
        assert (
            main(["prepare", f"gs://{bucket.name}/exports/{name}", "--out", str(out), "--json"])
            == 0
        )
        capsys.readouterr()
    assert (tmp_path / "chat-export.csv" / "train.jsonl").read_bytes() == (
        tmp_path / "chat-export.xlsx" / "train.jsonl"
    ).read_bytes()
    assert main(["prepare", f"gs://{bucket.name}/nope.csv", "--out", str(tmp_path / "n")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_prepare_uses_the_deployments_catalog(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """MODEL_CATALOG_OVERRIDES reaches prepare: a smaller per-example token limit is the budget
    sessions are cut to, and exchanges above it are dropped with their reason."""
    src = str(EXPORTS / "chat-export.csv")
    assert main(["prepare", src, "--out", str(tmp_path / "a"), "--json"]) == 0
    plain = json.loads(capsys.readouterr().out)
    limits = {"gemini-3.5-flash": {"limits": {"max_tokens_per_example": 60}}}
    monkeypatch.setenv("MODEL_CATALOG_OVERRIDES", json.dumps(limits))
    assert main(["prepare", src, "--out", str(tmp_path / "b"), "--json"]) == 0
    small = json.loads(capsys.readouterr().out)
    assert plain["token_budget"] > 60 and small["token_budget"] == 60
    assert small["dropped"].get("exchange_over_token_limit", 0) > 0
    assert not plain["dropped"].get("exchange_over_token_limit")


def test_sheet_picks_the_worksheet_and_an_unknown_one_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = str(EXPORTS / "chat-export.xlsx")  # one worksheet: 聊天记录
    assert (
        main(["prepare", src, "--sheet", "聊天记录", "--out", str(tmp_path / "a"), "--json"]) == 0
    )
    assert json.loads(capsys.readouterr().out)["sources"][0]["sheet"] == "聊天记录"
    assert main(["prepare", src, "--sheet", "Sheet9", "--out", str(tmp_path / "b")]) == 2
    err = capsys.readouterr().err
    assert "Sheet9" in err and "聊天记录" in err and "Traceback" not in err
    assert not (tmp_path / "b").exists()
