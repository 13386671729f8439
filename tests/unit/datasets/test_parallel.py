"""Several processes on one file give exactly the single-process report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from shared.datasets import parallel, validate_dataset
from shared.datasets.privacy import PrivacyOptions

from .helpers import example, turn

PHONE = "13812345678"


def _file(tmp_path: Path) -> Path:
    rows: list[Any] = []
    for i in range(3000):
        if i % 97 == 0:
            rows.append(example((f"我的手机 {PHONE}，问题 {i}", "已记录，请保持电话畅通。")))
        elif i % 131 == 0:
            rows.append(
                example((f"How do I reset password {i}?", "请在设置中重置密码，然后重新登录。"))
            )
        elif i % 211 == 0:
            rows.append(b'{"contents": [')
        elif i % 17 == 0:
            rows.append(
                example((f"充值没到账{'！' * (i % 3)}", "您好，充值一般两小时内到账，请耐心等待。"))
            )
        else:
            rows.append(
                {
                    "systemInstruction": {"parts": [{"text": "你是客服"}]},
                    "contents": [
                        turn("user", f"问题 {i}"),
                        turn("model", f"回答 {i} " * (i % 7 + 1)),
                    ],
                }
            )
    rows.append(rows[5])  # an exact duplicate across the split
    data = b"\n".join(
        r if isinstance(r, bytes) else json.dumps(r, ensure_ascii=False).encode() for r in rows
    )
    path = tmp_path / "train.jsonl"
    path.write_bytes(data + b"\n")
    return path


@pytest.mark.parametrize("workers", [2, 3])
def test_parallel_report_equals_single_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workers: int
) -> None:
    monkeypatch.setattr(parallel, "MIN_BYTES", 1)
    path = _file(tmp_path)
    opts = PrivacyOptions(policy="reject", patterns={"order_id": r"GM\d{10}"})
    with path.open("rb") as f:
        one = validate_dataset(f, privacy=opts, max_findings_per_code=500).to_dict()
    with path.open("rb") as f:
        assert parallel.plan(f, workers) is not None
        many = validate_dataset(f, privacy=opts, workers=workers, max_findings_per_code=500)
    assert many.to_dict() == one
    assert set(one["counts"]) >= {
        "personal_data_rejected",
        "invalid_json",
        "duplicate_example",
        "language_mismatch",
        "near_duplicate_examples",
        "inconsistent_system_instruction",
    }


def test_small_or_unsplittable_inputs_use_one_process(tmp_path: Path) -> None:
    path = _file(tmp_path)
    with path.open("rb") as f:
        assert parallel.plan(f, 2) is None  # below MIN_BYTES
    bom = tmp_path / "bom.jsonl"
    bom.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    with bom.open("rb") as f:
        assert parallel.plan(f, 1) is None
        report = validate_dataset(f, workers=2)
    assert "utf8_bom" in report.counts
