"""Step 2 (launcher function, and the poller for queued runs): start the tuning job.

Exactly-one-job protocol, safe under redelivery, concurrency and crashes:

0. Budget: a run over its cost limit ends FAILED (`over_budget`) with the figures, before any
   claim (`pipeline/budget.py`).
1. Claim: compare-and-set VALIDATED/QUEUED -> TRAINING with `job.state = CREATING`. Only one
   delivery wins; the rest find the claim and stop. At the concurrency limit the run waits in
   QUEUED instead (the poller starts it, oldest first, when a slot frees).
2. Reconcile: before creating, look for a job labelled `run_id=<run_id>`. A launcher that died
   after creating the job but before recording it is found here, so no second job is created.
3. Create with a deterministic display name and the label; record the job on the run.

A quota refusal from Vertex moves the run back to QUEUED (not FAILED); a 400-class refusal fails
the run with the API's message; transient errors propagate so the platform retries. A run still
without a job LAUNCH_GIVE_UP_SECONDS after its claim (every delivery lost, the poller's retries
failing) is failed by the poller (`launch_gave_up`) once Vertex AI says no job carries its label.
"""

from __future__ import annotations

from shared import logs
from shared.clock import older_than, utcnow
from shared.errors import PermanentError, QuotaExceeded
from shared.ports import Deps, TrainingCurves, TuningJob, TuningJobSpec
from shared.runs import (
    Change,
    Hyperparameters,
    JobInfo,
    JobStats,
    Run,
    RunStatus,
    TuningStats,
    downsample,
    tuning_job_display_name,
)

from . import budget
from .transitions import (
    advance,
    advance_to_training,
    failed,
    failing_run_on_permanent,
    require_run,
)

#: A claimed run with no recorded job after this long had its launcher die: reconcile it. Before
#: that, the claim's own delivery is creating the job, and a second one must not create another.
CLAIM_STALE_SECONDS = 120
#: A run TRAINING this long without a job (every create failed, every delivery lost) is failed by
#: the poller with its reason instead of being retried for ever, once Vertex AI has answered that
#: no job carries its label (so no job is orphaned). Redeliveries never give up: the dead-letter
#: topic ends those.
LAUNCH_GIVE_UP_SECONDS = 6 * 3600


def handle_validated(deps: Deps, run_id: str | None) -> str:
    """A `dataset-validated` message arrived. Returns what happened (for logs and tests)."""
    run = require_run(deps, run_id)
    if run.dry_run:
        return "dry_run"
    with failing_run_on_permanent(
        deps, run.run_id, "launch", [RunStatus.VALIDATED, RunStatus.QUEUED, RunStatus.TRAINING]
    ):
        if run.status in (RunStatus.VALIDATED, RunStatus.QUEUED):
            return try_start(deps, run)
        if run.status == RunStatus.TRAINING and not run.job.name:
            return reconcile(deps, run, delivery=True)
    return f"nothing to do: run is {run.status}"


def try_start(deps: Deps, run: Run) -> str:
    verdict = budget.check(deps, run)
    if not verdict.ok:
        advance(
            deps,
            run.run_id,
            [RunStatus.VALIDATED, RunStatus.QUEUED],
            RunStatus.FAILED,
            note="over budget: no tuning job created",
            change=failed("launch", "over_budget", verdict.message),
        )
        logs.warning(f"refused before any job: {verdict.message}", run_id=run.run_id)
        return "over budget"
    simulated = deps.simulated

    def claim(r: Run) -> None:
        r.job.state = "CREATING"
        r.job.display_name = tuning_job_display_name(r.run_id)
        r.job.claimed_at = utcnow()
        r.job.simulated = simulated

    limit = deps.settings.max_concurrent_jobs
    try:
        # The limit is checked in the same atomic step as the claim (ports.RunStore), so
        # parallel deliveries can never have more than `limit` runs TRAINING.
        claimed = advance_to_training(
            deps,
            run.run_id,
            [RunStatus.VALIDATED, RunStatus.QUEUED],
            limit=limit,
            note="starting the tuning job",
            change=claim,
        )
    except QuotaExceeded:
        if run.status == RunStatus.VALIDATED:
            advance(
                deps,
                run.run_id,
                [RunStatus.VALIDATED],
                RunStatus.QUEUED,
                note=f"waiting for a tuning slot (limit {limit})",
            )
        return "queued"
    if claimed is None:
        return "claimed by another delivery"
    return ensure_job(deps, claimed)


