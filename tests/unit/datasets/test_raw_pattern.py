"""`raw_pattern` over generated patterns: wherever Python's `re` finds a match in a text, the
rewrite matches the text's raw JSON (both spellings), so the prefilter never hides a value."""

from __future__ import annotations

import json
import re

import hyperscan
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.datasets.raw_pattern import raw_pattern

#: Characters whose raw JSON spelling differs from themselves, and some that do not.
ALPHABET = ["a", "b", "G", "1", "１", " ", "　", "\n", "\t", '"', "\\", "/", "订", "😀", "-", "é"]

#: (pattern atom, texts it matches): the generator builds a pattern and a text it matches
#: together, so nearly every example checks a real match.
ATOMS: list[tuple[str, list[str]]] = [
    ("a", ["a"]), ("G", ["G"]), ("1", ["1"]), ("１", ["１"]), ("订", ["订"]), ("😀", ["😀"]),
    ("é", ["é"]), ("-", ["-"]), ("/", ["/"]), (r"\"", ['"']), (r"\\", ["\\"]),
    (r"\n", ["\n"]), (r"\t", ["\t"]), (r"\d", ["1", "１", "٣"]),
    (r"\w", ["a", "G", "1", "订", "é", "_", "１"]), (r"\s", [" ", "\n", "\t", "　"]),
    (r"\S", ["a", "订", '"', "\\", "😀"]), (".", ["a", '"', "\\", "/", "订", "😀", "\t"]),
    ("[ab]", ["a", "b"]), ("[^a]", ["b", '"', "\\", "订", "\n", "😀"]), ("[0-9]", ["1"]),
    ("[a-z订]", ["a", "订"]), (r"[\s\-]", [" ", "-", "\n", "　"]), ("[订单]", ["订", "单"]),
]  # fmt: skip


@st.composite
def pattern_and_match(draw: st.DrawFn, depth: int = 0) -> tuple[str, str]:
    if depth >= 3 or draw(st.integers(0, 2)) == 0:
        pattern, texts = draw(st.sampled_from(ATOMS))
        return pattern, draw(st.sampled_from(texts))
    kind = draw(st.sampled_from(["cat", "alt", "plus", "opt", "rep", "ci", "^", "$", "b", "look"]))
    p, t = draw(pattern_and_match(depth + 1))
    if kind in ("cat", "alt"):
        q, u = draw(pattern_and_match(depth + 1))
        if kind == "cat":
            return p + q, t + u
        return f"(?:{p}|{q})", draw(st.sampled_from([t, u]))
    n = draw(st.integers(1, 3))
    return {
        "plus": (f"(?:{p})+", t * n),
        "opt": (f"(?:{p})?", draw(st.sampled_from([t, ""]))),
        "rep": (f"(?:{p}){{1,3}}", t * n),
        "ci": (f"(?i:{p})", t.swapcase()),
        "^": (f"^{p}", t),
        "$": (f"{p}$", t),
        "b": (rf"\b{p}", t),
        "look": (f"(?={p}){p}", t),
    }[kind]


def _hyperscan_matches(expr: bytes, data: bytes) -> bool:
    db = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
    db.compile(
        expressions=[expr],
        flags=[
            hyperscan.HS_FLAG_PREFILTER | hyperscan.HS_FLAG_CASELESS | hyperscan.HS_FLAG_ALLOWEMPTY
        ],
    )
    hits: list[int] = []
    db.scan(data, match_event_handler=lambda *a: hits.append(1))
    return bool(hits)


@settings(max_examples=500, deadline=None)
@given(
    pattern_and_match(),
    st.lists(st.sampled_from(ALPHABET), max_size=3).map("".join),
    st.lists(st.sampled_from(ALPHABET), max_size=3).map("".join),
    st.booleans(),
)
def test_the_rewrite_matches_raw_json_wherever_the_pattern_matches_the_text(
    generated: tuple[str, str], before: str, after: str, ascii_only: bool
) -> None:
    pattern, sample = generated
    text = before + sample + after
    m = re.search(pattern, text)
    if m is None or not m.group():
        return  # nothing to find (an anchor missed, or an empty match: never a finding)
    expr = raw_pattern(pattern)
    assert expr is not None, pattern
    raw = json.dumps({"text": text}, ensure_ascii=ascii_only).encode()
    assert _hyperscan_matches(expr, raw), (pattern, text, ascii_only, expr)


def test_what_has_no_superset_rewrite_is_refused() -> None:
    assert raw_pattern(r"(a)\1") is None  # a back-reference
    assert raw_pattern(r"(a)?(?(1)b|c)") is None  # a conditional
    assert raw_pattern("(") is None  # not a pattern at all
