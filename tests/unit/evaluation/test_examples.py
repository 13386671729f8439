"""Prompt/reference extraction from Vertex `contents` lines, and the seeded sample."""

from __future__ import annotations

from typing import Any

import pytest

from shared.evaluation.examples import (
    SKIP_NO_CONTENTS,
    SKIP_NO_MODEL_TURN,
    SKIP_NO_PROMPT,
    SKIP_NO_REFERENCE_TEXT,
    SKIP_NOT_OBJECT,
    SKIP_REASONS,
    EvalExample,
    extract,
    sample,
)

from .fakes import example


def _ok(raw: Any) -> EvalExample:
    ex = extract(raw, 0)
    assert isinstance(ex, EvalExample), ex
    return ex


def test_single_turn() -> None:
    ex = _ok(example("怎么领取奖励？", "请重新登录游戏。"))
    assert ex.reference == "请重新登录游戏。"
    assert ex.prompt_text == "怎么领取奖励？"
    assert [t["role"] for t in ex.contents] == ["user"]
    assert ex.system_instruction is None


def test_multi_turn_uses_everything_before_the_last_model_turn_and_joins_its_text_parts() -> None:
    raw = {
        "contents": [
            {"role": "user", "parts": [{"text": "Hi"}]},
            {"role": "model", "parts": [{"text": "Hello! How can I help?"}]},
            {"role": "user", "parts": [{"text": "My order "}, {"text": "is late."}]},
            {"role": "model", "parts": [{"text": "Sorry about that. "}, {"text": "Order id?"}]},
        ]
    }
    ex = _ok(raw)
    assert ex.reference == "Sorry about that. Order id?"
    assert ex.prompt_text == "My order is late."
    assert list(ex.contents) == raw["contents"][:3]


def test_function_call_turns_stay_in_the_prompt() -> None:
    call = {"functionCall": {"name": "order_status", "args": {"id": "42"}}}
    response = {"functionResponse": {"name": "order_status", "response": {"state": "shipped"}}}
    raw = {
        "contents": [
            {"role": "user", "parts": [{"text": "Where is order 42?"}]},
            {"role": "model", "parts": [call]},
            {"role": "user", "parts": [response]},
            {"role": "model", "parts": [{"text": "Order 42 has shipped."}]},
        ]
    }
    ex = _ok(raw)
    assert ex.reference == "Order 42 has shipped."
    assert ex.prompt_text == "Where is order 42?"
    assert ex.contents[1]["parts"] == [call]
    assert ex.contents[2]["parts"] == [response]


def test_last_model_turn_that_is_only_a_function_call_is_skipped() -> None:
    raw = {
        "contents": [
            {"role": "user", "parts": [{"text": "Where is order 42?"}]},
            {"role": "model", "parts": [{"functionCall": {"name": "order_status", "args": {}}}]},
        ]
    }
    assert extract(raw, 0) == SKIP_NO_REFERENCE_TEXT


@pytest.mark.parametrize("key", ["systemInstruction", "system_instruction"])
def test_system_instruction_in_both_spellings(key: str) -> None:
    si = {"role": "system", "parts": [{"text": "你是游戏客服。"}]}
    assert _ok(example("你好", "您好！", **{key: si})).system_instruction == si


def test_unset_roles_alternate_user_then_model() -> None:
    raw = {"contents": [{"parts": [{"text": "2+2?"}]}, {"parts": [{"text": "4"}]}]}
    ex = _ok(raw)
    assert ex.reference == "4"
    assert ex.contents == ({"role": "user", "parts": [{"text": "2+2?"}]},)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ([1, 2], SKIP_NOT_OBJECT),
        ({"messages": [{"role": "user", "content": "hi"}]}, SKIP_NO_CONTENTS),
        ({"contents": []}, SKIP_NO_CONTENTS),
        ({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}, SKIP_NO_MODEL_TURN),
        ({"contents": [{"role": "model", "parts": [{"text": "hi"}]}]}, SKIP_NO_PROMPT),
        (example("q", "   "), SKIP_NO_REFERENCE_TEXT),
    ],
)
def test_unusable_examples_give_a_reason(raw: Any, reason: str) -> None:
    assert extract(raw, 0) == reason
    assert SKIP_REASONS[reason]


def _lines(n: int) -> list[dict[str, Any]]:
    return [example(f"q{i}", f"a{i}") for i in range(n)]


def test_sample_is_deterministic_per_seed_in_input_order_and_reads_a_generator_once() -> None:
    a = sample((x for x in _lines(200)), size=20, seed="run-1")
    b = sample(_lines(200), size=20, seed="run-1")
    c = sample(_lines(200), size=20, seed="run-2")
    picked = [e.index for e in a.examples]
    assert picked == [e.index for e in b.examples]
    assert picked == sorted(picked) and len(set(picked)) == 20
    assert picked != [e.index for e in c.examples]
    assert a.seen == 200
    assert all(e.reference == f"a{e.index}" for e in a.examples)


def test_sample_keeps_its_choice_when_unrelated_lines_are_appended() -> None:
    """Selection depends on (seed, position) only: no global shuffle that reorders everything."""
    small = {e.index for e in sample(_lines(100), size=10, seed="s").examples}
    large = {e.index for e in sample(_lines(1000), size=10, seed="s").examples}
    assert {i for i in large if i < 100} <= small


def test_skipped_lines_are_counted_and_do_not_take_sample_slots() -> None:
    lines: list[Any] = [*_lines(5), {"contents": []}, "nope", example("q", "")]
    out = sample(lines, size=5, seed="x")
    assert [e.index for e in out.examples] == [0, 1, 2, 3, 4]
    assert out.skipped == {SKIP_NO_CONTENTS: 1, SKIP_NOT_OBJECT: 1, SKIP_NO_REFERENCE_TEXT: 1}
    assert out.seen == 8


def test_sample_size_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        sample([], size=0, seed="x")


def test_the_judge_sees_the_whole_conversation() -> None:
    from shared.evaluation.examples import EvalExample, extract

    ex = extract(
        {
            "systemInstruction": {"parts": [{"text": "你是客服。"}]},
            "contents": [
                {"role": "user", "parts": [{"text": "充值没到账"}]},
                {"role": "model", "parts": [{"text": "请提供订单号。"}]},
                {"role": "user", "parts": [{"text": "订单号是123"}]},
                {"role": "model", "parts": [{"text": "已为您补发。"}]},
            ],
        },
        0,
    )
    assert isinstance(ex, EvalExample)
    assert ex.conversation_text().splitlines() == [
        "system: 你是客服。",
        "user: 充值没到账",
        "model: 请提供订单号。",
        "user: 订单号是123",
    ]
    assert ex.prompt_text == "订单号是123"
