"""Property tests: random valid files pass; one corrupted line is reported on that line; a file
repeating one mistake gives a bounded report with full counts."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from shared.datasets.findings import CODES

from .helpers import example, jsonl, turn, validate

# Any Unicode text without lone surrogates (those are not valid text).
texts = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",)),  # type: ignore[arg-type]
    min_size=3,
    max_size=40,
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


# ---- totality (issue 17): mutated valid files never raise, every rejection is explained ----

_SEED = jsonl(
    example(("How do I reset my password?", "Open Settings > Account > Reset.")),
    example(
        ("充值了648元宝但是没到账怎么办？", "请提供订单号和角色ID，我们会在24小时内为您补发。")
    ),
    example(systemInstruction={"parts": [{"text": "You are a support agent."}]}),
)


@st.composite
def byte_mutations(draw: st.DrawFn) -> bytes:
    """The seed file with a few bytes flipped, inserted, deleted or a span repeated."""
    data = bytearray(_SEED)
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(data)))
        kind = draw(st.sampled_from(["flip", "insert", "delete", "repeat", "nest"]))
        if kind == "flip" and at < len(data):
            data[at] = draw(st.integers(0, 255))
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif kind == "delete":
            del data[at : at + draw(st.integers(1, 16))]
        elif kind == "repeat":
            data[at:at] = data[at : at + draw(st.integers(1, 32))] * draw(st.integers(2, 50))
        else:
            depth = draw(st.sampled_from([2, 70, 3000, 100_000]))
            data[at:at] = b"[" * depth + b"]" * draw(st.sampled_from([0, depth]))
    return bytes(data)


_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | texts,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
    max_leaves=8,
)


@st.composite
def json_mutations(draw: st.DrawFn) -> bytes:
    """A valid example with one node replaced, a key removed or duplicated, or an unknown key."""
    ex = example(("q1", "a first answer"), ("q2", "a second answer"))
    paths: list[tuple[Any, Any]] = [(ex, "contents")]
    for i, t in enumerate(ex["contents"]):
        paths += [(ex["contents"], i), (t, "role"), (t, "parts"), (t["parts"][0], "text")]
    parent, key = draw(st.sampled_from(paths))
    kind = draw(st.sampled_from(["replace", "remove", "duplicate", "unknown"]))
    raw = json.dumps(ex, ensure_ascii=False)
    if kind == "replace":
        parent[key] = draw(_JSON_VALUES)
    elif kind == "remove" and isinstance(parent, dict):
        del parent[key]
    elif kind == "unknown" and isinstance(parent, dict):
        parent[draw(texts)] = draw(_JSON_VALUES)
    if kind == "duplicate" and isinstance(parent, dict):
        field = json.dumps(key)
        raw = raw.replace(f"{field}: ", f"{field}: {json.dumps(draw(_JSON_VALUES))}, {field}: ", 1)
    else:
        raw = json.dumps(ex, ensure_ascii=False)
    return jsonl(example(), raw.encode())


def _explained(data: bytes) -> None:
    report = validate(data)  # must not raise
    for f in report.errors + report.warnings:
        assert f.code and f.message, f
        assert f.line is not None or f.code not in LINE_LEVEL, f
    if not report.valid:
        assert report.errors


#: Line-level codes: the "line level" block of `findings.CODES` (blank_line .. too_many_media).
_ORDER = list(CODES)
LINE_LEVEL = set(_ORDER[_ORDER.index("blank_line") : _ORDER.index("too_many_media") + 1])


@settings(max_examples=150, deadline=None)
@given(byte_mutations())
def test_byte_mutated_files_give_findings_never_an_exception(data: bytes) -> None:
    _explained(data)


@settings(max_examples=150, deadline=None)
@given(json_mutations())
def test_json_mutated_examples_give_findings_never_an_exception(data: bytes) -> None:
    _explained(data)
