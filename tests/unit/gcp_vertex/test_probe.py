"""`models --check` and the smoke test ask each model once, where the pipeline will call it
(issue 16): a catalog that sends a base 3.x model to a single region fails here, at deploy
time, instead of at the first evaluation after a paid tuning job."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest

from shared.catalog import load_catalog
from shared.cli import main
from shared.gcp.vertex import VertexModels
from shared.gcp.vertex_probe import probe_models
from tests.fakes.vertex_fake import VertexFake
from tests.unit.gcp_vertex.conftest import FAST, PROJECT

WRONG = {"gemini-3.5-flash": {"serving": {"base": ["@tuning"], "tuned": ["@tuning"]}}}


def test_the_probe_asks_where_the_catalog_says(fake: VertexFake) -> None:
    models = VertexModels(PROJECT, "us-central1", api_endpoint=fake.endpoint, **FAST)
    (probe,) = probe_models(["gemini-3.5-flash"], models)
    assert probe.ok and probe.location == "us"
    assert probe.host == "aiplatform.us.rep.googleapis.com"
    assert "/locations/us/" in fake.requests_for("count_tokens")[0].path


def test_a_wrong_serving_location_fails_the_probe(fake: VertexFake) -> None:
    models = VertexModels(
        PROJECT,
        "us-central1",
        api_endpoint=fake.endpoint,
        catalog=load_catalog(WRONG),
        **FAST,
    )
    (probe,) = probe_models(["gemini-3.5-flash"], models)
    assert not probe.ok and probe.location == "us-central1" and "not found" in probe.detail


@pytest.mark.parametrize(("overrides", "code"), [(None, 0), (WRONG, 1)])
def test_models_check_makes_one_count_tokens_call_per_tunable_model(
    fake: VertexFake,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    overrides: dict[str, object] | None,
    code: int,
) -> None:
    monkeypatch.setenv("BACKEND", "gcp")
    monkeypatch.setenv("GCP_PROJECT", PROJECT)
    monkeypatch.setenv("VERTEX_LOCATION", "us-central1")
    if overrides:
        monkeypatch.setenv("MODEL_CATALOG_OVERRIDES", json.dumps(overrides))
    argv = ["models", "--check", "--json", "--vertex-endpoint", fake.endpoint]
    assert main(argv) == code
    doc = json.loads(capsys.readouterr().out)
    checked = {m["name"]: m["vertex"].get("count_tokens") for m in doc["models"]}
    assert checked["gemini-3.5-flash"]["ok"] is (code == 0)
    assert checked["gemini-2.5-flash"] is None  # retired: not asked
    calls = fake.requests_for("count_tokens")
    assert len(calls) == sum(1 for c in checked.values() if c)


def _smoke() -> Any:
    path = Path(__file__).resolve().parents[3] / "infra" / "smoke" / "smoke.py"
    spec = importlib.util.spec_from_file_location("smoke_under_test", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_smoke_test_asks_the_models_first(
    fake: VertexFake, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    smoke = _smoke()
    assert smoke.check_models(PROJECT, "europe-west4", [], api_endpoint=fake.endpoint)
    assert "gemini-3.5-flash at eu (aiplatform.eu.rep.googleapis.com): ok" in (
        capsys.readouterr().out
    )
    monkeypatch.setenv("MODEL_CATALOG_OVERRIDES", json.dumps(WRONG))
    assert not smoke.check_models(PROJECT, "europe-west4", [], api_endpoint=fake.endpoint)
