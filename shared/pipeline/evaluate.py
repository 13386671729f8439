"""Step 4 (evaluator function): compare the tuned model with its base model, apply the gates.

Eval set = `test.jsonl`, else `validation.jsonl`. The report and the predictions go to the
artifacts bucket; the run keeps the summary, the metrics and where the report is. A run whose
gates fail still ends SUCCEEDED (training worked) with `evaluation.passed = false` and the reason,
so a person or a release job decides what to do with the model.

Redelivery is safe: TRAINED -> EVALUATING is a compare-and-set, and an EVALUATING run found by
a redelivered message (the evaluator crashed) is evaluated again with the same seeded sample.
"""

from __future__ import annotations

from dataclasses import replace

from shared.errors import NotFound, PermanentError
from shared.pipeline import layout
from shared.ports import Deps
from shared.runs import EvaluationInfo, Run, RunStatus

from .transitions import advance, failing_run_on_permanent, require_run

S = RunStatus


def handle_evaluation_request(deps: Deps, run_id: str | None) -> str:
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
        return _evaluate(deps, run)


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


def _evaluate(deps: Deps, run: Run) -> str:
    from shared.datasets import iter_examples
    from shared.evaluation import evaluate

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
    try:
        with blobs.open_read(bucket, name, generation=generation) as stream:
            examples = [ex for _, ex in iter_examples(stream)]
    except NotFound:
        raise PermanentError(
            f"{name} was replaced or deleted after validation (the run validated generation "
            f"{generation}); a run is only evaluated on what was validated. Upload train.jsonl "
            "again to validate and tune on the new set.",
            code="eval_set_replaced",
        ) from None
    endpoint = run.job.tuned_model_endpoint
    if not endpoint:
        raise PermanentError("the run has no tuned model endpoint to evaluate")
    result = evaluate(
        deps.models,
        examples,
        tuned_model=endpoint,
        base_model=config.source_model_name,
        config=config.evaluation,
        seed=run.run_id,
        judge=deps.judge if config.evaluation.judge else None,
    )
    where = {"run_id": run.run_id, "eval_set": blobs.uri(bucket, name)}
    result = replace(result, report={**result.report, **where})
    report_name = layout.evaluation_report_name(run.run_id)
    pred_name = layout.predictions_name(run.run_id)
    blobs.write_bytes(
        s.artifacts_bucket, pred_name, result.predictions_jsonl(), content_type="application/jsonl"
    )
    blobs.write_bytes(
        s.artifacts_bucket,
        report_name,
        result.report_json(),
        content_type="application/json",
    )
    info = EvaluationInfo(
        passed=result.passed,
        reason=result.reason,
        summary=dict(result.summary),
        metrics={k: dict(v) for k, v in result.metrics.items()},
        report_uri=blobs.uri(s.artifacts_bucket, report_name),
        predictions_uri=blobs.uri(s.artifacts_bucket, pred_name),
        simulated=result.simulated,
    )

    def record(r: Run) -> None:
        r.evaluation = info

    verdict = "gates passed" if result.passed else "gates FAILED"
    note = f"evaluation done: {verdict} ({result.reason})" + (
        " [simulated]" if result.simulated else ""
    )
    advance(deps, run.run_id, [S.EVALUATING], S.SUCCEEDED, note=note, change=record)
    return "evaluated"
