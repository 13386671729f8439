"""Retrieval behind the simulated tuned model: "answer like the closest training example".

Each (prompt, model turn) pair of the dataset is indexed on two fields: the last user turn and
the conversation before it. A query scores `cos(last) + 0.25 * cos(history)` with TF-IDF
weighted character n-grams (see `sim_text.features`), so the question decides and a matching
history only breaks near-ties. An inverted index keeps a query proportional to the postings it
touches rather than to the dataset size.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from shared.simulator.text import features, turn_text

HISTORY_WEIGHT = 0.25


@dataclass(frozen=True)
class Example:
    """One answer the tuned model learned, with the conversation that led to it."""

    last_user: str
    history: str
    answer: str


def conversation_query(contents: Sequence[Mapping[str, Any]]) -> tuple[str, str]:
    """(last user turn, everything before it) of a request, as plain text."""
    turns = [t for t in contents if isinstance(t, Mapping)]
    for i in range(len(turns) - 1, -1, -1):
        if turns[i].get("role", "user") != "model":
            return turn_text(turns[i]), "\n".join(turn_text(t) for t in turns[:i])
    return "", "\n".join(turn_text(t) for t in turns)


def examples_from_record(record: Any) -> list[Example]:
    """Every model turn with text in one dataset line (multi-turn lines give several)."""
    if not isinstance(record, Mapping) or not isinstance(record.get("contents"), list):
        return []
    turns = [t for t in record["contents"] if isinstance(t, Mapping)]
    out: list[Example] = []
    for i, turn in enumerate(turns):
        if turn.get("role") != "model" or i == 0:
            continue
        answer = turn_text(turn)
        if answer:
            last, history = conversation_query(turns[:i])
            out.append(Example(last, history, answer))
    return out


def read_examples(path: Path) -> list[Example]:
    """The dataset's examples; malformed lines are skipped (the validator reports them)."""
    out: list[Example] = []
    with path.open("rb") as fh:
        for line in fh:
            if not line.strip():
                continue
            try:
                record = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue
            out.extend(examples_from_record(record))
    return out


class _Field:
    """TF-IDF vectors of one text field, stored as postings: feature -> [(doc, weight)]."""

    def __init__(self, texts: Sequence[str]) -> None:
        bags = [features(t) for t in texts]
        df: Counter[str] = Counter()
        for bag in bags:
            df.update(bag.keys())
        n = len(bags)
        self._unseen_idf = math.log(1 + n)
        self._idf = {f: math.log(1 + n / d) for f, d in df.items()}
        self._postings: dict[str, list[tuple[int, float]]] = defaultdict(list)
        for doc, bag in enumerate(bags):
            vec = self._weights(bag)
            norm = math.sqrt(sum(w * w for w in vec.values())) or 1.0
            for f, w in vec.items():
                self._postings[f].append((doc, w / norm))

    def _weights(self, bag: Mapping[str, int]) -> dict[str, float]:
        return {f: (1 + math.log(c)) * self._idf.get(f, self._unseen_idf) for f, c in bag.items()}

    def add_scores(self, text: str, scores: dict[int, float], factor: float) -> None:
        vec = self._weights(features(text))
        norm = math.sqrt(sum(w * w for w in vec.values()))
        if not norm:
            return
        for f, w in vec.items():
            for doc, dw in self._postings.get(f, ()):
                scores[doc] = scores.get(doc, 0.0) + factor * w * dw / norm


class ExampleIndex:
    """Nearest training example for a conversation; built once per dataset version."""

    def __init__(self, examples: Iterable[Example]) -> None:
        self.examples = list(examples)
        self._last = _Field([e.last_user for e in self.examples])
        self._history = _Field([e.history for e in self.examples])

    @classmethod
    def from_file(cls, path: Path) -> ExampleIndex:
        return cls(read_examples(path))

    def __len__(self) -> int:
        return len(self.examples)

    def nearest(self, last_user: str, history: str = "") -> tuple[Example, float] | None:
        """The best-scoring example (first in file order on ties) and its score, or None when
        nothing shares a single feature with the query."""
        scores: dict[int, float] = {}
        self._last.add_scores(last_user, scores, 1.0)
        if history:
            self._history.add_scores(history, scores, HISTORY_WEIGHT)
        if not scores:
            return None
        best = min(scores, key=lambda d: (-scores[d], d))
        return self.examples[best], scores[best]