def job_spec(run: Run) -> TuningJobSpec:
    c = run.tuning
    cont = c.continue_from
    return TuningJobSpec(
        run_id=run.run_id,
        display_name=tuning_job_display_name(run.run_id),
        base_model=c.source_model_name,
        # The run's own copies of what was validated (the redacted ones under `redact`).
        training_dataset_uri=_trains_on(run, "train") or run.dataset.uri,
        validation_dataset_uri=_trains_on(run, "validation"),
        tuned_model_display_name=c.tuned_model_display_name or f"{run.run_id}-tuned",
        epoch_count=c.epoch,
        learning_rate_multiplier=c.learning_rate_multiplier,
        adapter_size=c.adapter_size,
        export_last_checkpoint_only=c.export_last_checkpoint_only,
        labels={"run_id": run.run_id, "managed-by": "gemini-tuning-pipeline"},
        pre_tuned_model=cont.model if cont is not None else None,
        pre_tuned_checkpoint=cont.checkpoint if cont is not None else None,
    )


def _trains_on(run: Run, role: str) -> str | None:
    d = run.dataset
    copy = d.trains_on.get(role)
    if copy is not None:
        return copy.uri
    # A run validated before per-run copies existed: the upload (checked by `inputs_problem`).
    if role == "train":
        return d.redacted_train_uri or d.uri
    return d.redacted_validation_uri or d.validation_uri


def inputs_problem(deps: Deps, run: Run) -> str | None:
    """Why the files this run was validated with are no longer there as validated, or None.

    Checked right before a paid job is created: the copies the job trains on (deleted by
    someone, or by the artifacts bucket's retention rule) and the held-out test set the
    evaluator will read after training (it stays in the datasets bucket, read pinned to the
    validated generation)."""
    d, blobs = run.dataset, deps.blobs
    pinned: list[tuple[str, str, str, str]] = [
        (role, c.bucket, c.name, c.generation) for role, c in sorted(d.trains_on.items())
    ]
    if not d.trains_on:
        pinned.append(("train", d.bucket, d.name, d.generation))
        if d.validation_name and d.validation_generation:
            pinned.append(("validation", d.bucket, d.validation_name, d.validation_generation))
    if d.test_name and d.test_generation:
        pinned.append(("test", d.bucket, d.test_name, d.test_generation))
    for role, bucket, name, generation in pinned:
        info = blobs.stat(bucket, name)
        if info is not None and info.generation == generation:
            continue
        what = "was deleted" if info is None else f"was replaced (now generation {info.generation})"
        return (
            f"the {role} file {blobs.uri(bucket, name)} {what} after validation (generation "
            f"{generation} was validated), so no tuning job was started. Upload the dataset's "
            "train.jsonl again, with its siblings in place, to validate and train a new run."
        )
    return None


