"""A fake `Models` that honours the port: answers from a table, with programmable failures.

It is a fake, not a mock: it answers by looking at what it is sent (the last user text), so a
prompt built wrongly gets a wrong answer, and it tracks how many calls are in flight at once.
"""

from __future__ import annotations

import random
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from shared.ports import Generation


def last_user_text(contents: Sequence[Mapping[str, Any]]) -> str:
    for turn in reversed(contents):
        if turn.get("role") == "user":
            texts = [p.get("text") for p in turn.get("parts", []) if isinstance(p, Mapping)]
            joined = "".join(t for t in texts if isinstance(t, str))
            if joined:
                return joined
    return ""


@dataclass
class FakeModels:
    """`answers[model][prompt]` is the reply; `failures[(model, prompt)]` lists exceptions to
    raise on successive calls before answering (use `always(exc)` for a permanent failure)."""

    answers: Mapping[str, Mapping[str, str]]
    default: str = "我不知道。"
    failures: dict[tuple[str, str], list[BaseException | Callable[[], BaseException]]] = field(
        default_factory=dict
    )
    fail_model: Mapping[str, BaseException] = field(default_factory=dict)
    simulated: bool = False
    jitter_seconds: float = 0.0
    calls: list[tuple[str, str, Mapping[str, Any] | None]] = field(default_factory=list)
    attempts: dict[tuple[str, str], int] = field(default_factory=lambda: defaultdict(int))
    max_in_flight: int = 0
    _in_flight: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def generate(
        self,
        model: str,
        contents: Sequence[Mapping[str, Any]],
        *,
        system_instruction: Mapping[str, Any] | None = None,
        settings: Any = None,
    ) -> Generation:
        prompt = last_user_text(contents)
        with self._lock:
            self.calls.append((model, prompt, system_instruction))
            self.attempts[(model, prompt)] += 1
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)
            pending = self.failures.get((model, prompt))
            exc: BaseException | None = None
            if model in self.fail_model:
                exc = self.fail_model[model]
            elif pending:
                item = pending[0]
                if not callable(item):  # an `always(...)` entry stays in place
                    pending.pop(0)
                exc = item() if callable(item) else item
        try:
            if self.jitter_seconds:
                time.sleep(random.uniform(0, self.jitter_seconds))
            if exc is not None:
                raise exc
            return Generation(self.answers.get(model, {}).get(prompt, self.default), self.simulated)
        finally:
            with self._lock:
                self._in_flight -= 1

    def count_tokens(self, model: str, contents: Sequence[Mapping[str, Any]]) -> int:
        return sum(len(last_user_text([t])) for t in contents)


def always(exc: BaseException) -> Callable[[], BaseException]:
    """A failure entry that never runs out."""
    return lambda: exc


def example(question: str, answer: str, **extra: Any) -> dict[str, Any]:
    """A single-turn dataset line in the Vertex `contents` format."""
    return {
        "contents": [
            {"role": "user", "parts": [{"text": question}]},
            {"role": "model", "parts": [{"text": answer}]},
        ],
        **extra,
    }
