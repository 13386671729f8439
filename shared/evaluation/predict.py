"""Prediction fan-out: every example to every model, bounded concurrency, input order kept.

Why per-call error capture: one refused or timed-out call must not throw away an evaluation that
already paid for hundreds of generations. Retrying one call is the adapter's job (the Vertex AI
adapters back off within a deadline, `shared.gcp.retry`); an error that still comes out of it
becomes an error on that example, and the caller decides whether too many failed. Nothing here
retries again: one retry layer per call (docs/ARCHITECTURE.md, "Errors and delivery").
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from shared.evaluation.examples import EvalExample
from shared.ports import GenerationSettings, Models


@dataclass(frozen=True)
class Prediction:
    """One model's answer to one example: `text`, or `error` when every attempt failed."""

    text: str | None
    error: str | None = None
    simulated: bool = False
    input_tokens: int | None = None
    output_tokens: int | None = None
    #: Taken from another evaluation's saved answers (same sample): not paid again.
    reused: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None


def _describe(exc: BaseException) -> str:
    msg = getattr(exc, "message", None) or str(exc) or "(no message)"
    return f"{type(exc).__name__}: {msg}"


def predict_one(
    models: Models, model: str, ex: EvalExample, settings: GenerationSettings | None = None
) -> Prediction:
    try:
        gen = models.generate(
            model, ex.contents, system_instruction=ex.system_instruction, settings=settings
        )
    except Exception as e:  # any adapter failure is recorded on the example, never fatal
        return Prediction(None, _describe(e), False)
    if not isinstance(gen.text, str):
        return Prediction(None, "model returned no text", gen.simulated)
    return Prediction(gen.text, None, gen.simulated, gen.input_tokens, gen.output_tokens)


def predict(
    models: Models,
    model_names: Sequence[str],
    examples: Sequence[EvalExample],
    *,
    max_concurrency: int,
    settings: GenerationSettings | None = None,
) -> list[list[Prediction]]:
    """One list per entry of `model_names` (same order), each aligned with `examples`.

    Calls are interleaved (example 0 on every model, then example 1, ...) so a failing model
    shows up early in the pool rather than after the other model's whole run.
    """
    jobs = [(m, i) for i in range(len(examples)) for m in range(len(model_names))]
    out: list[list[Prediction]] = [[] for _ in model_names]
    if not jobs:
        return out
    with ThreadPoolExecutor(max_workers=max(1, min(max_concurrency, len(jobs)))) as pool:
        results = pool.map(
            lambda job: predict_one(models, model_names[job[0]], examples[job[1]], settings), jobs
        )
        for (m, _), pred in zip(jobs, results, strict=True):
            out[m].append(pred)
    return out
