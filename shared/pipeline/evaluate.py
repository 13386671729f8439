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

from shared.backend import Backend
from shared.config import TuningConfig, apply_overrides
from shared.errors import PermanentError
from shared.pipeline import layout
from shared.runs import Run, RunStatus

from .transitions import advance, failing_run_on_permanent

S = RunStatus


def handle_evaluation_request(backend: Backend, run_id: str) -> str:
    run = backend.store.get(run_id)
    if run is None:
        raise PermanentError(f"no run {run_id!r}: the message refers to an unknown run")
    if run.status == S.TRAINED:
        run = advance(
            backend, run_id, [S.TRAINED], S.EVALUATING, note="evaluating tuned vs base model"
        ) or backend.store.get(run_id)
        if run is None or run.status != S.EVALUATING:
            return "claimed by another delivery"
    elif run.status != S.EVALUATING:
        return f"nothing to do: run is {run.status}"
    with failing_run_on_permanent(backend, run_id, "evaluation", [S.EVALUATING]):
        return _evaluate(backend, run)


def _eval_config(run: Run) -> TuningConfig:
    raw = dict(run.config.get("evaluation") or {})
    # The stored config is already resolved; re-validate it into typed form.
    return apply_overrides(
        TuningConfig(source_model_name=run.config["source_model_name"]),
        {"evaluation": raw},
        source=f"run {run.run_id} config",
    )


def _evaluate(backend: Backend, run: Run) -> str:
    from shared.datasets import iter_examples
    from shared.evaluation import evaluate

    blobs, s = backend.blobs, backend.settings
    bucket = run.dataset.bucket
    name = _eval_set_name(run)
    if name is None:
        advance(
            backend,
            run.run_id,
            [S.EVALUATING],
            S.SUCCEEDED,
            note="no test.jsonl or validation.jsonl: evaluation skipped",
            patch={
                "evaluation": {"passed": None, "reason": "no test or validation set to evaluate on"}
            },
        )
        return "skipped"
    config = _eval_config(run)
    with blobs.open_read(bucket, name) as stream:
        examples = [ex for _, ex in iter_examples(stream)]
    endpoint = run.job.tuned_model_endpoint
    if not endpoint:
        raise PermanentError("the run has no tuned model endpoint to evaluate")
    result = evaluate(
        backend.models,
        examples,
        tuned_model=endpoint,
        base_model=config.source_model_name,
        config=config.evaluation,
        seed=run.run_id,
        judge=backend.judge if config.evaluation.judge else None,
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
    simulated = result.simulated
    patch = {
        "evaluation": {
            "passed": result.passed,
            "reason": result.reason,
            "summary": dict(result.summary),
            "metrics": {k: dict(v) for k, v in result.metrics.items()},
            "report_uri": blobs.uri(s.artifacts_bucket, report_name),
            "predictions_uri": blobs.uri(s.artifacts_bucket, pred_name),
            "simulated": simulated,
        }
    }
    verdict = "gates passed" if result.passed else "gates FAILED"
    note = f"evaluation done: {verdict} ({result.reason})" + (" [simulated]" if simulated else "")
    advance(backend, run.run_id, [S.EVALUATING], S.SUCCEEDED, note=note, patch=patch)
    return "evaluated"


def _eval_set_name(run: Run) -> str | None:
    for uri in (run.dataset.test_uri, run.dataset.validation_uri):
        if uri:
            # The run stores URIs; the objects sit beside the training file in the same folder.
            folder = run.dataset.name.rsplit("/", 1)[0]
            return f"{folder}/{uri.rsplit('/', 1)[-1]}"
    return None
