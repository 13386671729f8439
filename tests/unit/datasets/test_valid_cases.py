"""Valid edge cases that must pass, stats and estimate, and chunking that changes nothing."""

from __future__ import annotations

import io
import json

import pytest

from shared.datasets import iter_examples, validate_dataset

from .helpers import example, found, jsonl, turn, validate

FUNCTION_CALLING = {
    "contents": [
        turn("user", "What's the weather in Paris?"),
        {
            "role": "model",
            "parts": [{"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}}],
        },
        {
            "role": "user",
            "parts": [{"functionResponse": {"name": "get_weather", "response": {"temp_c": 21}}}],
        },
        turn("model", "It is 21 °C in Paris."),
    ],
    "tools": [{"functionDeclarations": [{"name": "get_weather", "parameters": {}}]}],
}
SNAKE_SYSTEM = {
    "system_instruction": {"role": "system", "parts": [{"text": "Be brief."}]},
    **example(),
}
MULTIMODAL = {
    "contents": [
        {
            "role": "user",
            "parts": [
                {"fileData": {"mimeType": "image/jpeg", "fileUri": "gs://bucket/cat.jpg"}},
                {"file_data": {"mime_type": "application/pdf", "file_uri": "https://x.org/a.pdf"}},
                {"text": "What is in the picture?"},
            ],
        },
        turn("model", "A cat on a sofa."),
    ]
}
EMOJI = {
    "contents": [
        turn("user", 'Tab\there, "quotes", \\ back, 😀 and 中文'),
        turn("model", "收到 👍 \u2028 ok"),
    ]
}


@pytest.mark.parametrize(
    "ex",
    [FUNCTION_CALLING, SNAKE_SYSTEM, MULTIMODAL, EMOJI],
    ids=["function_calling", "snake_system", "multimodal", "emoji"],
)
@pytest.mark.parametrize("ascii_only", [False, True])
def test_valid_variants_pass(ex: dict[str, object], ascii_only: bool) -> None:
    data = (json.dumps(ex, ensure_ascii=ascii_only) + "\n").encode()
    report = validate(data)
    assert report.valid, report.to_dict()["errors"]
    assert report.counts == {}
    assert report.stats["examples"] == 1


def test_crlf_and_no_final_newline() -> None:
    data = jsonl(example(("a?", "yes a")), example(("b?", "yes b")), end=b"").replace(
        b"\n", b"\r\n"
    )
    report = validate(data)
    assert report.valid and report.counts == {}
    assert report.stats["examples"] == 2
    assert report.stats["files"]["train"]["lines"] == 2


def test_multimodal_counts() -> None:
    report = validate(jsonl(MULTIMODAL, example()))
    mm = report.stats["multimodal"]
    assert (mm["examples"], mm["images"], mm["pdf"]) == (1, 1, 1)


def test_stats_and_estimate() -> None:
    zh = example(("我的账号登录不了，怎么办？", "请提供您的角色ID，我来帮您查询。"))
    en = example(("My account is locked, what now?", "Please send me your player ID."))
    report = validate(jsonl(zh, en, en), epochs=4, model="gemini-2.5-flash")  # has a price
    st, est = report.stats, report.estimate
    assert st["examples"] == 3
    tok = st["estimated_tokens"]
    assert tok["total"] == sum(f["estimated_tokens"] for f in st["files"].values())
    assert tok["max"] >= tok["p95"] >= tok["p50"] >= tok["p5"] > 0
    # Chinese: ~1 token per character, not a quarter of one.
    zh_chars = len("我的账号登录不了，怎么办？请提供您的角色ID，我来帮您查询。")
    assert tok["max"] >= 0.7 * zh_chars
    assert 0 < st["cjk_share"] < 1
    assert est["billable_tokens"] == 4 * tok["total"]
    assert est["cost_usd"] == pytest.approx(est["billable_tokens"] / 1e6 * 5.0, abs=1e-4)
    assert st["turns_per_example"]["max"] == 2


def test_unknown_model_is_a_usage_error() -> None:
    with pytest.raises(ValueError, match="Unknown model"):
        validate(jsonl(example()), model="gpt-4")


@pytest.mark.parametrize("chunk", [7, 64, 1 << 20])
def test_chunk_size_does_not_change_the_report(chunk: int, monkeypatch: pytest.MonkeyPatch) -> None:
    from shared.datasets import lines

    data = b"\xef\xbb\xbf" + jsonl(
        example(("第一", "第一个答案")),
        b"{bad",
        example(("x", "yy")),
        example(("第一", "第一个答案")),
        {"contents": [turn("user", "a"), turn("user", "b"), turn("model", "c!!")]},
        end=b"",
    )
    baseline = validate(data).to_dict()
    monkeypatch.setattr(lines, "HEAD_BYTES", chunk)
    monkeypatch.setattr(lines, "CHUNK_BYTES", chunk)
    assert validate(data).to_dict() == baseline
    assert found(validate(data))["consecutive_turns"] == [(5, "contents[1]")]


def test_input_is_not_modified_and_progress_reaches_total() -> None:
    data = jsonl(example(), example(("q", "answer two")))
    stream = io.BytesIO(data)
    seen: list[int] = []
    validate_dataset(stream, progress=seen.append)
    assert stream.getvalue() == data
    assert seen and seen[-1] == len(data) and seen == sorted(seen)


def test_iter_examples_yields_valid_lines_only() -> None:
    data = jsonl(example(("a", "aaa")), b"{oops", {"contents": []}, FUNCTION_CALLING)
    got = list(iter_examples(io.BytesIO(data)))
    assert [ln for ln, _ in got] == [1, 4]
    assert got[1][1] == FUNCTION_CALLING


def test_epochs_left_unset_give_a_range_with_its_source_not_one_guess() -> None:
    from shared.catalog import BUILTIN

    span = BUILTIN.epochs_when_unset
    assert span is not None and span.source in BUILTIN.sources and not span.documented
    zh = example(("我的账号登录不了，怎么办？", "请提供您的角色ID，我来帮您查询。"))
    report = validate(jsonl(zh, zh), model="gemini-2.5-flash")  # epoch unset
    est, tokens = report.estimate, report.stats["estimated_tokens"]["total"]
    assert est["epochs"] is None and est["epochs_range"] == [span.low, span.high]
    assert est["billable_tokens_range"] == [span.low * tokens, span.high * tokens]
    assert est["billable_tokens"] == span.high * tokens  # what the budget guard counts
    low, high = est["cost_usd_range"]
    assert low == pytest.approx(span.low * tokens / 1e6 * 5.0, abs=1e-4) and high > low
    assert "rule of thumb" in est["note"] and "Google documents no range" in est["note"]
    assert report.summary()["billable_tokens_range"] == est["billable_tokens_range"]
    fixed = validate(jsonl(zh, zh), epochs=2, model="gemini-2.5-flash").estimate
    assert fixed["epochs"] == 2 and "epochs_range" not in fixed
