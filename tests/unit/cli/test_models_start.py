"""`gemini-tuning models` and `gemini-tuning start --config` (the seed's entry point)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from shared import composition
from shared.cli import main
from shared.events import StorageObject
from shared.pipeline import validation

REPO = Path(__file__).resolve().parents[3]
SEED = REPO / "examples" / "seed" / "config.yaml"


def test_models_lists_the_catalog_with_lifecycle(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    by_name = {m["name"]: m for m in doc["models"]}
    assert by_name["gemini-2.0-flash"]["status"] == "retired"
    assert by_name["gemini-2.0-flash"]["replacement"] == "gemini-3.5-flash"
    assert by_name[doc["default_model"]]["status"] == "available"
    assert by_name["gemini-3.1-flash-lite"]["tuning_regions"] == ["us-central1", "europe-west4"]
    assert all(m["sources"]["lifecycle"] in doc["sources"] for m in doc["models"])
    assert main(["models"]) == 0
    text = capsys.readouterr().out
    assert "* gemini-3.5-flash" in text and "-> use gemini-3.5-flash" in text


def test_models_shows_where_each_model_answers(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VERTEX_LOCATION", "europe-west4")
    assert main(["models", "--json"]) == 0
    by_name = {m["name"]: m for m in json.loads(capsys.readouterr().out)["models"]}
    flash = by_name["gemini-3.5-flash"]
    assert flash["serving"]["tuned"] == [
        {"location": "us", "host": "aiplatform.us.rep.googleapis.com"},
        {"location": "eu", "host": "aiplatform.eu.rep.googleapis.com"},
    ]
    assert {"location": "global", "host": "aiplatform.googleapis.com"} in flash["serving"]["base"]
    assert flash["serving_used"] == {"base": "eu", "tuned": "eu"}
    assert by_name["gemini-2.5-flash"]["serving"]["tuned"] == [
        {"location": "europe-west4", "host": "europe-west4-aiplatform.googleapis.com"}
    ]
    assert main(["models"]) == 0
    assert "tuned in us (aiplatform.us.rep.googleapis.com), eu (aiplatform.eu.rep" in (
        capsys.readouterr().out
    )


def test_models_check_locally_asks_the_simulator_and_reports_gone_and_new(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert main(["models", "--check"]) == 0
    out = capsys.readouterr().out
    assert "against the local simulator (SIM_CATALOG_*): no difference" in out
    assert "BACKEND=gcp" in out  # how to ask the real Vertex AI
    monkeypatch.setenv("SIM_CATALOG_GONE", "gemini-3.1-flash-lite")
    monkeypatch.setenv("SIM_CATALOG_NEW", "gemini-3.9-flash")
    assert main(["models", "--check"]) == 0
    out = capsys.readouterr().out
    assert "2 difference(s)" in out
    assert "GONE          Vertex AI no longer knows gemini-3.1-flash-lite" in out
    assert "NEW           Vertex AI lists gemini-3.9-flash (PUBLIC_PREVIEW)" in out
    assert main(["models", "--check", "--json"]) == 0
    diffs = json.loads(capsys.readouterr().out)["catalog_check"]["differences"]
    assert {(d["kind"], d["model"]) for d in diffs} == {
        ("gone", "gemini-3.1-flash-lite"),
        ("new", "gemini-3.9-flash"),
    }


def test_start_accepts_the_seed_config_and_runs_the_normal_pipeline(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "root"
    assert main(["start", "--config", str(SEED), "--root", str(root)]) == 0
    out = capsys.readouterr().out
    run_id = re.search(r"run (\S+) started", out)
    assert run_id, out
    folder = root / "bucket" / "incoming" / "game-cs-zh-seed"
    assert {p.name for p in folder.iterdir()} == {
        "train.jsonl", "validation.jsonl", "test.jsonl", "tuning.yaml",
    }  # fmt: skip
    # What the local runtime's watcher would deliver: the same validator step as a drop.
    deps = composition.local_deps(root)
    info = deps.blobs.stat("bucket", "incoming/game-cs-zh-seed/train.jsonl")
    assert info is not None
    obj = StorageObject(info.bucket, info.name, info.generation, info.size, info.md5)
    outcome = validation.handle_upload(deps, obj)
    assert outcome.action == "validated" and outcome.run_id == run_id.group(1)
    run = deps.store.get(outcome.run_id or "")
    assert run is not None and run.tuning.tuned_model_display_name == "game-cs-zh-seed"
    assert run.tuning.export_last_checkpoint_only is False


@pytest.mark.parametrize(
    ("extra", "code", "message"),
    [
        ("adapter_size: AdapterSize.SMALL\n", 1, "Write 1, 2, 4, 8 or 16"),
        ("source_model_name: gemini-1.0-pro\n", 1, "not a tunable Gemini model"),
        ("train_dataset: nowhere.jsonl\n", 2, "no such file"),
    ],
)
def test_start_explains_what_to_write_instead(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: str, code: int, message: str
) -> None:
    shutil.copytree(REPO / "examples" / "datasets", tmp_path / "datasets")
    (tmp_path / "seed").mkdir()
    config = tmp_path / "seed" / "config.yaml"
    config.write_text(SEED.read_text(encoding="utf-8") + extra, encoding="utf-8")
    assert main(["start", "--config", str(config), "--root", str(tmp_path / "r")]) == code
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_evaluate_refuses_an_unknown_or_unfinished_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from .runs import rejected_run, store_for

    store = store_for(tmp_path)
    bad = rejected_run(store)
    assert main(["evaluate", "nope", "--root", str(tmp_path)]) == 1
    assert "no run 'nope'" in capsys.readouterr().err
    assert main(["evaluate", bad.run_id, "--root", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "only a SUCCEEDED run" in err and "Traceback" not in err
    assert main(["evaluate", bad.run_id, "--sample-size", "0", "--root", str(tmp_path)]) == 2
