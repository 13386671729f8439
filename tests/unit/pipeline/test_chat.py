"""`pipeline.chat`: the tuned model is asked as the evaluation asked it (system instruction from
the validated training file, the catalog's generation settings, the conversation so far)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from shared.catalog import lowest_thinking
from shared.errors import PermanentError
from shared.pipeline import chat, promote, validation
from shared.ports import Generation, GenerationSettings, Models

from .conftest import ZH_EXAMPLES, World, make_world
from .trained import trained as succeeded

SYSTEM = {"parts": [{"text": "你是《星海》游戏的客服，回答简洁礼貌。"}]}


def with_system(pairs: list[tuple[str, str]], system: Mapping[str, Any]) -> bytes:
    lines = [
        json.dumps(
            {
                "systemInstruction": system,
                "contents": [
                    {"role": "user", "parts": [{"text": q}]},
                    {"role": "model", "parts": [{"text": a}]},
                ],
            },
            ensure_ascii=False,
        )
        for q, a in pairs
    ]
    return ("\n".join(lines) + "\n").encode()


class Recording:
    """The real models, with every call kept."""

    def __init__(self, inner: Models) -> None:
        self.inner = inner
        self.calls: list[dict[str, Any]] = []

    def generate(
        self,
        model: str,
        contents: Sequence[Mapping[str, Any]],
        *,
        system_instruction: Mapping[str, Any] | None = None,
        settings: GenerationSettings | None = None,
    ) -> Generation:
        self.calls.append(
            {
                "model": model,
                "contents": list(contents),
                "system": system_instruction,
                "settings": settings,
            }
        )
        return self.inner.generate(
            model, contents, system_instruction=system_instruction, settings=settings
        )

    def count_tokens(self, model: str, contents: Sequence[Mapping[str, Any]]) -> int:
        return self.inner.count_tokens(model, contents)


@pytest.fixture
def world(tmp_path: Path) -> World:
    return make_world(tmp_path, max_jobs=2)


def trained(world: World, folder: str = "ds") -> str:
    return succeeded(world, world.drop_dataset(folder, train=with_system(ZH_EXAMPLES, SYSTEM)))


def test_chat_asks_with_the_system_instruction_settings_and_history(world: World) -> None:
    rid = trained(world)
    setup = chat.open_chat(world.deps, rid, compare="base")
    base = world.run(rid).tuning.source_model_name
    budget, level = lowest_thinking(world.deps.settings.catalog.get(base))
    assert (budget, level) != (None, None), "the catalog knows how to lower thinking here"
    assert setup.settings == GenerationSettings(thinking_budget=budget, thinking_level=level)
    assert setup.system_instruction == SYSTEM and setup.simulated and not setup.warnings
    recording = Recording(world.deps.models)
    talk = chat.Chat(recording, setup)
    q, a = ZH_EXAMPLES[0]
    tuned, baseline = talk.ask(q)
    assert tuned.text == a and tuned.simulated  # the simulated tuned model learned its data
    assert baseline.speaker.model == base and baseline.text != a
    talk.ask(ZH_EXAMPLES[1][0])
    follow_up = recording.calls[2]
    assert follow_up["model"] == world.run(rid).job.tuned_model_endpoint
    assert [t["role"] for t in follow_up["contents"]] == ["user", "model", "user"]
    assert all(c["system"] == SYSTEM and c["settings"] == setup.settings for c in recording.calls)


def test_the_system_instruction_comes_from_the_validated_generation(world: World) -> None:
    rid = trained(world)
    other = {"parts": [{"text": "You are a pirate."}]}
    world.drop("incoming/ds/train.jsonl", with_system(ZH_EXAMPLES[:1], other))  # a new upload
    setup = chat.open_chat(world.deps, rid)
    assert setup.system_instruction is None
    assert any("replaced or deleted since the run validated it" in w for w in setup.warnings)


def test_checkpoints_and_the_production_baseline(world: World) -> None:
    rid, other = trained(world, "a"), trained(world, "b")
    with pytest.raises(PermanentError, match="no production model to compare with yet"):
        chat.open_chat(world.deps, rid, compare="production")
    promote.promote_run(world.deps, other, by="alice")
    cp = world.run(rid).job.checkpoints[0]
    setup = chat.open_chat(world.deps, rid, checkpoint_id=cp.checkpoint_id, compare="production")
    assert (
        setup.tuned.model == cp.endpoint and f"checkpoint {cp.checkpoint_id}" in setup.tuned.label
    )
    assert setup.baseline is not None
    assert setup.baseline.model == world.run(other).job.tuned_model_endpoint
    assert setup.baseline.label == f"production ({other})"


def test_a_run_without_a_model_cannot_chat(world: World) -> None:
    out = validation.handle_upload(world.deps, world.drop_dataset("t"))
    assert out.run_id
    with pytest.raises(PermanentError, match="has no tuned model on record yet"):
        chat.open_chat(world.deps, out.run_id)
