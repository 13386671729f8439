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
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from shared.catalog import Catalog, lowest_thinking
from shared.errors import NotFound, PermanentError, TransientError
from shared.events import EVALUATION_REQUESTED, encode_message
from shared.pipeline import layout
from shared.ports import Blobs, Deps, GenerationSettings, Models
from shared.runs import EvaluationInfo, Run, RunStatus, verdict_of
from shared.tuning_config import EvaluationConfig

from .promote import maybe_auto_promote
from .transitions import advance, failing_run_on_permanent, require_run

if TYPE_CHECKING:  # the evaluation package loads lazily, only when a run is evaluated
    from shared.evaluation.cost import EvalCost
    from shared.evaluation.result import EvaluationResult

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
    if found.status == RunStatus.TRAINED:
        run = advance(
            deps,
            found.run_id,
            [RunStatus.TRAINED],
            RunStatus.EVALUATING,
            note="evaluating tuned vs base model",
        ) or deps.store.get(found.run_id)
        if run is None or run.status != RunStatus.EVALUATING:
            return "claimed by another delivery"
    elif found.status != RunStatus.EVALUATING:
        return f"nothing to do: run is {found.status}"
    assert run is not None
    with failing_run_on_permanent(deps, run.run_id, "evaluation", [RunStatus.EVALUATING]):
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

    deps.store.update(run.run_id, record, expected=[RunStatus.EVALUATING])
    return chosen.endpoint


def generation_settings(deps: Deps, model: str) -> GenerationSettings:
    """The one place evaluation, re-evaluation and chat get their settings: thinking off or at
    its lowest for the base model's family (the catalog), as Google advises for tuned models
    and as a fair comparison needs (every model compared gets the same)."""
    budget, level = lowest_thinking(deps.settings.catalog.get(model))
    return GenerationSettings(thinking_budget=budget, thinking_level=level)


def chunk_key(
    tuned: str,
    baseline: str,
    name: str,
    generation: str | None,
    ev: EvaluationConfig,
    settings: GenerationSettings,
) -> str:
    """What a set of saved chunks answers: a change to any of these starts them afresh."""
    from shared.evaluation.chunks import fingerprint
    from shared.evaluation.judging import JUDGE_TEMPLATE_VERSION

    parts: list[object] = [
        tuned, baseline, name, generation, ev.sample_size, ev.judge, ev.rubric,
        ev.rubric_dimensions, ev.metrics, repr(settings),
    ]  # fmt: skip
    if ev.judge:  # both orders since this version: older single-order verdicts are not reused
        parts.append(JUDGE_TEMPLATE_VERSION)
    return fingerprint(parts)


def training_examples(deps: Deps, run: Run) -> PinnedExamples:
    """The training file as validated: what leakage is measured against."""
    d = run.dataset
    return PinnedExamples(
        deps.blobs, d.bucket, d.name, d.generation,
        model=run.tuning.source_model_name, catalog=deps.settings.catalog,
    )  # fmt: skip


def compare(
    deps: Deps,
    run: Run,
    examples: Any,
    *,
    tuned: str,
    baseline: str,
    ev: EvaluationConfig,
    settings: GenerationSettings,
    chunks_prefix: str,
    deadline: float | None = None,
    on_progress: Any = None,
    reuse: Any = None,
    models: Models | None = None,
) -> tuple[EvaluationResult, Any]:
    """The core every evaluation of a run goes through (the evaluator, its comparison with
    production, `gemini-tuning evaluate`): one seeded sample, chunks saved under
    `chunks_prefix`, the judge when asked for, leakage against the run's training file.
    Returns the result and its checkpoints (a later comparison reuses their tuned answers).
    `models`: who answers (default the deployment's models; a batch evaluation's answers)."""
    from shared.evaluation import evaluate
    from shared.evaluation.chunks import BlobCheckpoints

    checkpoints = BlobCheckpoints(deps.blobs, deps.settings.artifacts_bucket, chunks_prefix)
    result = evaluate(
        models or deps.models, examples, tuned_model=tuned, base_model=baseline, config=ev,
        seed=run.run_id, judge=deps.judge if ev.judge or ev.rubric else None,
        checkpoints=checkpoints, deadline=deadline, on_progress=on_progress,
        settings=settings, training=training_examples(deps, run), reuse=reuse,
    )  # fmt: skip
    return result, checkpoints