def record_job(job: TuningJob, curves: TrainingCurves | None = None) -> Change:
    """The change that records what Vertex AI says about the run's job: state, endpoints, the
    hyperparameters it runs with, checkpoints, its data statistics beside the validator's
    estimate, and (when given) the training curves, bounded."""

    def change(r: Run) -> None:
        j = r.job
        j.name, j.state, j.console_url = job.name, job.state, job.console_url
        j.tuned_model_name, j.tuned_model_endpoint = job.tuned_model_name, job.tuned_model_endpoint
        j.simulated, j.started_at, j.ended_at = job.simulated, job.create_time, job.end_time
        j.error_message = job.error_message
        j.base_model = job.base_model or j.base_model
        if job.epoch_count or job.learning_rate_multiplier or job.adapter_size:
            j.hyperparameters = Hyperparameters(
                job.epoch_count, job.learning_rate_multiplier, job.adapter_size
            )
        j.checkpoints = list(job.checkpoints) or j.checkpoints
        j.experiment = job.experiment or j.experiment
        if job.stats is not None:
            # The validator's token estimate at the epochs the job really ran.
            per_epoch = r.validation.summary.get("estimated_tokens")
            epochs = job.epoch_count or j.hyperparameters.epoch_count
            est = per_epoch * epochs if isinstance(per_epoch, int) and epochs else None
            j.stats = _stats(job.stats, est)
            j.warnings = _stat_warnings(job.stats)
        if curves:
            j.curves = {
                k: downsample([[float(s), float(v)] for s, v in pts]) for k, pts in curves.items()
            }

    return change


def _stats(st: TuningStats, est: int | None) -> JobStats:
    error = None
    if est is not None and st.billable_tokens:
        error = round((est - st.billable_tokens) / st.billable_tokens, 4)
    return JobStats(
        examples=st.examples,
        billable_tokens=st.billable_tokens,
        tuning_steps=st.tuning_steps,
        truncated_examples=st.truncated_examples,
        truncated_example_indices=st.truncated_example_indices[:20],
        dropped_example_reasons=st.dropped_example_reasons[:20],
        estimated_billable_tokens=est,
        estimate_error=error,
    )


def _stat_warnings(st: TuningStats) -> list[str]:
    out = []
    if st.truncated_examples:
        first = ", ".join(str(i) for i in st.truncated_example_indices[:5])
        out.append(
            f"Vertex AI truncated {st.truncated_examples} example(s) longer than the model's "
            f"limit (first indices: {first or 'not reported'}); shorten them or split them."
        )
    if st.dropped_example_reasons:
        out.append(
            f"Vertex AI dropped {len(st.dropped_example_reasons)} example(s): "
            + "; ".join(st.dropped_example_reasons[:3])
        )
    return out


def reconcile(deps: Deps, run: Run, *, delivery: bool) -> str:
    """A claimed run with no job recorded (`run` as read): left to its claimer while the claim
    is fresh, since the claimer may be creating the job right now and find-by-label would not
    see it yet; an open claim is taken over atomically (the store's compare-and-set: of a
    redelivery and a poller tick racing, one wins) and its job found or created.

    A claim its delivery released (job creation failed, see `ensure_job`) is open at once to
    a `delivery` (the redelivery, which counts attempts towards the dead-letter topic) but to
    the poller only CLAIM_STALE_SECONDS later: a tick that took it over would leave the
    redelivery nothing to do, so it would be acknowledged and a persistent error never
    dead-lettered (seen in CI: a run TRAINING for ever under 503s)."""
    if not _claim_open(run.job, delivery=delivery):
        return "claimed by another delivery"
    seen, won = (run.job.claimed_at, run.job.released_at), [False]

    def take_over(r: Run) -> None:
        won[0] = not r.job.name and (r.job.claimed_at, r.job.released_at) == seen
        if won[0]:
            r.job.claimed_at, r.job.released_at = utcnow(), None

    taken = deps.store.update(run.run_id, take_over, expected=[RunStatus.TRAINING])
    if taken is None or not won[0]:
        return "claimed by another delivery"
    give_up = not delivery and older_than(
        taken.entered_status_at, LAUNCH_GIVE_UP_SECONDS, missing=False
    )
    return ensure_job(deps, taken, give_up=give_up)


def _claim_open(job: JobInfo, *, delivery: bool) -> bool:
    if delivery and job.released_at is not None:
        return True
    since = job.released_at or job.claimed_at
    return older_than(since, CLAIM_STALE_SECONDS, missing=True)


