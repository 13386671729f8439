"""`iter_batches` against the plain reading of the same bytes, at every chunk size: each line
once, with its number and byte offset, overlong lines skipped and reported where they start,
and each batch's shared view of its chunk (`joined`, `count`) equal to its lines joined."""

from __future__ import annotations

import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.datasets import lines
from shared.datasets.lines import Batch, Overlong, iter_batches

_LINE = st.binary(max_size=12).map(lambda b: b.replace(b"\n", b"x"))
_LONG = st.binary(min_size=13, max_size=40).map(lambda b: b.replace(b"\n", b"y"))


def _lines(data: bytes, start: int) -> list[tuple[int, int, bytes]]:
    """(line number, byte offset, bytes) of each line of `data[start:]`, read plainly."""
    out, offset = [], start
    pieces = data[start:].split(b"\n")
    if pieces[-1] == b"":
        pieces.pop()
    for n, piece in enumerate(pieces, 1):
        out.append((n, offset, piece))
        offset += len(piece) + 1
    return out


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.one_of(_LINE, _LONG), max_size=20),
    st.booleans(),
    st.integers(1, 50),
    st.integers(0, 60),
    st.integers(0, 3),
)
def test_batches_are_the_lines(
    rows: list[bytes], final_newline: bool, chunk: int, head_size: int, start: int
) -> None:
    data = b"\n".join(rows) + (b"\n" if final_newline and rows else b"")
    start = min(start, len(data))
    head_size = max(head_size, start)
    limit = 12
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(lines, "MAX_LINE_BYTES", limit)
        stream = io.BytesIO(data[head_size:])
        got, long = [], []
        for item in iter_batches(stream, data[:head_size], start, chunk):
            if isinstance(item, Batch):
                off = item.offset
                joined = b"\n".join(item.lines)
                assert bytes(item.joined()) == joined
                for sub in (b"x", b"xy", b"\x00"):
                    assert item.count(sub) == joined.count(sub)
                for i, raw in enumerate(item.lines):
                    got.append((item.first_line + i, off, raw))
                    off += len(raw) + 1
            elif isinstance(item, Overlong):
                long.append(item.line)
    seen = {n: (off, raw) for n, off, raw in got}
    assert len(seen) == len(got) and long == sorted(set(long))
    # Every line once, numbered and placed as a plain reading places it. One over the limit is
    # skipped, or read whole when its newline comes in the chunk that crosses the limit.
    for n, off, raw in _lines(data, start):
        if n in long:
            assert len(raw) > limit and n not in seen
        else:
            assert seen.pop(n) == (off, raw)
    assert not seen
