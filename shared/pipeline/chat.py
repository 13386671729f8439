"""Talk to a run's tuned model (`gemini-tuning chat`), as the evaluation did.

What a person sees here must be what the evaluation scored: the same system instruction (the
first training example's, read from the generation the run validated) and the same generation
settings (thinking off or at its lowest for the base model's family, from the catalog), sent to
the tuned model, a checkpoint's own endpoint, and optionally a baseline (the base model or the
current production model) beside it. Each model keeps its own side of the conversation, so a
follow-up question has its context.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from shared.errors import NotFound, PermanentError, PipelineError
from shared.ports import Deps, GenerationSettings, Models
from shared.runs import Run

from .evaluate import generation_settings
from .promote import tuned_endpoint

Baseline = Literal["base", "production"]
#: The first line of a training file is read whole up to this size (inline media can be large).
MAX_FIRST_LINE_BYTES = 32 * 1024 * 1024


@dataclass(frozen=True)
class Speaker:
    """One model in the chat: who it is for people, what `generateContent` is sent to."""

    label: str
    model: str


@dataclass(frozen=True)
class ChatSetup:
    run_id: str
    tuned: Speaker
    baseline: Speaker | None
    system_instruction: Mapping[str, Any] | None
    settings: GenerationSettings
    simulated: bool
    #: Things the person should know before trusting the answers (e.g. no system instruction).
    warnings: tuple[str, ...] = ()

    @property
    def speakers(self) -> tuple[Speaker, ...]:
        return (self.tuned,) if self.baseline is None else (self.tuned, self.baseline)


@dataclass(frozen=True)
class Reply:
    speaker: Speaker
    text: str = ""
    error: str | None = None  #: the call failed (this model's side of the chat is unchanged)
    simulated: bool = False


def open_chat(
    deps: Deps, run_id: str, *, checkpoint_id: str | None = None, compare: Baseline | None = None
) -> ChatSetup:
    """Everything a chat with `run_id`'s model needs; `PermanentError` when there is no model."""
    run = deps.store.get(run_id)
    if run is None:
        raise NotFound(f"no run {run_id!r}; list runs with `gemini-tuning status`")
    _, endpoint = tuned_endpoint(run, checkpoint_id)
    label = f"tuned ({run_id}" + (f", checkpoint {checkpoint_id})" if checkpoint_id else ")")
    base = run.config.source_model_name if run.config is not None else run.job.base_model
    if not base:
        raise PermanentError(f"run {run_id} records no base model", code="no_model")
    warnings: list[str] = []
    system = _system_instruction(deps, run, warnings)
    baseline: Speaker | None = None
    if compare == "base":
        baseline = Speaker(f"base ({base})", base)
    elif compare == "production":
        current = deps.production.current()
        if current is None:
            raise PermanentError(
                "there is no production model to compare with yet; use --compare base, or "
                "promote a run first (`gemini-tuning promote RUN_ID`)",
                code="no_production_model",
            )
        cp = f", checkpoint {current.checkpoint_id}" if current.checkpoint_id else ""
        baseline = Speaker(f"production ({current.run_id}{cp})", current.endpoint)
        if current.endpoint == endpoint:
            warnings.append("this model IS the production model: both columns ask the same one")
    return ChatSetup(
        run_id=run_id,
        tuned=Speaker(label, endpoint),
        baseline=baseline,
        system_instruction=system,
        settings=generation_settings(deps, base),
        simulated=deps.simulated,
        warnings=tuple(warnings),
    )


def _system_instruction(deps: Deps, run: Run, warnings: list[str]) -> Mapping[str, Any] | None:
    """The first training example's system instruction, from the validated generation."""
    from shared.evaluation.examples import EvalExample, extract

    d = run.dataset
    try:
        with deps.blobs.open_read(d.bucket, d.name, generation=d.generation) as stream:
            line = b""
            while not line.strip():
                line = stream.readline(MAX_FIRST_LINE_BYTES)
                if not line:
                    break
    except NotFound:
        warnings.append(
            f"{d.name} was replaced or deleted since the run validated it, so its system "
            "instruction is unknown: asking without one (the evaluation had it)"
        )
        return None
    try:
        first = json.loads(line.decode("utf-8-sig"))
    except ValueError:
        warnings.append(f"the first line of {d.name} could not be read: asking without one")
        return None
    got = extract(first, 0)
    return got.system_instruction if isinstance(got, EvalExample) else None


@dataclass
class Chat:
    """A conversation with the tuned model (and the baseline), one `ask` per user turn."""

    models: Models
    setup: ChatSetup
    turns: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def ask(self, text: str) -> list[Reply]:
        """Each model's answer to `text`, after what it answered before."""
        return [self._ask(speaker, text) for speaker in self.setup.speakers]

    def _ask(self, speaker: Speaker, text: str) -> Reply:
        history = self.turns.setdefault(speaker.label, [])
        user = {"role": "user", "parts": [{"text": text}]}
        try:
            got = self.models.generate(
                speaker.model,
                [*history, user],
                system_instruction=self.setup.system_instruction,
                settings=self.setup.settings,
            )
        except PipelineError as e:
            return Reply(speaker, error=e.message)
        history += [user, {"role": "model", "parts": [{"text": got.text}]}]
        return Reply(speaker, got.text, simulated=got.simulated)
