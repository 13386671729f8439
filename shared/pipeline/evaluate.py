"""Step 4 (evaluator function): compare the tuned model with its base model, apply the gates.

Eval set = `test.jsonl`, else `validation.jsonl`. The report and the predictions go to the
artifacts bucket; the run keeps the summary, the metrics and where the report is. A run whose
gates fail still ends SUCCEEDED (training worked) with `evaluation.passed = false` and the reason,
so a person or a release job decides what to do with the model.

Redelivery is safe: TRAINED -> EVALUATING is a compare-and-set, and an EVALUATING run found by
a redelivered message (the evaluator crashed) is evaluated again with the same seeded sample.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from shared.catalog import Catalog, lowest_thinking
from shared.errors import NotFound, PermanentError, TransientError
from shared.events import EVALUATION_REQUESTED, encode_message
from shared.pipeline import layout
from shared.ports import Blobs, Deps, GenerationSettings
from shared.runs import EvaluationInfo, Run, RunStatus

from .promote import maybe_auto_promote
from .transitions import advance, failing_run_on_permanent, require_run

if TYPE_CHECKING:  # the evaluation package loads lazily, only when a run is evaluated
    from shared.evaluation.result import EvaluationResult

S = RunStatus

#: Seconds one invocation spends starting new chunks; the function timeout is 540 s
#: (infra/functions.tf), so the chunk in flight, scoring and writing the report still fit.
TIME_BUDGET_SECONDS = 360.0


class PinnedExamples:
    """The eval set as a re-iterable: every pass opens the validated generation again (the
    runner samples in one pass and reads chunks in another, holding neither in memory)."""

    def __init__(
        self,
        blobs: Blobs,
        bucket: str,
        name: str,
        generation: str | None,
        *,
        model: str,
        catalog: Catalog,
    ) -> None:
        self.blobs, self.bucket, self.name, self.generation = blobs, bucket, name, generation
        self.model, self.catalog = model, catalog  # the run's model, the deployment's catalog

    def __iter__(self) -> Iterator[Any]:
        from shared.datasets import iter_examples

        try:
            stream = self.blobs.open_read(self.bucket, self.name, generation=self.generation)
        except NotFound:
            raise PermanentError(
                f"{self.name} was replaced or deleted after validation (the run validated "
                f"generation {self.generation}); a run is only evaluated on what was validated. "
                "Upload train.jsonl again to validate and tune on the new set.",
                code="eval_set_replaced",
            ) from None
        with stream:
            for _, ex in iter_examples(stream, model=self.model, catalog=self.catalog):
                yield ex


def handle_evaluation_request(
    deps: Deps, run_id: str | None, *, time_budget: float | None = None
) -> str:
    """Claim and evaluate a trained run. After `time_budget` seconds (default
    `TIME_BUDGET_SECONDS`) no new chunk starts: the saved chunks stay, a fresh
    `evaluation-requested` message continues the work, and this one is acknowledged."""
    found = require_run(deps, run_id)
    run: Run | None = found
    if found.status == S.TRAINED:
        run = advance(
            deps, found.run_id, [S.TRAINED], S.EVALUATING, note="evaluating tuned vs base model"
        ) or deps.store.get(found.run_id)
        if run is None or run.status != S.EVALUATING:
            return "claimed by another delivery"
    elif found.status != S.EVALUATING:
        return f"nothing to do: run is {found.status}"
    assert run is not None
    with failing_run_on_permanent(deps, run.run_id, "evaluation", [S.EVALUATING]):
        budget = TIME_BUDGET_SECONDS if time_budget is None else time_budget
        return _evaluate(deps, run, deadline=time.monotonic() + budget)


def choose_checkpoint(
    deps: Deps, run: Run, examples: Any, settings: GenerationSettings
) -> str | None:
    """Screen every checkpoint the job exported and make the best the model's default; its
    endpoint is what the full evaluation then scores. None: nothing to choose (one checkpoint,
    or `evaluation.choose_checkpoint: false`). A redelivery reuses the recorded choice."""
    from shared.evaluation.checkpoint_choice import CheckpointCandidate, best, screen

    ev = run.tuning.evaluation
    cands = [
        CheckpointCandidate(c.checkpoint_id, c.epoch, c.endpoint)
        for c in run.job.checkpoints
        if c.endpoint
    ]
    if not ev.choose_checkpoint or len(cands) < 2:
        return None
    if run.evaluation.chosen_checkpoint:
        return next(
            (c.endpoint for c in cands if c.checkpoint_id == run.evaluation.chosen_checkpoint),
            None,
        )
    scores = screen(
        deps.models,
        examples,
        cands,
        metric=ev.checkpoint_metric,
        size=ev.checkpoint_sample_size,
        seed=run.run_id,
        settings=settings,
        max_concurrency=ev.max_concurrency,
    )
    chosen = best(scores)
    if chosen is None:
        return None
    note = None
    if chosen.checkpoint_id != cands[-1].checkpoint_id and run.job.tuned_model_name:
        try:
            deps.tuner.set_default_checkpoint(run.job.tuned_model_name, chosen.checkpoint_id)
            note = f"checkpoint {chosen.checkpoint_id} is now the tuned model's default"
        except PermanentError as e:  # the choice still stands for the evaluation and the record
            note = f"checkpoint {chosen.checkpoint_id} is best, but setting it failed: {e.message}"

    def record(r: Run) -> None:
        r.evaluation.checkpoints = [
            {
                "checkpoint_id": c.checkpoint_id,
                "epoch": c.epoch,
                "endpoint": c.endpoint,
                ev.checkpoint_metric: c.score,
                "scored": c.scored,
                "errors": c.errors,
            }
            for c in scores
        ]
        r.evaluation.chosen_checkpoint = chosen.checkpoint_id
        r.evaluation.checkpoint_note = note

    deps.store.update(run.run_id, record, expected=[S.EVALUATING])
    return chosen.endpoint


def _compare_with_production(
    deps: Deps,
    run: Run,
    examples: Any,
    endpoint: str,
    settings: GenerationSettings,
    judge: Any,
    key: str,
    deadline: float,
) -> dict[str, Any] | None:
    """The same evaluation with the current production model as the baseline, when there is
    one other than this run (`evaluation.compare_production`), under `production_gates`. Its
    chunks are saved and resumed like the main ones; its reports go beside them."""
    from shared.evaluation import evaluate
    from shared.evaluation.chunks import BlobCheckpoints

    ev = run.tuning.evaluation
    current = deps.production.current() if ev.compare_production else None
    if current is None or current.run_id == run.run_id:
        return None
    blobs, s = deps.blobs, deps.settings
    prefix = f"{layout.evaluation_prefix(run.run_id)}vs-production/"
    result = evaluate(
        deps.models,
        examples,
        tuned_model=endpoint,
        base_model=current.endpoint,
        config=replace(ev, gates=ev.production_gates),
        seed=run.run_id,
        judge=judge,
        checkpoints=BlobCheckpoints(
            blobs, s.artifacts_bucket, f"{prefix}chunks/{key}-{current.sequence}/"
        ),
        deadline=deadline,
        settings=settings,
    )
    result = replace(
        result, report={**result.report, "run_id": run.run_id, "against": "production"}
    )
    saved = save_result(blobs, s.artifacts_bucket, prefix, result)
    return {
        "production_run": current.run_id,
        "production_endpoint": current.endpoint,
        "passed": result.passed,
        "reason": result.reason,
        "metrics": {k: dict(v) for k, v in result.metrics.items()},
        "judge": result.summary.get("judge"),
        "report_uri": saved.report_uri,
        "report_html_uri": saved.report_html_uri,
    }


@dataclass(frozen=True)
class SavedResult:
    report_uri: str
    report_html_uri: str
    predictions_uri: str


def save_result(blobs: Blobs, bucket: str, prefix: str, result: EvaluationResult) -> SavedResult:
    """Write one evaluation's predictions.jsonl, report.json and report.html under `prefix`
    (predictions first, so a report never names a file that is not there yet)."""
    for file, data, kind in (
        ("predictions.jsonl", result.predictions_jsonl(), "application/jsonl"),
        ("report.json", result.report_json(), "application/json"),
        ("report.html", result.report_html(), "text/html"),
    ):
        blobs.write_bytes(bucket, prefix + file, data, content_type=kind)
    return SavedResult(
        report_uri=blobs.uri(bucket, prefix + "report.json"),
        report_html_uri=blobs.uri(bucket, prefix + "report.html"),
        predictions_uri=blobs.uri(bucket, prefix + "predictions.jsonl"),
    )


def eval_set(run: Run) -> tuple[str, str | None] | None:
    """The object the run is evaluated on and the generation that was validated:
    `test.jsonl`, else `validation.jsonl`, else None."""
    d = run.dataset
    if d.test_name:
        return d.test_name, d.test_generation
    if d.validation_name:
        return d.validation_name, d.validation_generation
    return None


def _skipped(r: Run) -> None:
    r.evaluation.passed = None
    r.evaluation.reason = "no test or validation set to evaluate on"


def _evaluate(deps: Deps, run: Run, *, deadline: float) -> str:
    from shared.evaluation import evaluate
    from shared.evaluation.chunks import BlobCheckpoints, fingerprint
    from shared.evaluation.runner import EvaluationIncomplete

    blobs, s = deps.blobs, deps.settings
    bucket = run.dataset.bucket
    target = eval_set(run)
    if target is None:
        advance(
            deps,
            run.run_id,
            [S.EVALUATING],
            S.SUCCEEDED,
            note="no test.jsonl or validation.jsonl: evaluation skipped",
            change=_skipped,
        )
        return "skipped"
    name, generation = target
    config = run.tuning
    examples = PinnedExamples(
        blobs, bucket, name, generation, model=config.source_model_name, catalog=s.catalog
    )
    endpoint = run.job.tuned_model_endpoint
    if not endpoint:
        raise PermanentError("the run has no tuned model endpoint to evaluate")
    ev = config.evaluation
    # Tuned and base model alike: thinking off or at its lowest for the family (the catalog),
    # as Google advises for tuned models and as a fair comparison needs.
    budget, level = lowest_thinking(s.catalog.get(config.source_model_name))
    settings = GenerationSettings(thinking_budget=budget, thinking_level=level)
    endpoint = choose_checkpoint(deps, run, examples, settings) or endpoint
    key = fingerprint(
        [
            endpoint,
            config.source_model_name,
            name,
            generation,
            ev.sample_size,
            ev.judge,
            ev.rubric,
            ev.rubric_dimensions,
            ev.metrics,
            repr(settings),
        ]
    )
    checkpoints = BlobCheckpoints(
        blobs, s.artifacts_bucket, layout.evaluation_chunks_prefix(run.run_id, key)
    )

    def progress(done: int, total: int) -> None:
        def change(r: Run) -> None:
            r.evaluation.progress = {"done": done, "total": total}

        deps.store.update(run.run_id, change, expected=[S.EVALUATING])

    judge = deps.judge if ev.judge or ev.rubric else None
    try:
        result = evaluate(
            deps.models,
            examples,
            tuned_model=endpoint,
            base_model=config.source_model_name,
            config=ev,
            seed=run.run_id,
            judge=judge,
            checkpoints=checkpoints,
            deadline=deadline,
            on_progress=progress,
            settings=settings,
        )
        vs_production = _compare_with_production(
            deps, run, examples, endpoint, settings, judge, key, deadline
        )
    except EvaluationIncomplete as e:
        # The platform's next delivery continues: a fresh message (not a retry of this one,
        # which would count towards the dead-letter limit) and this one is acknowledged.
        data, attrs = encode_message(EVALUATION_REQUESTED, run.run_id)
        try:
            deps.bus.publish(s.topic_evaluation_requested, data, attrs)
        except TransientError:
            raise e from None  # redelivery of this message continues instead
        return f"continuing: {e.done}/{e.total} examples evaluated"
    current = deps.store.get(run.run_id) or run
    where = {
        "run_id": run.run_id,
        "eval_set": blobs.uri(bucket, name),
        "checkpoints": current.evaluation.checkpoints,
        "chosen_checkpoint": current.evaluation.chosen_checkpoint,
        "training_curves": current.job.curves,
    }
    result = replace(result, report={**result.report, **where})
    saved = save_result(blobs, s.artifacts_bucket, layout.evaluation_prefix(run.run_id), result)
    info = EvaluationInfo(
        passed=result.passed,
        reason=result.reason,
        summary=dict(result.summary),
        metrics={k: dict(v) for k, v in result.metrics.items()},
        report_uri=saved.report_uri,
        predictions_uri=saved.predictions_uri,
        simulated=result.simulated,
        progress={"done": int(result.summary["sampled"]), "total": int(result.summary["sampled"])},
        report_html_uri=saved.report_html_uri,
    )

    if vs_production is not None:
        # Every gate must pass: those against the base model and those against production.
        info = replace(
            info,
            passed=bool(info.passed) and bool(vs_production["passed"]),
            reason=f"{info.reason}; vs production: {vs_production['reason']}",
            vs_production=vs_production,
        )

    def record(r: Run) -> None:
        screened = r.evaluation
        r.evaluation = replace(
            info,
            checkpoints=screened.checkpoints,
            chosen_checkpoint=screened.chosen_checkpoint,
            checkpoint_note=screened.checkpoint_note,
        )

    verdict = "gates passed" if info.passed else "gates FAILED"
    note = f"evaluation done: {verdict} ({info.reason})" + (
        " [simulated]" if result.simulated else ""
    )
    done = advance(deps, run.run_id, [S.EVALUATING], S.SUCCEEDED, note=note, change=record)
    if done is not None:
        maybe_auto_promote(deps, done)  # never raises: the run stays SUCCEEDED either way
    return "evaluated"
