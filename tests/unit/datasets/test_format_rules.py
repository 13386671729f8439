"""One minimal bad input per rule: the right code, line and path, and a message with a fix."""

from __future__ import annotations

import gzip
from typing import Any

import pytest

from shared.datasets import CODES

from .helpers import example, found, jsonl, line, turn, validate

GOOD = example()

LINE_RULES: list[tuple[str, bytes | dict[str, Any] | list[Any], str]] = [
    ("invalid_json", b'{"contents": [', ""),
    ("invalid_json", b'{"contents": NaN}', ""),
    ("invalid_json", b'{"contents": []} {"contents": []}', ""),
    ("invalid_json", b'{"contents": [{"role": "user", "parts": [{"text": "a\x01b"}]}]}', ""),
    ("invalid_json", b'{"contents": [{"role": "user", "parts": [{"text": "\\ud800"}]}]}', ""),
    ("invalid_json", b'{"contents": [{"role": "user", "parts": [{"text": "\\udc00x"}]}]}', ""),
    ("not_an_object", [GOOD], ""),
    ("legacy_messages_format", {"messages": [{"role": "user", "content": "hi"}]}, "messages"),
    ("missing_contents", {"systemInstruction": {"parts": [{"text": "x"}]}}, "contents"),
    ("missing_contents", {"contents": []}, "contents"),
    ("invalid_turn", {"contents": ["hello", turn("model", "hi")]}, "contents[0]"),
    (
        "unknown_role",
        {"contents": [turn("assistant", "q"), turn("model", "a")]},
        "contents[0].role",
    ),
    (
        "missing_parts",
        {"contents": [{"role": "user", "parts": []}, turn("model", "a")]},
        "contents[0].parts",
    ),
    ("missing_parts", {"contents": [{"role": "user"}, turn("model", "a")]}, "contents[0].parts"),
    (
        "invalid_part",
        {"contents": [{"role": "user", "parts": ["q"]}, turn("model", "a")]},
        "contents[0].parts[0]",
    ),
    (
        "part_without_data",
        {"contents": [{"role": "user", "parts": [{}]}, turn("model", "a")]},
        "contents[0].parts[0]",
    ),
    (
        "part_with_several_data_fields",
        {
            "contents": [
                {"role": "user", "parts": [{"text": "q", "functionCall": {"name": "f"}}]},
                turn("model", "a"),
            ]
        },
        "contents[0].parts[0]",
    ),
    (
        "text_not_string",
        {"contents": [{"role": "user", "parts": [{"text": 5}]}, turn("model", "a")]},
        "contents[0].parts[0].text",
    ),
    (
        "empty_text",
        {"contents": [turn("user", ""), turn("model", "answer")]},
        "contents[0].parts[0].text",
    ),
    (
        "inline_data_not_supported",
        {
            "contents": [
                {
                    "role": "user",
                    "parts": [{"inlineData": {"mimeType": "image/png", "data": "AA=="}}],
                },
                turn("model", "a cat"),
            ]
        },
        "contents[0].parts[0]",
    ),
    (
        "file_data_missing_field",
        {
            "contents": [
                {"role": "user", "parts": [{"fileData": {"fileUri": "gs://b/x.png"}}]},
                turn("model", "a cat"),
            ]
        },
        "contents[0].parts[0].fileData.mimeType",
    ),
    (
        "file_data_missing_field",
        {
            "contents": [
                {"role": "user", "parts": [{"fileData": {"mimeType": "image/png"}}]},
                turn("model", "a cat"),
            ]
        },
        "contents[0].parts[0].fileData.fileUri",
    ),
    (
        "unsupported_file_uri",
        {
            "contents": [
                {
                    "role": "user",
                    "parts": [{"fileData": {"mimeType": "image/png", "fileUri": "/home/me/x.png"}}],
                },
                turn("model", "a cat"),
            ]
        },
        "contents[0].parts[0].fileData.fileUri",
    ),
    (
        "unsupported_mime_type",
        {
            "contents": [
                {
                    "role": "user",
                    "parts": [{"fileData": {"mimeType": "image/bmp", "fileUri": "gs://b/x.bmp"}}],
                },
                turn("model", "a cat"),
            ]
        },
        "contents[0].parts[0].fileData.mimeType",
    ),
    (
        "consecutive_turns",
        {"contents": [turn("user", "a"), turn("user", "b"), turn("model", "answer")]},
        "contents[1]",
    ),
    ("no_model_turn", {"contents": [turn("user", "hello")]}, "contents"),
    (
        "invalid_system_instruction",
        {
            "systemInstruction": {
                "parts": [{"fileData": {"mimeType": "image/png", "fileUri": "gs://b/x.png"}}]
            },
            **GOOD,
        },
        "systemInstruction.parts[0]",
    ),
    ("invalid_system_instruction", {"system_instruction": "be nice", **GOOD}, "system_instruction"),
    (
        "invalid_system_instruction",
        {
            "systemInstruction": {"parts": [{"text": "a"}]},
            "system_instruction": {"parts": [{"text": "b"}]},
            **GOOD,
        },
        "system_instruction",
    ),
    (
        "invalid_function_call",
        {
            "contents": [
                turn("user", "weather?"),
                {"role": "model", "parts": [{"functionCall": {"args": {}}}]},
            ]
        },
        "contents[1].parts[0].functionCall",
    ),
    ("invalid_tools", {"tools": {"functionDeclarations": []}, **GOOD}, "tools"),
    (
        "too_many_media",
        {
            "contents": [
                {
                    "role": "user",
                    "parts": [
                        {"fileData": {"mimeType": "image/png", "fileUri": f"gs://b/{i}.png"}}
                        for i in range(31)
                    ],
                },
                turn("model", "31 cats"),
            ]
        },
        "contents",
    ),
]


