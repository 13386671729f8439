"""The model catalog: facts with sources, lifecycle as of a date, deployment overrides."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import pytest

from shared.catalog import BUILTIN, TUNING_BLOCK_DAYS, WARN_DAYS, catalog_from_env, load_catalog
from shared.clock import today
from shared.errors import ConfigError
from shared.settings import Settings
from shared.tuning_config import TuningConfig, parse_tuning_yaml

DAY = timedelta(days=1)


def test_every_model_fact_names_a_recorded_source_with_a_date() -> None:
    for m in BUILTIN:
        assert {"limits", "lifecycle"} <= set(m.sources), m.name
        for fact, key in m.sources.items():
            src = BUILTIN.sources[key]
            assert src["title"] and "note" in src, (m.name, fact)
            assert src["url"] or key.startswith("assumed"), (m.name, fact)


def test_the_default_model_can_be_tuned_today() -> None:
    """Fails the day the default nears retirement: update catalog.json's default_model."""
    info = BUILTIN.get(BUILTIN.default_model)
    assert info is not None and info.status(today()) == "available"
    assert TuningConfig().source_model_name == BUILTIN.default_model


def test_lifecycle_status_moves_with_the_date() -> None:
    m = BUILTIN.models["gemini-3.1-flash-lite"]
    retires = m.lifecycle.retires
    assert retires == date(2027, 5, 7)
    block = retires - TUNING_BLOCK_DAYS * DAY
    assert m.status(block - (WARN_DAYS + 1) * DAY) == "available"
    assert m.status(block - WARN_DAYS * DAY) == "retiring"
    assert m.status(block) == "blocked"
    assert m.status(retires) == "retired"
    assert BUILTIN.models["gemini-2.0-flash"].status(date(2020, 1, 1)) == "retired"  # shut down


def test_problems_name_the_replacement_and_the_regions() -> None:
    day = date(2026, 11, 30)
    [p] = BUILTIN.problems("gemini-2.5-flash", location="us-central1", today=day)
    assert (p.severity, p.code) == ("error", "model_retired")
    assert "2026-10-16" in p.message and "gemini-3.5-flash" in p.message
    [p] = BUILTIN.problems("gemini-2.0-flash-lite", location="us-central1", today=day)
    assert p.code == "model_retired" and "gemini-3.1-flash-lite" in p.message
    assert BUILTIN.problems("gemini-3.5-flash", location="europe-west4", today=day) == []
    [p] = BUILTIN.problems("gemini-3.5-flash", location="asia-east1", today=day)
    assert p.code == "model_not_in_region" and "us-central1, europe-west4" in p.message
    [p] = BUILTIN.problems("gemini-9-ultra", location=None, today=day)
    assert p.code == "model_unknown" and "gemini-3.5-flash" in p.message
    assert "gemini-2.5-flash" not in p.message  # only what can be tuned that day


def test_model_names_in_the_forms_people_paste() -> None:
    for form in (
        "gemini-3.5-flash",
        "gemini-3.5-flash-001",
        "publishers/google/models/gemini-3.5-flash",
        "projects/p/locations/us-central1/publishers/google/models/gemini-3.5-flash",
    ):
        assert BUILTIN.normalize(form) == "gemini-3.5-flash", form
    assert BUILTIN.normalize("gemini-3.5-flash-lite") == "gemini-3.5-flash-lite"


