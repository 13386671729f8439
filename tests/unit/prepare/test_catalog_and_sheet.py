"""`prepare` works with the deployment's catalog (MODEL_CATALOG_OVERRIDES), as `submit` and the
validator do, and reads the worksheet `--sheet` names."""

from __future__ import annotations

import json
from pathlib import Path

import openpyxl
import pytest

from shared.catalog import BUILTIN
from shared.cli import main

EXPORTS = Path(__file__).resolve().parents[3] / "examples" / "exports"
NEW = "gemini-3.9-flash"
OVERRIDE = json.dumps(
    {
        NEW: {
            "display_name": "Gemini 3.9 Flash",
            "limits": {
                "max_tokens_per_example": 4096,
                "max_validation_examples": 5000,
                "max_training_file_bytes": 1073741824,
                "adapter_sizes": [1, 2, 4, 8, 16],
            },
            "lifecycle": {"released": "2026-11-01"},
            "thinking": {"control": "level", "lowest": "MINIMAL"},
            "price_per_million_training_tokens": 2.5,
        }
    }
)


def test_a_model_added_by_the_deployment_is_prepared_and_validated(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert BUILTIN.get(NEW) is None
    src = str(EXPORTS / "chat-export.csv")
    assert main(["prepare", src, "--out", str(tmp_path / "a"), "--model", NEW]) != 0
    assert "unknown model" in capsys.readouterr().err
    monkeypatch.setenv("MODEL_CATALOG_OVERRIDES", OVERRIDE)
    out = tmp_path / "b"
    assert main(["prepare", src, "--out", str(out), "--model", NEW, "--json"]) == 0
    capsys.readouterr()
    report = json.loads((out / "prepare-report.json").read_text("utf-8"))
    assert report["model"] == NEW
    assert report["token_budget"] == 4096  # the override's limit, not a built-in model's
    assert report["estimate"]["price_per_million_training_tokens"] == 2.5
    assert NEW in (out / "tuning.yaml").read_text("utf-8")


def test_sheet_names_the_worksheet_and_a_wrong_name_lists_the_sheets(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wb = openpyxl.load_workbook(EXPORTS / "chat-export.xlsx")
    data_sheet = wb.worksheets[0].title
    notes = wb.create_sheet("说明", 0)  # a cover sheet first, as exports often have
    notes.append(["导出时间", "2026-12-01"])
    book = tmp_path / "two-sheets.xlsx"
    wb.save(book)

    assert main(["prepare", str(EXPORTS / "chat-export.xlsx"), "--out", str(tmp_path / "ref")]) == 0
    assert main(["prepare", str(book), "--out", str(tmp_path / "s"), "--sheet", data_sheet]) == 0
    for name in ("train.jsonl", "validation.jsonl", "test.jsonl"):
        ref, got = tmp_path / "ref" / name, tmp_path / "s" / name
        assert ref.exists() == got.exists()
        if ref.exists():
            assert got.read_bytes() == ref.read_bytes()
    report = json.loads((tmp_path / "s" / "prepare-report.json").read_text("utf-8"))
    assert report["sources"][0]["sheet"] == data_sheet
    capsys.readouterr()

    assert main(["prepare", str(book), "--out", str(tmp_path / "n"), "--sheet", "nope"]) != 0
    err = capsys.readouterr().err
    assert "no sheet 'nope'" in err and "说明" in err and data_sheet in err
    assert "Traceback" not in err