@pytest.mark.parametrize(
    ("code", "bad", "path"), LINE_RULES, ids=[f"{c}-{i}" for i, (c, _, _) in enumerate(LINE_RULES)]
)
def test_line_rule_reports_code_line_and_path(code: str, bad: Any, path: str) -> None:
    report = validate(jsonl(GOOD, bad, example(("other", "answer"))))
    assert CODES[code] == "error"
    assert not report.valid
    assert (2, path) in found(report)[code], report.to_dict()["errors"]
    assert report.counts[code] == 1
    assert report.stats["examples"] == 2  # the two good lines still count
    msg = next(f.message for f in report.errors if f.code == code)
    assert msg.endswith(".") and len(msg) > 30


WARNING_RULES: list[tuple[str, Any, str]] = [
    (
        "trailing_user_turn",
        {"contents": [turn("user", "q"), turn("model", "a!!"), turn("user", "thanks")]},
        "contents[2]",
    ),
    ("unknown_key", {**GOOD, "metadata": {"id": 1}}, "metadata"),
    (
        "unknown_key",
        {
            "contents": [
                {"role": "user", "parts": [{"text": "q", "lang": "en"}]},
                turn("model", "answer"),
            ]
        },
        "contents[0].parts[0].lang",
    ),
    ("short_model_answer", example(("Is the server down?", "No")), "contents[1]"),
    (
        "missing_role",
        {"contents": [{"parts": [{"text": "q"}]}, turn("model", "answer")]},
        "contents[0].role",
    ),
]


def test_a_function_response_turn_without_a_role_is_valid() -> None:
    """The function-calling tuning example carries the response in a turn with no role."""
    call = {"role": "model", "parts": [{"functionCall": {"name": "order", "args": {"id": "7"}}}]}
    response = {"parts": [{"functionResponse": {"name": "order", "response": {"ok": True}}}]}
    question, answer = turn("user", "where is order 7?"), turn("model", "shipped")
    obj = {"contents": [question, call, response, answer]}
    report = validate(jsonl(GOOD, obj))
    assert report.valid and "missing_role" not in report.counts, report.to_dict()["warnings"]


