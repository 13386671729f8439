"""`evaluate`: sample, predict with the tuned and the base model, score, gate, report.

Pure logic over the `Models` port: no cloud client and no file I/O, so the same code runs in the
evaluator function, in local mode against the simulator, and in unit tests against a fake.

Scores compare like with like: an example counts towards the metrics only when BOTH models
answered it, so a transient failure on one side cannot tilt the tuned-vs-base delta. The same
holds for the optional pairwise judge (`judge=`): it sees exactly those examples.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import asdict
from typing import Any

from shared.errors import PermanentError, TransientError
from shared.evaluation.examples import SKIP_REASONS, EvalExample, sample
from shared.evaluation.gates import check_gates
from shared.evaluation.judging import Verdict, judge_pairs, summarize
from shared.evaluation.metrics import (
    METRIC_NAMES,
    PairStats,
    corpus_scores,
    pair_stats,
    sentence_scores,
)
from shared.evaluation.predict import Prediction, predict
from shared.evaluation.result import EvaluationResult
from shared.ports import Judge, Models
from shared.tuning_config import EvaluationConfig

REPORT_VERSION = 1
ROLES = ("tuned", "base")
MAX_ERRORS_IN_REPORT = 50
_ROUND = 6

METRIC_NOTES = {
    "exact_match": "share of answers equal to the reference after NFKC and whitespace folding",
    "bleu": "corpus BLEU-4, exp smoothing, brevity penalty; CJK characters and words as tokens",
    "chrf": "corpus chrF, character n-grams up to 6, beta 2 (sacrebleu's default chrF)",
    "rouge_l": "mean ROUGE-L F1 (longest common token subsequence); CJK characters as tokens",
}


def _row(
    ex: EvalExample,
    preds: Mapping[str, Prediction],
    scores: Mapping[str, dict[str, float] | None],
) -> dict[str, Any]:
    return {
        "index": ex.index,
        "prompt": ex.prompt_text,
        "reference": ex.reference,
        **{role: preds[role].text for role in ROLES},
        "scores": scores,
        "errors": {role: preds[role].error for role in ROLES},
    }


def _too_many_failures(errors: Mapping[str, int], calls: int, first: str | None) -> None:
    failed = sum(errors.values())
    if calls and failed * 2 > calls:
        raise TransientError(
            f"{failed} of {calls} prediction calls failed (tuned: {errors['tuned']}, "
            f"base: {errors['base']}); first error: {first}. The evaluation will be retried; "
            "if it keeps failing, check that both models are deployed and reachable.",
            code="evaluation_predictions_failed",
        )


def evaluate(
    models: Models,
    examples: Iterable[Mapping[str, Any]],
    *,
    tuned_model: str,
    base_model: str,
    config: EvaluationConfig,
    seed: str,
    judge: Judge | None = None,
) -> EvaluationResult:
    """Compare `tuned_model` with `base_model` on a seeded sample of `examples`.

    With a `judge`, every example both models answered is also judged pairwise (tuned =
    candidate, base = baseline); the counts land in `summary["judge"]` and `report["judge"]`.

    Raises `TransientError` when more than half of the prediction calls fail (the platform
    retries later) and `PermanentError` when no example can be scored at all.
    """
    metrics_wanted = tuple(m for m in config.metrics if m in METRIC_NAMES)
    t0 = time.perf_counter()

    extraction = sample(examples, size=config.sample_size, seed=seed)
    picked = extraction.examples
    if not picked:
        found = ", ".join(f"{n} {SKIP_REASONS[c]}" for c, n in extraction.skipped.items())
        raise PermanentError(
            f"no example could be evaluated: read {extraction.seen} example(s)"
            + (f"; skipped {found}" if found else "")
            + ". Provide a test.jsonl (or validation.jsonl) whose examples end with a model turn "
            "that has text.",
            code="no_evaluation_examples",
        )
    t1 = time.perf_counter()

    tuned_preds, base_preds = predict(
        models,
        (tuned_model, base_model),
        picked,
        max_concurrency=config.max_concurrency,
    )
    t2 = time.perf_counter()

    errors = {"tuned": 0, "base": 0}
    error_list: list[dict[str, Any]] = []
    simulated = False
    scored: dict[str, list[PairStats]] = {role: [] for role in ROLES}
    rows: list[dict[str, Any]] = []
    for ex, tp, bp in zip(picked, tuned_preds, base_preds, strict=True):
        preds = {"tuned": tp, "base": bp}
        scores: dict[str, dict[str, float] | None] = {}
        for role, pred in preds.items():
            simulated = simulated or pred.simulated
            if pred.text is None:
                errors[role] += 1
                error_list.append({"index": ex.index, "model": role, "error": pred.error})
                scores[role] = None
                continue
            stats = pair_stats(pred.text, ex.reference, metrics_wanted)
            scores[role] = {
                k: round(v, _ROUND) for k, v in sentence_scores(stats, metrics_wanted).items()
            }
            if tp.ok and bp.ok:
                scored[role].append(stats)
        rows.append(_row(ex, preds, scores))

    first_error = error_list[0]["error"] if error_list else None
    _too_many_failures(errors, 2 * len(picked), first_error)
    n_scored = len(scored["tuned"])
    if n_scored == 0:
        raise TransientError(
            f"no example got an answer from both models ({len(picked)} sampled); first error: "
            f"{first_error}. The evaluation will be retried.",
            code="evaluation_predictions_failed",
        )

    t_judge = time.perf_counter()
    judge_summary: dict[str, Any] | None = None
    if judge is not None:
        both = [
            (ex, tp.text, bp.text)
            for ex, tp, bp in zip(picked, tuned_preds, base_preds, strict=True)
            if tp.text is not None and bp.text is not None
        ]
        verdicts = judge_pairs(judge, both, max_concurrency=config.max_concurrency)
        judge_summary = summarize(verdicts)
        _attach_verdicts(rows, [ex.index for ex, _, _ in both], verdicts, error_list)
    t_judged = time.perf_counter()

    per_role = {role: corpus_scores(scored[role], metrics_wanted) for role in ROLES}
    metrics = {
        m: {role: round(per_role[role][m], _ROUND) for role in ROLES} for m in metrics_wanted
    }
    passed, reason, outcomes = check_gates(config.gates, metrics)
    t3 = time.perf_counter()

    summary: dict[str, Any] = {
        "examples_seen": extraction.seen,
        "sampled": len(picked),
        "scored": n_scored,
        "skipped": dict(extraction.skipped),
        "prediction_errors": errors,
        "simulated": simulated,
    }
    if judge_summary is not None:
        summary["judge"] = judge_summary
    report: dict[str, Any] = {
        "version": REPORT_VERSION,
        "models": {"tuned": tuned_model, "base": base_model},
        "seed": seed,
        "config": {
            "sample_size": config.sample_size,
            "metrics": list(metrics_wanted),
            "max_concurrency": config.max_concurrency,
            "judge": judge is not None,
            "gates": {k: asdict(g) for k, g in config.gates.items()},
        },
        "passed": passed,
        "reason": reason,
        "metrics": metrics,
        "metric_notes": {m: METRIC_NOTES[m] for m in metrics_wanted},
        "gates": [o.to_dict() for o in outcomes],
        "summary": summary,
        "skip_reasons": {c: SKIP_REASONS[c] for c in extraction.skipped},
        "errors": error_list[:MAX_ERRORS_IN_REPORT],
        "timings": {
            "sampling_seconds": round(t1 - t0, 3),
            "prediction_seconds": round(t2 - t1, 3),
            "judging_seconds": round(t_judged - t_judge, 3),
            "scoring_seconds": round(t3 - t2 - (t_judged - t_judge), 3),
            "total_seconds": round(t3 - t0, 3),
        },
        "simulated": simulated,
    }
    if judge_summary is not None:
        report["judge"] = judge_summary
    return EvaluationResult(
        passed=passed,
        reason=reason,
        metrics=metrics,
        summary=summary,
        report=report,
        rows=tuple(rows),
    )


def _attach_verdicts(
    rows: list[dict[str, Any]],
    indexes: list[int],
    verdicts: list[Verdict],
    error_list: list[dict[str, Any]],
) -> None:
    """Each judged row gets `judge: {choice, explanation}` (or its error) for predictions.jsonl."""
    by_index = {row["index"]: row for row in rows}
    for index, verdict in zip(indexes, verdicts, strict=True):
        j = verdict.judgement
        if j is None:
            by_index[index]["judge"] = {"error": verdict.error}
            error_list.append({"index": index, "model": "judge", "error": verdict.error})
        else:
            by_index[index]["judge"] = {"choice": j.choice, "explanation": j.explanation}
