"""Shape checks on one raw JSONL line that the decoders cannot make: nesting depth and keys
given twice.

Both msgspec decoders recurse per nesting level (100,000 `[` raise `RecursionError`, which
used to escape the validator as a traceback) and keep the last of two equal keys silently
(`"role": "user", "role": "model"` read as a model turn). `depth_problem` runs before the
untyped decode; `duplicate_key` runs on lines the slow path walks and on fast-path lines whose
key count differs from what their decoded shape explains (`fast_keys_expected`), so the hot
loop pays one `bytes.count` per line.
"""

from __future__ import annotations

import json
import re
from typing import Any

from shared.datasets.lines import Line

#: Deeper than any Gemini example needs (contents → turn → parts → part → functionCall → args
#: nests 6 levels before the caller's own arguments); far below Python's recursion limit.
MAX_JSON_DEPTH = 64
#: A JSON string (escapes included): what may hold brackets and `":` that are not structure.
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


def depth_problem(raw: bytes) -> str | None:
    """A message when `raw` nests arrays/objects deeper than `MAX_JSON_DEPTH`, else None.

    Fewer brackets than the limit cannot nest deeper, so the usual line costs two counts."""
    if raw.count(b"[") + raw.count(b"{") <= MAX_JSON_DEPTH:
        return None
    depth = 0
    structure = _STRING.sub(b'""', raw)
    brackets = structure.translate(None, _NOT_BRACKETS)
    for b in brackets:
        if b in b"[{":
            depth += 1
            if depth > MAX_JSON_DEPTH:
                break
        else:
            depth -= 1
    else:
        return None
    return (
        f"The JSON nests more than {MAX_JSON_DEPTH} levels of arrays/objects; no example needs "
        "that many. Check how this line was generated (a runaway serializer?) and flatten it."
    )


class _Duplicate(Exception):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise _Duplicate(k)
        out[k] = v
    return out


def duplicate_key(raw: bytes) -> str | None:
    """The first key that appears twice in one object of `raw` (a valid JSON line whose depth
    `depth_problem` accepted), else None."""
    try:
        json.loads(raw, object_pairs_hook=_pairs)
    except _Duplicate as d:
        return d.key
    except (ValueError, RecursionError):
        return None  # not this check's finding: the decoders report invalid JSON
    return None


def duplicate_key_message(key: str) -> str:
    shown = key if len(key) <= 60 else key[:59] + "…"
    return (
        f"Key {json.dumps(shown, ensure_ascii=False)} appears twice in one object; readers "
        "keep only one of them (usually the last), so the example may not say what you meant. "
        "Keep one."
    )


def fast_keys_expected(turns: int, parts: int, system: Any) -> int:
    """How many `":` a fast-path example (`schema.TextExample`) written with `"key": value`
    holds: `contents`, role and parts per turn, text per part, and the systemInstruction
    with its parts and optional role."""
    if system is None:
        return 1 + 2 * turns + parts
    return 1 + 2 * turns + parts + 2 + len(system.parts) + (system.role is not None)


#: What ends each key of a compactly written object.
KEY_MARK = b'":'


def key_marks(raw: Line) -> int:
    """`":` occurrences in `raw`: each key of a compactly written object ends with one."""
    return raw.count(KEY_MARK)