def test_a_deployment_adds_a_model_and_corrects_a_price_without_a_release(tmp_path: Path) -> None:
    new = {
        "display_name": "Gemini 3.9 Flash",
        "limits": {
            "max_tokens_per_example": 262144,
            "max_validation_examples": 5000,
            "max_training_file_bytes": 1 << 30,
            "adapter_sizes": [1, 2, 4],
        },
        "lifecycle": {"released": "2026-11-20"},
        "tuning_regions": ["us-central1"],
    }
    overrides = {
        "gemini-3.9-flash": new,
        "gemini-3.5-flash": {"price_per_million_training_tokens": 4},
    }
    inline = catalog_from_env({"MODEL_CATALOG_OVERRIDES": json.dumps(overrides)})
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps(overrides))
    from_file = catalog_from_env({"MODEL_CATALOG_OVERRIDES": str(path)})
    for cat in (inline, from_file):
        added = cat.get("gemini-3.9-flash")
        assert added is not None and added.limits.max_tokens_per_example == 262144
        price = cat.models["gemini-3.5-flash"].limits.training_price_per_million_tokens
        assert price == 4
        # Fields not overridden keep their built-in values.
        assert cat.models["gemini-3.5-flash"].tuning_regions == ("us-central1", "europe-west4")
    settings = Settings.from_env(
        {
            "MODEL_CATALOG_OVERRIDES": json.dumps(overrides),
            "DEFAULT_SOURCE_MODEL": "gemini-3.9-flash",
        }
    )
    cfg = parse_tuning_yaml(
        b"source_model_name: gemini-3.9-flash\nadapter_size: 2\n",
        source="tuning.yaml",
        base=settings.defaults,
        catalog=settings.catalog,
    )
    assert cfg.source_model_name == "gemini-3.9-flash"
    with pytest.raises(ConfigError, match="adapter_size: 8 is not supported"):
        parse_tuning_yaml(b"adapter_size: 8\n", source="t", base=cfg, catalog=settings.catalog)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "cannot read"),  # not an object and not an existing path
        ('{"gemini-x": 3}', "expected an object of model name"),
        ('{"gemini-x": {"display_name": "no limits"}}', "missing or invalid"),
        (
            '{"gemini-x": {"limits": {"max_tokens_per_example": 1, "max_validation_examples": 1,'
            ' "max_training_file_bytes": 1, "adapter_sizes": [1]},'
            ' "lifecycle": {"retires": "next year"}}}',
            "is not a date",
        ),
    ],
)
def test_bad_overrides_are_clear_errors(value: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        catalog_from_env({"MODEL_CATALOG_OVERRIDES": value})


def test_unlisted_models_only_when_the_deployment_allows_them() -> None:
    with pytest.raises(ConfigError, match="not a tunable Gemini model"):
        parse_tuning_yaml(b"source_model_name: gemini-lab-x\n", source="t", base=TuningConfig())
    open_catalog = load_catalog(allow_unlisted=True)
    cfg = parse_tuning_yaml(
        b"source_model_name: gemini-lab-x\n", source="t", base=TuningConfig(), catalog=open_catalog
    )
    [p] = open_catalog.problems(cfg.source_model_name, location="us-central1", today=today())
    assert (p.severity, p.code) == ("warning", "model_unlisted")


def test_the_seed_adapter_size_names_get_a_number_to_write_instead() -> None:
    for name in ("AdapterSize.SMALL", "MEDIUM"):
        with pytest.raises(ConfigError, match=r"Write 1, 2, 4, 8 or 16"):
            parse_tuning_yaml(f"adapter_size: {name}\n".encode(), source="t", base=TuningConfig())


def test_batch_prices_are_the_cited_discount_off_online_prices() -> None:
    """Vertex batch inference is 50% off real-time (batch_inference source, official)."""
    raw = json.loads((Path(__file__).parents[3] / "shared" / "catalog.json").read_text())
    assert raw["batch"]["discount"] == 0.5
    assert BUILTIN.sources[raw["batch"]["source"]]["official"] is True
    pro = BUILTIN.limits_for("gemini-2.5-pro")
    assert pro is not None
    assert pro.prices(batch=False) == (1.25, 10.0)
    assert pro.prices(batch=True) == (0.625, 5.0)
    # A price nobody published stays unknown at both rates, never a guess.
    flash = BUILTIN.limits_for("gemini-3.5-flash")
    assert flash is not None and flash.prices(batch=True) == (None, None)
    for info in BUILTIN:  # every model names where its inference price comes from
        src = BUILTIN.sources[info.sources["inference_price"]]
        assert src["checked"] == "2026-12-03" and "official" in src


def test_a_model_may_give_its_own_batch_price() -> None:
    cat = load_catalog({"gemini-2.5-pro": {"price_per_million_batch_input_tokens": 0.5}})
    lim = cat.limits_for("gemini-2.5-pro")
    assert lim is not None and lim.prices(batch=True) == (0.5, 5.0)