def _release(r: Run) -> None:
    # claimed_at stays (the month's budget counts the run as started, the page shows when).
    r.job.released_at = utcnow()


def release_training_claims(deps: Deps, reason: str) -> list[str]:
    """Release every claim without a recorded job, so its redelivery reconciles it at once
    instead of after CLAIM_STALE_SECONDS: only for a caller that knows no launcher is running
    (the local runtime at start, holding its root's lock, with the messages still queued)."""
    released = []
    for run in deps.store.list_by_status([RunStatus.TRAINING]):
        if run.job.name or run.job.claimed_at is None or run.job.released_at is not None:
            continue
        if deps.store.update(run.run_id, _release, expected=[RunStatus.TRAINING]):
            logs.warning(f"training claim released: {reason}", run_id=run.run_id)
            released.append(run.run_id)
    return released


def _unclaim(r: Run) -> None:
    r.job.state = None
    r.job.claimed_at = r.job.released_at = None


def ensure_job(deps: Deps, run: Run, *, give_up: bool = False) -> str:
    """The run holds the TRAINING claim: find its job or create it, then record it. A failure
    on the way (a transient error; the job may or may not exist) releases the claim, so the
    redelivery reconciles at once, finding the job by its label if it was created. With
    `give_up` (the poller, past LAUNCH_GIVE_UP_SECONDS) a run with no job is failed instead."""
    try:
        return _ensure_job(deps, run, give_up)
    except Exception:
        deps.store.update(run.run_id, _release, expected=[RunStatus.TRAINING])
        raise


def _fail_claimed(
    deps: Deps, run: Run, note: str, code: str, message: str, *, warn: bool = True
) -> None:
    """End a claimed (TRAINING) run that has no job as FAILED at the launch stage."""
    advance(
        deps,
        run.run_id,
        [RunStatus.TRAINING],
        RunStatus.FAILED,
        note=note,
        change=failed("launch", code, message),
    )
    if warn:
        logs.warning(message, run_id=run.run_id)


def _ensure_job(deps: Deps, run: Run, give_up: bool) -> str:
    found = deps.tuner.find_jobs(run.run_id)
    if not found and give_up:
        hours = LAUNCH_GIVE_UP_SECONDS // 3600
        message = (
            f"no tuning job could be created in {hours} h of attempts (Vertex AI kept failing "
            "or the launch messages were lost); see the launcher function's logs for this run, "
            "fix the cause, then `gemini-tuning retry` it"
        )
        _fail_claimed(
            deps, run, "no tuning job created: launch given up", "launch_gave_up", message
        )
        return "failed (launch given up)"
    if found:
        job = sorted(found, key=lambda j: j.create_time or "")[0]
        if len(found) > 1:
            logs.warning(
                f"{len(found)} jobs carry this run's label; recording the first", run_id=run.run_id
            )
        deps.store.update(run.run_id, record_job(job), expected=[RunStatus.TRAINING])
        logs.info(f"found existing tuning job {job.name}", run_id=run.run_id)
        return "recorded existing job"
    problem = inputs_problem(deps, run)
    if problem is not None:
        note = "dataset changed since validation: no tuning job created"
        _fail_claimed(deps, run, note, "dataset_changed", problem)
        return "failed (dataset changed)"
    try:
        job = deps.tuner.create_job(job_spec(run))
    except QuotaExceeded as e:
        advance(
            deps,
            run.run_id,
            [RunStatus.TRAINING],
            RunStatus.QUEUED,
            note=f"Vertex AI quota: {e.message}; waiting for a slot",
            change=_unclaim,
        )
        return "queued (quota)"
    except PermanentError as e:
        _fail_claimed(deps, run, "tuning job refused", e.code, e.message, warn=False)
        return "failed"
    deps.store.update(run.run_id, record_job(job), expected=[RunStatus.TRAINING])
    logs.info(f"created tuning job {job.name}", run_id=run.run_id)
    return "created"
