"""Turn decoded dataset lines (Vertex `contents` format) into prompts and references, and pick
a deterministic sample.

The prompt is the conversation up to the LAST model turn (so multi-turn examples are evaluated
on their final answer, with all earlier context, function calls and responses included); the
reference is that turn's text. The sample is keyed by a hash of (seed, position), so the same
run always scores the same examples, on any machine and Python version, while reading the file
once and holding only `sample_size` examples in memory.
"""

from __future__ import annotations

import hashlib
import heapq
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

#: Skip reasons: stable codes (safe as Firestore map keys) -> words a dataset owner understands.
SKIP_NOT_OBJECT = "not_object"
SKIP_NO_CONTENTS = "no_contents"
SKIP_NO_MODEL_TURN = "no_model_turn"
SKIP_NO_REFERENCE_TEXT = "no_reference_text"
SKIP_NO_PROMPT = "no_prompt"
SKIP_REASONS: dict[str, str] = {
    SKIP_NOT_OBJECT: "the line is not a JSON object",
    SKIP_NO_CONTENTS: "no `contents` list of turns",
    SKIP_NO_MODEL_TURN: "no model turn to compare against",
    SKIP_NO_REFERENCE_TEXT: "the last model turn has no text (for example only a function call)",
    SKIP_NO_PROMPT: "nothing before the last model turn to send as a prompt",
}


@dataclass(frozen=True)
class EvalExample:
    """One scorable example: what to send to both models and what a good answer looks like."""

    index: int  # position in the input (0-based), for finding the line again
    contents: tuple[Mapping[str, Any], ...]
    system_instruction: Mapping[str, Any] | None
    reference: str
    prompt_text: str  # the last user text, for people reading predictions.jsonl

    def conversation_text(self) -> str:
        """The whole prompt as plain text (system instruction and every turn, one `role: text`
        line each): what an autorater needs to judge a multi-turn answer in context."""
        lines = []
        if self.system_instruction is not None:
            lines.append(f"system: {_text(self.system_instruction)}")
        lines += [f"{t.get('role', 'user')}: {_text(t)}" for t in self.contents if _text(t)]
        return "\n".join(lines)


@dataclass
class Extraction:
    """The sample plus what was seen and skipped while reading."""

    examples: list[EvalExample]
    seen: int = 0
    skipped: Counter[str] = field(default_factory=Counter)


def _role(turn: Mapping[str, Any], position: int) -> str:
    role = turn.get("role")
    if isinstance(role, str) and role:
        return role
    # Single-turn examples may leave roles unset: the dataset format alternates user/model.
    return "user" if position % 2 == 0 else "model"


def _text(turn: Mapping[str, Any]) -> str:
    parts = turn.get("parts")
    if not isinstance(parts, list):
        return ""
    texts = [p["text"] for p in parts if isinstance(p, Mapping) and isinstance(p.get("text"), str)]
    return "".join(texts)


def _system_instruction(example: Mapping[str, Any]) -> Mapping[str, Any] | None:
    si = example.get("systemInstruction", example.get("system_instruction"))
    if isinstance(si, str):
        return {"parts": [{"text": si}]} if si.strip() else None
    if isinstance(si, Mapping) and si.get("parts"):
        return si
    return None


def extract(example: Any, index: int) -> EvalExample | str:
    """The `EvalExample` for one decoded line, or the code of the reason it cannot be scored."""
    if not isinstance(example, Mapping):
        return SKIP_NOT_OBJECT
    contents = example.get("contents")
    if not isinstance(contents, list) or not contents:
        return SKIP_NO_CONTENTS
    turns = [t for t in contents if isinstance(t, Mapping)]
    if len(turns) != len(contents):
        return SKIP_NO_CONTENTS
    last_model = max(
        (i for i, t in enumerate(turns) if _role(t, i) == "model"),
        default=None,
    )
    if last_model is None:
        return SKIP_NO_MODEL_TURN
    reference = _text(turns[last_model])
    if not reference.strip():
        return SKIP_NO_REFERENCE_TEXT
    prompt = turns[:last_model]
    if not prompt:
        return SKIP_NO_PROMPT
    # Unset roles are made explicit: generateContent needs them once there is more than one turn.
    prompt = [t if t.get("role") else {**t, "role": _role(t, i)} for i, t in enumerate(prompt)]
    user_texts = [_text(t) for t in prompt if t["role"] == "user" and _text(t).strip()]
    return EvalExample(
        index=index,
        contents=tuple(prompt),
        system_instruction=_system_instruction(example),
        reference=reference,
        prompt_text=user_texts[-1] if user_texts else "",
    )


def _key(seed: str, index: int) -> bytes:
    return hashlib.blake2b(f"{seed}\x00{index}".encode(), digest_size=8).digest()


@dataclass
class Picked:
    """The sample as positions only (flat memory at any size), plus what was seen and skipped."""

    indices: list[int]
    seen: int = 0
    skipped: Counter[str] = field(default_factory=Counter)


def pick(examples: Iterable[Any], *, size: int, seed: str) -> Picked:
    """The same choice as `sample`, keeping only positions: the examples are read again, chunk
    by chunk, with `iter_picked`."""
    if size < 1:
        raise ValueError(f"sample size {size} must be at least 1.")
    heap: list[tuple[bytes, int]] = []
    out = Picked(indices=[])
    for i, raw in enumerate(examples):
        out.seen += 1
        ex = extract(raw, i)
        if isinstance(ex, str):
            out.skipped[ex] += 1
            continue
        inv = bytes(255 - b for b in _key(seed, i))
        if len(heap) < size:
            heapq.heappush(heap, (inv, i))
        elif inv > heap[0][0]:
            heapq.heapreplace(heap, (inv, i))
    out.indices = sorted(i for _, i in heap)
    return out


def iter_picked(examples: Iterable[Any], indices: Iterable[int]) -> Iterator[EvalExample]:
    """The examples at `indices` (ascending), in order, reading `examples` once."""
    wanted = iter(indices)
    target = next(wanted, None)
    for i, raw in enumerate(examples):
        if target is None:
            return
        if i != target:
            continue
        ex = extract(raw, i)
        if isinstance(ex, str):  # the input changed between passes: it must not
            raise ValueError(f"example {i} was scorable when sampled and is not now ({ex})")
        yield ex
        target = next(wanted, None)
    if target is not None:
        raise ValueError(f"example {target} was sampled but the input ended before it")


def sample(examples: Iterable[Any], *, size: int, seed: str) -> Extraction:
    """The `size` scorable examples with the smallest seeded hash (`pick`, then `iter_picked`;
    a one-shot iterator is read into a list first).

    Returned in input order. Skipped lines are counted by reason and never take a sample slot,
    so a few malformed lines do not shrink the evaluation.
    """
    items = examples if iter(examples) is not examples else list(examples)
    picked = pick(items, size=size, seed=seed)
    return Extraction(list(iter_picked(items, picked.indices)), picked.seen, picked.skipped)
