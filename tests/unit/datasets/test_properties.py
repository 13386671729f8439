"""Property tests: random valid files pass; one corrupted line is reported on that line; a file
repeating one mistake gives a bounded report with full counts."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from .helpers import example, jsonl, turn, validate

# Any Unicode text without lone surrogates (those are not valid text).
texts = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",)), min_size=3, max_size=40
).filter(lambda s: s.strip() != "")


@st.composite
def valid_examples(draw: st.DrawFn) -> dict[str, Any]:
    n = draw(st.integers(1, 4))
    contents = []
    for _ in range(n):
        contents += [turn("user", draw(texts)), turn("model", draw(texts))]
    ex: dict[str, Any] = {"contents": contents}
    return ex


files = st.lists(valid_examples(), min_size=1, max_size=12)
CONTENT_WARNINGS = {
    "language_mismatch",
    "near_duplicate_examples",
    "answer_length_outlier",
    "personal_data",
}


@settings(max_examples=40, deadline=None)
@given(files, st.booleans(), st.sampled_from([b"\n", b"\r\n"]))
def test_random_valid_files_pass(exs: list[dict[str, Any]], ascii_only: bool, nl: bytes) -> None:
    data = nl.join(json.dumps(e, ensure_ascii=ascii_only).encode() for e in exs) + nl
    report = validate(data)
    assert report.valid, report.to_dict()["errors"]
    # Random text may well answer in another script, repeat itself or be oddly long: those
    # content warnings are expected; nothing about the format may be reported.
    assert set(report.counts) <= {"duplicate_example"} | CONTENT_WARNINGS
    assert report.stats["examples"] == len(exs)


CORRUPTIONS = [
    lambda b: b[:-1],  # truncated
    lambda b: b + b" x",  # trailing data
    lambda b: b.replace(b'"model"', b'"assistant"', 1),  # unknown role
    lambda b: b.replace(b'"contents"', b'"content"', 1),  # missing contents
    lambda b: b + b"\xff",  # not UTF-8
    lambda b: b.replace(b"[", b"[NaN,", 1),
]


@settings(max_examples=40, deadline=None)
@given(files, st.data())
def test_one_corrupted_line_is_reported_on_that_line(
    exs: list[dict[str, Any]], data: st.DataObject
) -> None:
    i = data.draw(st.integers(0, len(exs) - 1))
    corrupt = data.draw(st.sampled_from(CORRUPTIONS))
    lines = [json.dumps(e, ensure_ascii=False).encode() for e in exs]
    lines[i] = corrupt(lines[i])
    report = validate(b"\n".join(lines) + b"\n")
    assert not report.valid
    assert {f.line for f in report.errors} - {None} == {i + 1}
    assert report.stats["examples"] == len(exs) - 1


def test_repeated_mistake_gives_a_bounded_report() -> None:
    bad = {"contents": [turn("user", "q"), turn("assistant", "a")]}
    n = 50_000
    data = jsonl(example(), *([bad] * n))
    report = validate(data, max_findings_per_code=5)
    assert report.counts["unknown_role"] == n
    assert len(report.errors) == 5
    assert [f.line for f in report.errors] == [2, 3, 4, 5, 6]
    assert len(json.dumps(report.to_dict())) < 10_000
