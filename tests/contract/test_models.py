"""Contract of `ports.Models`, run against every backend (fixture shape: see test_tuner.py)."""

from __future__ import annotations

import unicodedata
from typing import Any

import pytest

from shared import errors
from shared.ports import Models
from tests.contract.backend_local_sim import local_models  # noqa: F401  (registers it)


def user(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "parts": [{"text": text}]}]


def bigrams(text: str) -> set[str]:
    t = "".join(ch for ch in unicodedata.normalize("NFKC", text).lower() if ch.isalnum())
    return {t[i : i + 2] for i in range(len(t) - 1)}


def close(a: str, b: str) -> bool:
    """Equal up to small edits: character-bigram Dice >= 0.8 (works for Chinese too)."""
    x, y = bigrams(a), bigrams(b)
    return bool(x and y) and 2 * len(x & y) / (len(x) + len(y)) >= 0.8


def test_tuned_model_answers_what_it_learned(models: Any) -> None:
    m, tuned, _base, prompt, answer = models
    got = m.generate(tuned, user(prompt))
    assert close(got.text, answer), got.text


def test_base_model_does_not_know_the_training_answer(models: Any) -> None:
    m, _tuned, base, prompt, answer = models
    got = m.generate(base, user(prompt))
    assert got.text.strip()
    assert not close(got.text, answer), got.text


def test_unknown_tuned_endpoint_is_not_found(models: Any) -> None:
    m, tuned, _base, prompt, _answer = models
    missing = tuned.rsplit("/", 1)[0] + "/9999999999"
    with pytest.raises(errors.NotFound):
        m.generate(missing, user(prompt))


def test_count_tokens_is_positive_and_grows_with_length(models: Any) -> None:
    m: Models = models[0]
    base = models[2]
    for text in ("你好，我的账号登录不上了", "My account cannot sign in"):
        short = m.count_tokens(base, user(text))
        longer = m.count_tokens(base, user(text * 10))
        assert 0 < short < longer