@pytest.mark.parametrize(("code", "obj", "path"), WARNING_RULES, ids=[w[0] for w in WARNING_RULES])
def test_warnings_keep_the_dataset_valid(code: str, obj: Any, path: str) -> None:
    report = validate(jsonl(GOOD, obj))
    assert CODES[code] == "warning"
    assert report.valid, report.to_dict()["errors"]
    assert (2, path) in found(report)[code]
    assert report.stats["examples"] == 2


def test_blank_line_is_a_warning_and_skipped() -> None:
    report = validate(jsonl(GOOD, b"   ", example(("x?", "yes it is"))))
    assert report.valid
    assert found(report)["blank_line"] == [(2, "")]


def test_invalid_json_message_gives_column() -> None:
    report = validate(jsonl(b'{"contents": [1, NaN]}'))
    (f,) = [f for f in report.errors if f.code == "invalid_json"]
    assert "column 18" in f.message and "NaN" in f.message


def test_example_over_token_limit() -> None:
    big = example(("请" * 150_000, "好的，我来处理。"))
    report = validate(jsonl(GOOD, big), model="gemini-3.5-flash")
    assert found(report)["too_many_tokens"] == [(2, "")]
    assert not report.valid


# -- file level -----------------------------------------------------------------------------


def test_empty_file() -> None:
    report = validate(b"")
    assert not report.valid
    assert found(report) == {"empty_file": [(None, "")]}


def test_utf8_bom_reported_and_rest_still_validated() -> None:
    report = validate(b"\xef\xbb\xbf" + jsonl(GOOD, {"contents": []}))
    assert found(report)["utf8_bom"] == [(1, "")]
    assert found(report)["missing_contents"] == [(2, "contents")]
    assert report.stats["examples"] == 1


def test_not_utf8_gives_line_and_byte_offset() -> None:
    first = jsonl(GOOD)
    bad = '{"contents": [{"role": "user", "parts": [{"text": "你好"}]}]}'.encode("gbk")
    report = validate(first + bad + b"\n")
    (f,) = [f for f in report.errors if f.code == "not_utf8"]
    assert f.line == 2
    offset = len(first) + bad.index(b'"text": "') + len(b'"text": "')
    assert f"byte offset {offset:,}" in f.message and "UTF-8" in f.message


@pytest.mark.parametrize(
    ("data", "code", "words"),
    [
        (gzip.compress(jsonl(GOOD)), "compressed_file", "gunzip"),
        (b"PK\x03\x04" + b"\x00" * 40, "compressed_file", "ZIP"),
        (b"PAR1" + b"\x00" * 40, "binary_file", "Parquet"),
        (b"\x01\x02\x00\x00\xff" * 10, "binary_file", "binary"),
        (jsonl(GOOD).decode().encode("utf-16"), "not_utf8", "UTF-16"),
    ],
)
def test_compressed_or_binary_file_says_what_to_do(data: bytes, code: str, words: str) -> None:
    report = validate(data)
    assert list(report.counts) == [code]
    assert words in report.errors[0].message


def test_json_array_file_hint() -> None:
    report = validate(b"[" + line(GOOD) + b"]\n")
    assert "not_jsonl" in report.counts and "not_an_object" in report.counts


def test_file_over_model_size_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    from shared.catalog import BUILTIN, with_limits

    small = with_limits(BUILTIN.models["gemini-3.5-flash"], max_training_file_bytes=1000)
    monkeypatch.setitem(BUILTIN.models, "gemini-3.5-flash", small)
    report = validate(jsonl(*[example((f"q{i}", "answer")) for i in range(30)]))
    assert found(report)["file_too_large"] == [(None, "")]


def test_too_many_validation_examples(monkeypatch: pytest.MonkeyPatch) -> None:
    from shared.catalog import BUILTIN, with_limits

    small = with_limits(BUILTIN.models["gemini-3.5-flash"], max_validation_examples=3)
    monkeypatch.setitem(BUILTIN.models, "gemini-3.5-flash", small)
    val = jsonl(*[example((f"v{i}", "answer")) for i in range(4)])
    report = validate(jsonl(GOOD), validation=val, names={"validation": "val.jsonl"})
    assert [(f.file, f.line) for f in report.errors] == [("val.jsonl", None)]
    assert report.errors[0].code == "too_many_validation_examples"