def combine(*verdicts: bool | None) -> bool | None:
    """Several comparisons' `passed` as one: None (NOT GATED) when none was gated, else every
    gated one must have passed."""
    gated = [v for v in verdicts if v is not None]
    return None if not gated else all(gated)


def _compare_with_production(
    deps: Deps,
    run: Run,
    examples: Any,
    endpoint: str,
    settings: GenerationSettings,
    key: str,
    deadline: float,
    reuse: Any,
    models: Models | None = None,
) -> dict[str, Any] | None:
    """The same evaluation with the current production model as the baseline, when there is
    one other than this run (`evaluation.compare_production`), under `production_gates`. The
    tuned answers are those of the comparison with base (`reuse`): paid once. Its chunks are
    saved and resumed like the main ones; its reports go beside them."""
    ev = run.tuning.evaluation
    current = deps.production.current() if ev.compare_production else None
    if current is None or current.run_id == run.run_id:
        return None
    prefix = f"{layout.evaluation_prefix(run.run_id)}vs-production/"
    result, _ = compare(
        deps, run, examples, tuned=endpoint, baseline=current.endpoint,
        ev=replace(ev, gates=ev.production_gates), settings=settings,
        chunks_prefix=f"{prefix}chunks/{key}-{current.sequence}/", deadline=deadline,
        reuse=reuse, models=models,
    )  # fmt: skip
    result = replace(result, report=replace(result.report, run_id=run.run_id, against="production"))
    saved = save_result(deps.blobs, deps.settings.artifacts_bucket, prefix, result)
    return {
        "production_run": current.run_id,
        "production_endpoint": current.endpoint,
        "passed": result.passed,
        "verdict": result.verdict,
        "promotable": result.promotable,
        "reason": result.reason,
        "metrics": {k: dict(v) for k, v in result.metrics.items()},
        "per_metric": result.report.per_metric,
        "judge": result.summary.get("judge"),
        "reused_answers": result.report.reused_answers,
        "tokens": result.report.tokens,
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


def _eval_role(run: Run) -> str:
    return "test" if run.dataset.test_name else "validation"


def estimate_cost(deps: Deps, run: Run) -> EvalCost:
    """The evaluation's own cost before its first call (`shared.evaluation.cost`): the sample
    asked of the tuned model once and of every baseline (base, production when compared),
    checkpoint screening, and judge calls (pairwise in both orders, rubric per answer)."""
    from shared.evaluation.cost import estimate, eval_set_tokens, output_share

    ev = run.tuning.evaluation
    summary = run.validation.summary
    n = sample_count(run)
    batch = ev.uses_batch(n)
    production = deps.production.current() if ev.compare_production else None
    baselines = 1 + (production is not None and production.run_id != run.run_id)
    exported = max(
        len(run.job.checkpoints), run.tuning.epoch or run.job.hyperparameters.epoch_count or 0
    )
    screening = (
        ev.checkpoint_sample_size * exported
        if ev.choose_checkpoint and exported > 1 and not batch
        else 0
    )
    judge = baselines * (2 * ev.judge + 2 * len(ev.rubric_dimensions) * ev.rubric)
    lim = deps.settings.catalog.limits_for(run.tuning.source_model_name)
    return estimate(
        examples=n,
        answers_per_example=1 + baselines,
        tokens_per_example=eval_set_tokens(summary, _eval_role(run)) or 0.0,
        output_share=output_share(summary),
        screening_calls=screening,
        judge_calls_per_example=judge,
        input_price=lim.prices(batch=batch)[0] if lim else None,
        output_price=lim.prices(batch=batch)[1] if lim else None,
        pricing="batch" if batch else "online",
    )


def sample_count(run: Run) -> int:
    """How many examples the evaluation asks about: the sample size, or fewer when the eval
    set (as the validator counted it) is smaller. What `evaluation.mode: auto` decides on."""
    ev = run.tuning.evaluation
    summary = run.validation.summary
    examples_in_set = ((summary.get("files") or {}).get(_eval_role(run)) or {}).get("examples")
    return (
        min(ev.sample_size, examples_in_set) if isinstance(examples_in_set, int) else ev.sample_size
    )


def actual_cost(
    deps: Deps,
    run: Run,
    parts: Sequence[tuple[Mapping[str, Mapping[str, int]], Mapping[str, Any] | None]],
    estimated: EvalCost | None,
    *,
    batch: bool = False,
) -> EvalCost:
    """The billed tokens the responses reported, over every comparison of this evaluation:
    `parts` holds each comparison's report tokens and judge summary; priced at batch prices
    when the answers came from batch inference jobs."""
    from shared.evaluation.cost import actual

    tokens: dict[str, dict[str, int]] = {}
    judge_calls = 0
    for i, (counted, judge) in enumerate(parts):
        for role, t in counted.items():
            tokens[f"{i}:{role}"] = dict(t)
        pw = (judge or {}).get("pairwise") or {}
        judge_calls += 2 * int(pw.get("judged", 0)) + int(pw.get("errors", 0))
    lim = deps.settings.catalog.limits_for(run.tuning.source_model_name)
    return actual(
        tokens,
        judge_calls=judge_calls,
        input_price=lim.prices(batch=batch)[0] if lim else None,
        output_price=lim.prices(batch=batch)[1] if lim else None,
        estimated=estimated,
        pricing="batch" if batch else "online",
    )


def _skipped(r: Run) -> None:
    r.evaluation.passed = None
    r.evaluation.reason = "no test or validation set to evaluate on"


def info_from(result: EvaluationResult, saved: SavedResult) -> EvaluationInfo:
    """What the run document keeps of one evaluation: the verdict, per-metric intervals and
    gate outcomes, leakage, judge and rubric figures, and where the reports are."""
    from shared.evaluation.leakage import leakage_from_dict

    report = result.report
    sampled = int(result.summary["sampled"])
    return EvaluationInfo(
        passed=result.passed,
        reason=result.reason,
        summary=dict(result.summary),
        metrics={k: dict(v) for k, v in result.metrics.items()},
        report_uri=saved.report_uri,
        predictions_uri=saved.predictions_uri,
        simulated=result.simulated,
        progress={"done": sampled, "total": sampled},
        report_html_uri=saved.report_html_uri,
        verdict=result.verdict,
        per_metric=dict(report.per_metric),
        leakage=leakage_from_dict(report.leakage),
        unleaked_metrics={k: dict(v) for k, v in report.unleaked_metrics.items()},
        judge=report.judge,
        rubric=report.rubric,
        promotable=result.promotable,
    )


def _claim_cost(deps: Deps, run: Run) -> EvalCost:
    """The estimate, recorded on the run before the first paid call (kept on redelivery)."""
    from shared.evaluation.cost import EvalCost

    if run.evaluation.cost and run.evaluation.cost.get("basis") == "estimate":
        return EvalCost(**run.evaluation.cost)
    est = estimate_cost(deps, run)

    def change(r: Run) -> None:
        r.evaluation.cost = est.to_dict()

    deps.store.update(run.run_id, change, expected=[RunStatus.EVALUATING])
    return est


def _evaluate(deps: Deps, run: Run, *, deadline: float) -> str:
    from shared.evaluation.runner import EvaluationIncomplete

    blobs, s = deps.blobs, deps.settings
    target = eval_set(run)
    if target is None:
        advance(
            deps,
            run.run_id,
            [RunStatus.EVALUATING],
            RunStatus.SUCCEEDED,
            note="no test.jsonl or validation.jsonl: evaluation skipped",
            change=_skipped,
        )
        return "skipped"
    name, generation = target
    config = run.tuning
    examples = PinnedExamples(
        blobs,
        run.dataset.bucket,
        name,
        generation,
        model=config.source_model_name,
        catalog=s.catalog,
    )
    endpoint = run.job.tuned_model_endpoint
    if not endpoint:
        raise PermanentError("the run has no tuned model endpoint to evaluate")
    ev = config.evaluation
    estimated = _claim_cost(deps, run)
    settings = generation_settings(deps, config.source_model_name)
    batch = ev.uses_batch(sample_count(run))
    if not batch:  # screening asks every checkpoint online; a batch job asks the default one
        endpoint = choose_checkpoint(deps, run, examples, settings) or endpoint
    key = chunk_key(endpoint, config.source_model_name, name, generation, ev, settings)
    models: Models | None = None
    if batch:
        from .batch_eval import answers_when_ready

        ready = answers_when_ready(
            deps, run, examples, endpoint=endpoint, settings=settings, key=key
        )
        if isinstance(ready, str):
            return ready  # the poller asks again when the jobs have ended
        models = ready

    def progress(done: int, total: int) -> None:
        def change(r: Run) -> None:
            r.evaluation.progress = {"done": done, "total": total}

        deps.store.update(run.run_id, change, expected=[RunStatus.EVALUATING])

    try:
        result, checkpoints = compare(
            deps, run, examples, tuned=endpoint, baseline=config.source_model_name, ev=ev,
            settings=settings, chunks_prefix=layout.evaluation_chunks_prefix(run.run_id, key),
            deadline=deadline, on_progress=progress, models=models,
        )  # fmt: skip
        vs_production = _compare_with_production(
            deps, run, examples, endpoint, settings, key, deadline, checkpoints, models
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
    return _finish(deps, run, result, vs_production, estimated, blobs.uri(run.dataset.bucket, name))


def _finish(
    deps: Deps,
    run: Run,
    result: EvaluationResult,
    vs_production: dict[str, Any] | None,
    estimated: EvalCost,
    eval_set_uri: str,
) -> str:
    """Write the reports, record the verdict and the actual cost, move the run to SUCCEEDED
    and offer it for auto-promotion."""
    current = deps.store.get(run.run_id) or run
    parts = [(result.report.tokens, result.report.judge)]
    if vs_production is not None:
        parts.append((vs_production["tokens"], vs_production["judge"]))
    cost = actual_cost(deps, run, parts, estimated, batch=current.evaluation.batch is not None)
    spent = {"estimate": estimated.to_dict(), "actual": cost.to_dict()}
    result = replace(
        result,
        report=replace(
            result.report,
            run_id=run.run_id,
            eval_set=eval_set_uri,
            checkpoints=current.evaluation.checkpoints,
            chosen_checkpoint=current.evaluation.chosen_checkpoint,
            training_curves=current.job.curves,
            checkpoint_steps={c.checkpoint_id: c.step for c in current.job.checkpoints},
            cost=spent,
        ),
    )
    saved = save_result(
        deps.blobs, deps.settings.artifacts_bucket, layout.evaluation_prefix(run.run_id), result
    )
    info = replace(info_from(result, saved), cost=spent)
    if vs_production is not None:
        # Every gate must pass: those against the base model and those against production.
        passed = combine(info.passed, vs_production["passed"])
        info = replace(
            info,
            passed=passed,
            verdict=verdict_of(passed),
            promotable=bool(info.promotable) and vs_production["passed"] is not False,
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
            batch=screened.batch,
        )

    leak = info.leakage or {}
    note = (
        f"evaluation done: {info.verdict} ({info.reason})"
        + (f" [leakage {leak.get('share', 0):.0%}]" if leak.get("warning") else "")
        + (" [simulated]" if result.simulated else "")
    )
    done = advance(
        deps, run.run_id, [RunStatus.EVALUATING], RunStatus.SUCCEEDED, note=note, change=record
    )
    if done is not None:
        maybe_auto_promote(deps, done)  # never raises: the run stays SUCCEEDED either way
    return "evaluated"
