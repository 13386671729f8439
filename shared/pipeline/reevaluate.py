"""Evaluate a finished run again without retraining (`gemini-tuning evaluate RUN_ID`).

A team that retrains weekly asks "is this model better than the one answering players now?",
so an attempt can be made against the base model, the current production model or another
run's model, with the judge or the rubric switched on. Each attempt is recorded on the run
(`evaluation_attempts`, newest last) with its own reports under
`runs/<run_id>/evaluation/attempts/<key>/`; the run's status and its first evaluation stay as
they were. The eval set is the one the run validated (pinned to its generation). Predictions
are saved in chunks as in the evaluator, so an interrupted attempt resumes where it stopped.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from shared.catalog import Catalog
from shared.clock import utcnow
from shared.errors import ConfigError, NotFound, PermanentError
from shared.pipeline import layout
from shared.ports import Deps
from shared.runs import EvaluationInfo, Run, RunStatus

if TYPE_CHECKING:
    from shared.evaluation.result import EvaluationResult

from .evaluate import (
    PinnedExamples,
    chunk_key,
    compare,
    eval_set,
    generation_settings,
    info_from,
    save_result,
)


@dataclass(frozen=True)
class Attempt:
    attempt: int
    against: str
    baseline_model: str
    passed: bool | None
    reason: str
    metrics: dict[str, dict[str, float | None]]
    report_uri: str
    report_html_uri: str
    simulated: bool
    verdict: str = "NOT GATED"
    per_metric: dict[str, dict[str, Any]] = field(default_factory=dict)
    leakage: dict[str, Any] | None = None
    judge: dict[str, Any] | None = None
    rubric: dict[str, Any] | None = None
    #: The attempt as the run document's evaluation shape (what `status` views render).
    info: EvaluationInfo | None = None


def _check_test_set(data: bytes, label: str, model: str, catalog: Catalog) -> None:
    """A new eval set gets the same checks as any dataset file, before any paid call."""
    import io

    from shared.datasets import validate_dataset

    report = validate_dataset(
        io.BytesIO(data), names={"train": label}, model=model, catalog=catalog
    )
    if not report.valid:
        first = report.errors[0]
        where = f"{first.file}:{first.line}" if first.line is not None else str(first.file)
        raise ConfigError(
            f"{label} is not a valid eval set ({len(report.errors)} error(s); first: {where} "
            f"{first.message}). Fix it, or check it with `gemini-tuning validate {label}`."
        )


def served_endpoint(run: Run) -> str | None:
    """The endpoint the run's evaluation scored: its chosen checkpoint's, else the default."""
    chosen = run.evaluation.chosen_checkpoint
    for c in run.evaluation.checkpoints:
        if chosen is not None and c.get("checkpoint_id") == chosen and c.get("endpoint"):
            return str(c["endpoint"])
    return run.job.tuned_model_endpoint


def baseline(deps: Deps, run: Run, against: str) -> str:
    """`base`, `production` or a run id -> the model to compare with."""
    if against == "base":
        return run.tuning.source_model_name
    if against == "production":
        current = deps.production.current()
        if current is None:
            raise ConfigError(
                "there is no production model yet; promote one with `gemini-tuning promote`"
            )
        if current.run_id == run.run_id:
            raise ConfigError(f"run {run.run_id} is the production model; compare with base")
        return current.endpoint
    other = deps.store.get(against)
    if other is None or other.status != RunStatus.SUCCEEDED:
        raise NotFound(f"--against {against!r}: no SUCCEEDED run with that id")
    endpoint = served_endpoint(other)
    if not endpoint:
        raise ConfigError(f"--against {against}: that run has no tuned model endpoint")
    return endpoint


def _finished(deps: Deps, run_id: str) -> Run:
    run = deps.store.get(run_id)
    if run is None:
        raise NotFound(f"no run {run_id!r}; list runs with `gemini-tuning status`")
    if run.status != RunStatus.SUCCEEDED:
        raise PermanentError(f"run {run_id} is {run.status}: only a SUCCEEDED run is re-evaluated")
    return run


def _attempt_record(
    key: str, against: str, base_model: str, tuned: str, eval_set_uri: str,
    result: EvaluationResult, kept: EvaluationInfo,
) -> dict[str, Any]:  # fmt: skip
    """What `evaluation_attempts` keeps of one attempt (the run document's shape)."""
    return {
        "key": key,
        "at": utcnow(),
        "against": against,
        "baseline_model": base_model,
        "tuned_model": tuned,
        "eval_set": eval_set_uri,
        "passed": result.passed,
        "verdict": result.verdict,
        "reason": result.reason,
        "metrics": {k: dict(v) for k, v in result.metrics.items()},
        "per_metric": kept.per_metric,
        "leakage": kept.leakage,
        "unleaked_metrics": kept.unleaked_metrics,
        "judge": kept.judge,
        "rubric": kept.rubric,
        "report_uri": kept.report_uri,
        "report_html_uri": kept.report_html_uri,
        "simulated": result.simulated,
    }


def reevaluate(
    deps: Deps,
    run_id: str,
    *,
    against: str = "base",
    judge: bool | None = None,
    rubric: bool | None = None,
    sample_size: int | None = None,
    test_set: bytes | None = None,
    test_label: str = "test.jsonl",
) -> Attempt:
    """One more evaluation attempt on a SUCCEEDED run; raises `PipelineError`s with messages
    that say what to do (unknown run, not finished, no eval set, no baseline). `test_set`: a
    new eval set (JSONL bytes): validated first like any dataset file, kept beside the
    attempt's reports, and evaluated instead of the run's own."""
    run = _finished(deps, run_id)
    tuned = served_endpoint(run)
    target = eval_set(run) if test_set is None else ("(new)", None)
    if not tuned or target is None:
        raise PermanentError(f"run {run_id} has no tuned endpoint or no test/validation set")
    base_model = baseline(deps, run, against)
    ev = run.tuning.evaluation
    ev = replace(
        ev,
        judge=ev.judge if judge is None else judge,
        rubric=ev.rubric if rubric is None else rubric,
        sample_size=ev.sample_size if sample_size is None else sample_size,
    )
    s, blobs = deps.settings, deps.blobs
    settings = generation_settings(deps, run.tuning.source_model_name)
    name, generation = target
    if test_set is not None:
        _check_test_set(test_set, test_label, run.tuning.source_model_name, s.catalog)
        name, generation = "new:" + hashlib.sha256(test_set).hexdigest()[:16], None
    key = chunk_key(tuned, base_model, name, generation, ev, settings)
    prefix = f"{layout.evaluation_prefix(run_id)}attempts/{key}/"
    bucket = run.dataset.bucket
    if test_set is not None:  # kept beside the attempt, read back pinned like any eval set
        info = blobs.write_bytes(
            s.artifacts_bucket, prefix + "test.jsonl", test_set, content_type="application/jsonl"
        )
        bucket, name, generation = s.artifacts_bucket, prefix + "test.jsonl", info.generation
    result, _ = compare(
        deps, run,
        PinnedExamples(
            blobs, bucket, name, generation,
            model=run.tuning.source_model_name, catalog=s.catalog,
        ),
        tuned=tuned, baseline=base_model, ev=ev, settings=settings,
        chunks_prefix=prefix + "chunks/",
    )  # fmt: skip
    result = replace(
        result,
        report=replace(
            result.report,
            run_id=run_id,
            against=against,
            attempt_key=key,
            eval_set=blobs.uri(bucket, name),
        ),
    )
    saved = save_result(blobs, s.artifacts_bucket, prefix, result)
    kept = info_from(result, saved)
    record = _attempt_record(key, against, base_model, tuned, blobs.uri(bucket, name), result, kept)

    def append(r: Run) -> None:
        r.evaluation_attempts = [a for a in r.evaluation_attempts if a.get("key") != key]
        r.evaluation_attempts.append(record)

    updated = deps.store.update(run_id, append)
    n = len(updated.evaluation_attempts) if updated is not None else 1
    return Attempt(
        n,
        against,
        base_model,
        result.passed,
        result.reason,
        record["metrics"],
        record["report_uri"],
        record["report_html_uri"],
        result.simulated,
        verdict=result.verdict,
        per_metric=kept.per_metric,
        leakage=kept.leakage,
        judge=kept.judge,
        rubric=kept.rubric,
        info=kept,
    )