def test_no_valid_example_at_all() -> None:
    report = validate(jsonl({"contents": []}, b"{"))
    assert "no_valid_examples" in report.counts


def test_overlong_line_is_skipped_with_bounded_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    from shared.datasets import lines

    monkeypatch.setattr(lines, "MAX_LINE_BYTES", 1000)
    monkeypatch.setattr(lines, "HEAD_BYTES", 100)
    monkeypatch.setattr(lines, "CHUNK_BYTES", 100)
    data = jsonl(GOOD, b"x" * 5000, example(("after", "the long line")))
    import io

    from shared.datasets import validate_dataset

    report = validate_dataset(io.BytesIO(data))
    assert found(report)["line_too_long"] == [(2, "")]
    assert report.stats["examples"] == 2


# -- dataset level --------------------------------------------------------------------------


def test_duplicates_and_overlap() -> None:
    a, b = example(("a?", "answer a")), example(("b?", "answer b"))
    report = validate(
        jsonl(a, b, a, a), validation=jsonl(b, example(("c?", "answer c"))), test=jsonl(a)
    )
    f = found(report)
    assert f["duplicate_example"] == [(3, ""), (4, "")]
    assert report.counts["duplicate_example"] == 2
    assert f["train_validation_overlap"] == [(1, "")]
    assert f["train_test_overlap"] == [(1, "")]
    assert report.valid


def test_a_duplicate_is_found_whatever_chunk_boundary_it_straddles(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A line a chunk completes is `bytes`, the lines inside a chunk are StringZilla views: the
    same example must hash alike either way (across chunk sizes, both kinds are met)."""
    import io

    from shared.datasets import lines, validate_dataset

    rows = [example((f"question {i}", f"answer number {i}")) for i in range(12)]
    data = jsonl(*rows, rows[3])  # line 13 repeats line 4
    kinds = set()
    for chunk in range(60, 400, 23):
        monkeypatch.setattr(lines, "HEAD_BYTES", chunk)
        monkeypatch.setattr(lines, "CHUNK_BYTES", chunk)
        got = {}
        stream = io.BytesIO(data)
        head = stream.read(chunk)
        for item in lines.iter_batches(stream, head, 0):
            if isinstance(item, lines.Batch):
                for i, raw in enumerate(item.lines, item.first_line):
                    got[i] = type(raw)
        kinds.add((got[4], got[13]))
        report = validate_dataset(io.BytesIO(data))
        assert found(report)["duplicate_example"] == [(13, "")], chunk
    assert len({k for pair in kinds for k in pair}) == 2  # bytes and views were both met
    assert any(a is not b for a, b in kinds)  # ... and compared with each other


def test_system_instruction_on_some_rows_only() -> None:
    si = {"parts": [{"text": "You are a support agent."}]}
    report = validate(jsonl(example(systemInstruction=si), GOOD))
    assert "inconsistent_system_instruction" in report.counts
    assert report.valid


def test_validation_set_over_30_percent_of_training_above_1000_examples() -> None:
    """The documented rule: at most 5,000 validation examples, or 30% of the training examples
    when there are more than 1,000 validation examples."""
    train = jsonl(*[example((f"t{i}", "answer")) for i in range(3000)])
    val_ok = jsonl(*[example((f"v{i}", "answer")) for i in range(900)])  # 30% exactly
    val_big = jsonl(*[example((f"w{i}", "answer")) for i in range(1001)])
    assert "too_many_validation_examples" not in validate(train, validation=val_ok).counts
    report = validate(train, validation=val_big, names={"validation": "val.jsonl"})
    assert report.counts["too_many_validation_examples"] == 1
    assert "30% of the training examples (900)" in report.errors[0].message
    small_train = jsonl(*[example((f"s{i}", "answer")) for i in range(100)])
    few_val = jsonl(*[example((f"x{i}", "answer")) for i in range(1000)])  # <= 1000: no rule
    assert "too_many_validation_examples" not in validate(small_train, validation=few_val).counts
