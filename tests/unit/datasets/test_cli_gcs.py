"""`gemini-tuning validate gs://...` reads the object from Cloud Storage (fake-gcs-server)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from shared.cli import main

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "datasets" / "game-cs-zh"


def test_validate_a_dataset_in_a_bucket(
    gcs_server: Any,
    gcs_client: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    bucket = gcs_client.create_bucket(f"cli-{uuid.uuid4().hex[:10]}")
    for name in ("train.jsonl", "test.jsonl"):
        bucket.blob(f"incoming/zh/{name}").upload_from_filename(str(EXAMPLE / name))
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", f"http://{gcs_server.host}")
    monkeypatch.setenv("GCP_PROJECT", "test-project")
    code = main(
        [
            "validate",
            f"gs://{bucket.name}/incoming/zh/train.jsonl",
            "--test",
            f"gs://{bucket.name}/incoming/zh/test.jsonl",
            "--json",
        ]
    )
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["valid"] is True
    local = main(
        ["validate", str(EXAMPLE / "train.jsonl"), "--test", str(EXAMPLE / "test.jsonl"), "--json"]
    )
    assert local == 0
    assert json.loads(capsys.readouterr().out)["stats"]["examples"] == out["stats"]["examples"]

    assert main(["validate", f"gs://{bucket.name}/nope.jsonl"]) == 2
    err = capsys.readouterr().err
    assert "does not exist" in err and "Traceback" not in err
    assert main(["validate", "gs://only-a-bucket"]) == 2
    assert "gs://BUCKET/OBJECT" in capsys.readouterr().err
