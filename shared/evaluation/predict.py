"""Prediction fan-out: every example to every model, bounded concurrency, input order kept.

Why per-call error capture: one refused or timed-out call must not throw away an evaluation that
already paid for hundreds of generations. Transient errors (429/503, `TransientError`) are
retried with exponential backoff; anything still failing becomes an error on that example, and
the caller decides whether too many failed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from shared.errors import TransientError
from shared.evaluation.examples import EvalExample
from shared.ports import Models


@dataclass(frozen=True)
class RetryPolicy:
    """Backoff for `TransientError`. `sleep` is injectable so tests do not wait."""

    attempts: int = 4  # total tries per call, the first included
    base_delay: float = 0.5
    max_delay: float = 8.0
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False)

    def delay(self, retry: int) -> float:
        """Seconds to wait before retry number `retry` (1-based)."""
        return float(min(self.max_delay, self.base_delay * 2 ** (retry - 1)))


@dataclass(frozen=True)
class Prediction:
    """One model's answer to one example: `text`, or `error` when every attempt failed."""

    text: str | None
    error: str | None = None
    simulated: bool = False
    attempts: int = 1

    @property
    def ok(self) -> bool:
        return self.error is None


def _describe(exc: BaseException) -> str:
    msg = getattr(exc, "message", None) or str(exc) or "(no message)"
    return f"{type(exc).__name__}: {msg}"


def predict_one(models: Models, model: str, ex: EvalExample, retry: RetryPolicy) -> Prediction:
    attempt = 0
    while True:
        attempt += 1
        try:
            gen = models.generate(model, ex.contents, system_instruction=ex.system_instruction)
        except TransientError as e:
            if attempt >= retry.attempts:
                return Prediction(
                    None, f"{_describe(e)} (after {attempt} attempts)", False, attempt
                )
            retry.sleep(retry.delay(attempt))
            continue
        except Exception as e:  # any adapter failure is recorded on the example, never fatal
            return Prediction(None, _describe(e), False, attempt)
        if not isinstance(gen.text, str):
            return Prediction(None, "model returned no text", gen.simulated, attempt)
        return Prediction(gen.text, None, gen.simulated, attempt)


def predict(
    models: Models,
    model_names: Sequence[str],
    examples: Sequence[EvalExample],
    *,
    max_concurrency: int,
    retry: RetryPolicy,
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
            lambda job: predict_one(models, model_names[job[0]], examples[job[1]], retry), jobs
        )
        for (m, _), pred in zip(jobs, results, strict=True):
            out[m].append(pred)
    return out
