"""Batch inference files: the request JSONL the evaluator writes, the answers it reads back.

Why a key per request: Vertex AI batch output is one line per request with the request echoed
beside its `response` and `status`, but the lines are not promised in input order (and the
echoed request may be normalised). Each request therefore carries `labels.eval_key`, a digest
of what was asked (contents and system instruction): the answer is found by the question, so
one file serves every model and duplicated prompts are asked once. Labels are a
`GenerateContentRequest` field (billing metadata) that the model never sees.

`BatchAnswers` then plays the `Models` port from those answers, so the evaluation's compare
core (`shared.evaluation.runner.evaluate`) scores batch answers exactly as online ones and no
online call is made. Pure logic: no cloud client, no I/O.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from shared.errors import PermanentError
from shared.evaluation.examples import EvalExample
from shared.ports import Generation, GenerationSettings

KEY_LABEL = "eval_key"
#: Hex digits of the digest kept (a label value holds at most 63 characters).
KEY_LENGTH = 32


def _drop_none(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _drop_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [_drop_none(v) for v in value]
    return value


def request_key(
    contents: Sequence[Mapping[str, Any]], system_instruction: Mapping[str, Any] | None
) -> str:
    """The digest that names a request: the same question gives the same key."""
    doc = _drop_none({"contents": list(contents), "system": system_instruction})
    text = json.dumps(doc, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:KEY_LENGTH]


def generation_config(settings: GenerationSettings | None) -> dict[str, Any]:
    """The REST `generationConfig` for the same settings the online calls use (thinking off
    or at its lowest, so batch and online answers are comparable)."""
    if settings is None:
        return {}
    if settings.thinking_budget is not None and settings.thinking_level is not None:
        raise ValueError("thinking_budget and thinking_level together are a 400 on Vertex AI")
    out: dict[str, Any] = {}
    if settings.temperature is not None:
        out["temperature"] = settings.temperature
    if settings.max_output_tokens is not None:
        out["maxOutputTokens"] = settings.max_output_tokens
    if settings.thinking_budget is not None:
        out["thinkingConfig"] = {"thinkingBudget": settings.thinking_budget}
    elif settings.thinking_level is not None:
        out["thinkingConfig"] = {"thinkingLevel": settings.thinking_level}
    return out


def request_lines(
    examples: Iterable[EvalExample], settings: GenerationSettings | None
) -> Iterator[bytes]:
    """One JSONL line per distinct question of `examples` (a repeated prompt is asked once)."""
    seen: set[str] = set()
    config = generation_config(settings)
    for ex in examples:
        key = request_key(ex.contents, ex.system_instruction)
        if key in seen:
            continue
        seen.add(key)
        request: dict[str, Any] = {"contents": list(ex.contents), "labels": {KEY_LABEL: key}}
        if ex.system_instruction is not None:
            request["systemInstruction"] = ex.system_instruction
        if config:
            request["generationConfig"] = config
        yield json.dumps({"request": request}, ensure_ascii=False).encode() + b"\n"


def _answer_text(response: Mapping[str, Any]) -> str | None:
    candidates = response.get("candidates") or []
    if not candidates or not isinstance(candidates[0], Mapping):
        return None
    parts = (candidates[0].get("content") or {}).get("parts") or []
    texts = [
        p["text"]
        for p in parts
        if isinstance(p, Mapping) and isinstance(p.get("text"), str) and not p.get("thought")
    ]
    return "".join(texts) if texts else None


def _usage(response: Mapping[str, Any]) -> tuple[int | None, int | None]:
    usage = response.get("usageMetadata") or response.get("usage_metadata")
    if not isinstance(usage, Mapping):
        return None, None
    prompt = usage.get("promptTokenCount", usage.get("prompt_token_count"))
    out = usage.get("candidatesTokenCount", usage.get("candidates_token_count"))
    thoughts = usage.get("thoughtsTokenCount", usage.get("thoughts_token_count")) or 0
    if not isinstance(prompt, int) or not isinstance(out, int):
        return None, None
    return prompt, out + int(thoughts)  # thinking tokens are billed as output tokens


#: One answer: the generation, or why the row failed (its `status`).
Answer = Generation | str


def parse_output(lines: Iterable[bytes], *, simulated: bool = False) -> dict[str, Answer]:
    """Answers by request key from a `predictions.jsonl`. A row with a non-empty `status`, or
    without text, is that request's error; lines that are not JSON objects are skipped."""
    out: dict[str, Answer] = {}
    for raw in lines:
        try:
            row = json.loads(raw)
        except ValueError:
            continue
        if not isinstance(row, Mapping) or not isinstance(row.get("request"), Mapping):
            continue
        req = row["request"]
        key = (req.get("labels") or {}).get(KEY_LABEL) or request_key(
            req.get("contents") or [], req.get("systemInstruction") or req.get("system_instruction")
        )
        status = row.get("status")
        response = row.get("response")
        if status or not isinstance(response, Mapping):
            out.setdefault(key, f"batch row failed: {status or 'no response'}")
            continue
        text = _answer_text(response)
        if text is None:
            out.setdefault(key, "batch row has no answer text")
            continue
        inp, outp = _usage(response)
        out[key] = Generation(text, simulated=simulated, input_tokens=inp, output_tokens=outp)
    return out


class BatchAnswers:
    """The `Models` port over collected batch answers (model name -> request key -> answer):
    the compare core asks it as it would ask the models, and nothing is paid again."""

    def __init__(self, answers: Mapping[str, Mapping[str, Answer]]) -> None:
        self._answers = answers

    def generate(
        self,
        model: str,
        contents: Sequence[Mapping[str, Any]],
        *,
        system_instruction: Mapping[str, Any] | None = None,
        settings: GenerationSettings | None = None,
    ) -> Generation:
        by_key = self._answers.get(model)
        if by_key is None:
            raise PermanentError(f"no batch job answered for {model}")
        got = by_key.get(request_key(contents, system_instruction))
        if got is None:
            raise PermanentError(f"the batch output of {model} has no answer for this example")
        if isinstance(got, str):
            raise PermanentError(got)
        return got

    def count_tokens(self, model: str, contents: Sequence[Mapping[str, Any]]) -> int:
        raise PermanentError("batch answers cannot count tokens; ask the model online")
