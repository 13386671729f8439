"""A `Models` port that counts every online call and passes it on: how tests and the batch
benchmark show that an evaluation made no online calls (or exactly one per example)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from shared.ports import Generation, GenerationSettings, Models


class CountingModels:
    """The deployment's models, counting every online call."""

    def __init__(self, inner: Models) -> None:
        self.inner, self.calls = inner, 0

    def generate(
        self,
        model: str,
        contents: Sequence[Mapping[str, Any]],
        *,
        system_instruction: Mapping[str, Any] | None = None,
        settings: GenerationSettings | None = None,
    ) -> Generation:
        self.calls += 1
        return self.inner.generate(
            model, contents, system_instruction=system_instruction, settings=settings
        )

    def count_tokens(self, model: str, contents: Sequence[Mapping[str, Any]]) -> int:
        self.calls += 1
        return self.inner.count_tokens(model, contents)
