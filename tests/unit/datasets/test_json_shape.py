"""Lines the decoders cannot judge alone: nesting deeper than any example (a traceback before)
and keys given twice (silently last-wins before) are findings on their line (issue 17)."""

from __future__ import annotations

import json

from .helpers import example, found, jsonl, validate


def test_deep_nesting_is_one_finding_on_its_line() -> None:
    deep = b'{"contents": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    report = validate(jsonl(example(), deep, example(("q2", "a second answer"))))
    assert found(report)["json_too_deep"] == [(2, "")]
    assert [e.code for e in report.errors] == ["json_too_deep"]


def test_deep_nesting_inside_a_string_is_just_text() -> None:
    text = "[" * 5000 + "{" * 5000
    report = validate(jsonl(example((text, "an answer"))))
    assert report.valid, found(report)


def test_a_role_given_twice_is_a_finding_not_a_model_turn() -> None:
    dup = (
        b'{"contents": [{"role": "user", "role": "model", "parts": [{"text": "hi"}]}, '
        b'{"role": "model", "parts": [{"text": "hello there"}]}]}'
    )
    report = validate(jsonl(example(), dup))
    assert found(report)["duplicate_key"] == [(2, "")]
    assert "role" in report.errors[0].message and "twice" in report.errors[0].message


def test_a_duplicate_key_on_a_line_the_fast_path_accepts_is_found() -> None:
    """Both values are valid text: the fast decoder alone would keep the last one."""
    dup = (
        b'{"contents": [{"role": "user", "parts": [{"text": "first", "text": "second"}]}, '
        b'{"role": "model", "parts": [{"text": "an answer"}]}]}'
    )
    report = validate(jsonl(example(), dup))
    assert found(report)["duplicate_key"] == [(2, "")]


def test_unusual_spacing_and_quoted_colons_stay_valid() -> None:
    spaced = json.dumps(example(('he said "hi": ok', 'a "b": c')), separators=(" , ", " : "))
    with_system = example(systemInstruction={"role": "system", "parts": [{"text": 'x": y'}]})
    report = validate(jsonl(spaced.encode(), with_system, example()))
    assert report.valid, found(report)
