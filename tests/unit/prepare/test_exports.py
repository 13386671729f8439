"""The bundled exports (examples/exports/): one chat log as UTF-8-BOM CSV, GB18030 CSV, TSV and
.xlsx all become the same valid dataset folder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from shared.cli import main

EXPORTS = Path(__file__).resolve().parents[3] / "examples" / "exports"
VARIANTS = {
    "chat-export.csv": ("csv", "UTF-8-BOM"),
    "chat-export-gb18030.csv": ("csv", "GB18030"),
    "chat-export.tsv": ("tsv", "UTF-8"),
    "chat-export.xlsx": ("xlsx", None),
}


def _prepare(src: Path, out: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    code = main(["prepare", str(src), "--out", str(out), "--json"])
    doc: dict[str, Any] = json.loads(capsys.readouterr().out)
    assert code == 0, doc
    return doc


def test_every_variant_becomes_the_same_valid_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folders = {}
    for name, (fmt, encoding) in VARIANTS.items():
        out = tmp_path / name
        doc = _prepare(EXPORTS / name, out, capsys)
        (source,) = doc["sources"]
        assert source["format"] == fmt
        assert source.get("encoding") == encoding
        assert source["columns"] == {
            "session": "会话ID",
            "role": "发送方",
            "text": "内容",
            "timestamp": "时间",
        }
        assert doc["validation"]["valid"] is True
        folders[name] = {
            f: (out / f).read_bytes() for f in ("train.jsonl", "validation.jsonl", "test.jsonl")
        }
        assert sorted(p.name for p in out.iterdir()) == [
            "prepare-report.json",
            "test.jsonl",
            "train.jsonl",
            "tuning.yaml",
            "validation.jsonl",
        ]
    first = folders.pop("chat-export.csv")
    assert all(files == first for files in folders.values())
    train = [json.loads(line) for line in first["train.jsonl"].splitlines()]
    assert train and all(ex["contents"][0]["role"] == "user" for ex in train)
    assert all(ex["contents"][-1]["role"] == "model" for ex in train)


def test_the_export_is_cleaned_as_the_report_says(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = _prepare(EXPORTS / "chat-export.csv", tmp_path / "out", capsys)
    text = "".join(
        (tmp_path / "out" / f).read_text("utf-8")
        for f in ("train.jsonl", "validation.jsonl", "test.jsonl")
    )
    assert "13912345678" not in text and "<PHONE_1>" in text  # redacted by default
    assert "机器人" not in text and "欢迎来到星辰幻境客服中心" not in text  # bot rows dropped
    assert doc["dropped_roles"] == {"机器人": 37, "系统": 37}
    assert doc["personal_data"] == {"policy": "redact", "found": {"phone": 1}}
    dropped = doc["dropped"]
    assert dropped["exact_duplicate"] == 1  # the re-opened ticket
    assert dropped["unanswered_last_message"] == 8
    assert doc["notes"]["merged_message"] > 0
    examples = doc["examples"]
    assert sum(examples.values()) == doc["examples_built"] - sum(
        n for k, n in dropped.items() if k in ("exact_duplicate", "near_duplicate")
    )
