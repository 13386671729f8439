"""`evaluation.auto_promote` in tuning.yaml: off by default, strict, and only with gates."""

from __future__ import annotations

import pytest

from shared.errors import ConfigError
from shared.tuning_config import TuningConfig, parse_tuning_yaml


def parse(text: str) -> TuningConfig:
    return parse_tuning_yaml(text.encode(), source="tuning.yaml", base=TuningConfig())


def test_auto_promote_is_off_by_default_and_kept_on_the_config() -> None:
    assert TuningConfig().evaluation.auto_promote is False
    c = parse("evaluation: {auto_promote: true, gates: {chrf: {min_delta: 0.05}}}\n")
    assert c.evaluation.auto_promote is True
    assert c.to_dict()["evaluation"]["auto_promote"] is True


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("evaluation: {auto_promote: yes please}\n", "evaluation.auto_promote: expected true"),
        ("evaluation: {auto_promote: true}\n", "needs at least one gate"),
        (
            "evaluation: {enabled: false, auto_promote: true, gates: {chrf: {min: 0.1}}}\n",
            "needs the evaluation, which is disabled",
        ),
    ],
)
def test_bad_auto_promote_names_the_key_and_the_fix(text: str, needle: str) -> None:
    with pytest.raises(ConfigError) as e:
        parse(text)
    assert needle in e.value.message and e.value.message.startswith("tuning.yaml")
