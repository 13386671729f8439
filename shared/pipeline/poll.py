"""Step 3 (poller function, on a Cloud Scheduler tick): watch active jobs, start queued runs.

Reads only active runs (QUEUED, TRAINING, TRAINED, EVALUATING) — never the history of finished
ones — so a tick costs the same with ten runs or ten thousand finished ones (see BENCHMARKS.md).
One failing run never stops the tick: its error is logged and the next tick tries again.
The scheduled checks (`watch`: the retirement watch on the first tick after a start and then
daily, which reads the SUCCEEDED runs once; the weekly catalog check) are one call at the end.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from shared import logs
from shared.clock import older_than, utcnow
from shared.errors import NotFound, PipelineError
from shared.events import EVALUATION_REQUESTED, encode_message
from shared.ports import (
    JOB_ACTIVE_STATES,
    JOB_CANCELLED_STATES,
    JOB_FAILURE_STATES,
    JOB_SUCCESS_STATES,
    Deps,
    TrainingCurves,
    TuningJob,
)
from shared.runs import ACTIVE_FOR_POLLER, NON_TERMINAL, Change, Run, RunStatus, StuckWarning

from .batch_eval import check_batch_evaluations
from .launch import LAUNCH_GIVE_UP_SECONDS, reconcile, record_job, try_start
from .transitions import advance, failed, publish_run_event
from .watch import scheduled_checks

#: A TRAINED run whose evaluation did not start after this long gets its request re-sent.
EVALUATION_RESEND_SECONDS = 300


@dataclass
class TickReport:
    checked: int = 0
    changed: list[str] = field(default_factory=list)
    started: list[str] = field(default_factory=list)
    warned: list[str] = field(default_factory=list)  #: runs warned about as stuck
    errors: list[str] = field(default_factory=list)
    lifecycle: list[str] = field(default_factory=list)  #: keys of lifecycle warnings sent


def poll_once(deps: Deps) -> TickReport:
    report = TickReport()
    # With STUCK_AFTER_MINUTES every working run is read (still never the finished ones).
    # EVALUATING runs too: a batch evaluation's jobs are followed here.
    watch = NON_TERMINAL if deps.settings.stuck_after_minutes is not None else ACTIVE_FOR_POLLER
    watch = watch | {RunStatus.EVALUATING}
    every = deps.store.list_by_status(watch)
    runs = [r for r in every if r.status in ACTIVE_FOR_POLLER]
    report.checked = len(runs)
    for run in runs:
        try:
            if run.status == RunStatus.TRAINING:
                _check_training(deps, run, report)
            elif run.status == RunStatus.TRAINED and older_than(
                run.updated_at, EVALUATION_RESEND_SECONDS, missing=True
            ):
                request_evaluation(deps, run.run_id)
        except PipelineError as e:
            report.errors.append(f"{run.run_id}: {e.message}")
            logs.warning(f"poll: {e.message}", run_id=run.run_id)
    for run in sorted(
        (r for r in runs if r.status == RunStatus.QUEUED), key=lambda r: r.created_at
    ):
        try:
            result = try_start(deps, run)
        except PipelineError as e:  # e.g. Vertex unavailable: the queue waits for the next tick
            report.errors.append(f"{run.run_id}: {e.message}")
            logs.warning(f"poll: could not start a queued run: {e.message}", run_id=run.run_id)
            break
        if result == "queued":
            break  # no slot left: the rest keep their place in the queue
        if result == "over budget":
            report.changed.append(run.run_id)
            continue
        report.started.append(run.run_id)
    report.changed += check_batch_evaluations(deps, every, report.errors)
    for run in every:
        try:
            if warn_if_stuck(deps, run):
                report.warned.append(run.run_id)
        except PipelineError as e:
            logs.warning(f"poll: stuck check: {e.message}", run_id=run.run_id)
    report.lifecycle = scheduled_checks(deps)
    return report


def warn_if_stuck(deps: Deps, run: Run) -> bool:
    """One warning run-event when `run` has sat in its status longer than
    STUCK_AFTER_MINUTES, recorded on the run so later ticks do not repeat it."""
    minutes = deps.settings.stuck_after_minutes
    since = run.entered_status_at
    if minutes is None or run.is_terminal or not older_than(since, minutes * 60, missing=False):
        return False
    if run.stuck is not None and run.stuck.status == run.status and run.stuck.since == since:
        return False
    if run.status == RunStatus.TRAINING and not run.job.name:
        hint = _NO_JOB_HINT
    else:
        hint = _STUCK_HINT.get(run.status, "check the logs for this run id")
    message = f"{run.status} for more than {minutes} minutes (since {since}); {hint}"
    won = [False]

    def mark(r: Run) -> None:
        already = r.stuck is not None and r.stuck.status == r.status and r.stuck.since == since
        won[0] = not already and r.status == run.status
        if won[0]:
            r.stuck = StuckWarning(r.status, since, utcnow(), message)

    updated = deps.store.update(run.run_id, mark, expected=[run.status])
    if updated is None or not won[0]:
        return False
    logs.warning(f"run stuck: {message}", run_id=run.run_id)
    publish_run_event(deps, updated, message, kind="warning")
    return True


_STUCK_HINT = {
    RunStatus.RECEIVED: "the validator has not picked it up: check the validator function's logs",
    RunStatus.VALIDATING: "validation has not finished: check the validator function's logs",
    RunStatus.VALIDATED: (
        "the launcher has not started it: check the launcher and the dead-letter topic"
    ),
    RunStatus.QUEUED: "it waits for a tuning slot: other jobs hold MAX_CONCURRENT_JOBS",
    RunStatus.TRAINING: "the tuning job is still running: see its Vertex AI console link",
    RunStatus.TRAINED: "the evaluation has not started: check the evaluator function's logs",
    RunStatus.EVALUATING: "the evaluation has not finished: check the evaluator function's logs",
}


#: TRAINING without a job: the launch claimed the run but creating its job keeps failing, and
#: each tick past CLAIM_STALE_SECONDS tries again (the "job is still running" hint was wrong).
_NO_JOB_HINT = (
    "no tuning job has been created yet: creating it keeps failing and the poller tries again "
    f"every few minutes (it gives up after {LAUNCH_GIVE_UP_SECONDS // 3600} h); check the "
    "launcher function's logs (quota, permissions, the dataset copy)"
)


def _check_training(deps: Deps, run: Run, report: TickReport) -> None:
    if not run.job.name:
        reconcile(deps, run, delivery=False)  # a stale claim: its launcher died
        return
    try:
        job = deps.tuner.get_job(run.job.name)
    except NotFound:
        advance(
            deps,
            run.run_id,
            [RunStatus.TRAINING],
            RunStatus.FAILED,
            note="tuning job disappeared",
            change=failed(
                "training", "job_not_found", f"{run.job.name} no longer exists in Vertex AI"
            ),
        )
        report.changed.append(run.run_id)
        return
    # The curves grow while the job runs (recorded bounded; the status views draw them).
    curves = _curves(deps, run, job)
    record = record_job(job, curves)
    if job.state in JOB_SUCCESS_STATES:
        if not job.tuned_model_endpoint:
            return  # Vertex sets the endpoint shortly after the state; try next tick
        if advance(
            deps,
            run.run_id,
            [RunStatus.TRAINING],
            RunStatus.TRAINED,
            note="tuning job succeeded",
            change=record,
        ):
            report.changed.append(run.run_id)
            if run.tuning.evaluation.enabled:
                request_evaluation(deps, run.run_id)
            else:
                advance(
                    deps,
                    run.run_id,
                    [RunStatus.TRAINED],
                    RunStatus.SUCCEEDED,
                    note="evaluation disabled in tuning.yaml",
                )
    elif job.state in JOB_FAILURE_STATES:
        message = job.error_message or f"tuning job ended {job.state}"
        if advance(
            deps,
            run.run_id,
            [RunStatus.TRAINING],
            RunStatus.FAILED,
            note=f"tuning job {job.state}",
            change=_both(record, failed("training", job.state.lower(), message)),
        ):
            report.changed.append(run.run_id)
    elif job.state in JOB_CANCELLED_STATES:
        why = run.job.cancel_reason
        if advance(
            deps,
            run.run_id,
            [RunStatus.TRAINING],
            RunStatus.CANCELLED,
            note=f"tuning job cancelled: {why}" if why else "tuning job cancelled",
            change=_both(record, failed("training", "cancelled", why)) if why else record,
        ):
            report.changed.append(run.run_id)
    elif _past_time_limit(deps, run, job):
        hours = training_hours_limit(deps, run)
        reason = (
            f"the tuning job ran longer than the maximum training time ({hours:g} h, "
            f"started {job.create_time or run.job.claimed_at}); cancelled by the poller. Raise "
            "max_training_hours in tuning.yaml (up to MAX_TRAINING_HOURS) or use less data."
        )
        deps.tuner.cancel_job(job.name)

        def cancelling(r: Run) -> None:
            record(r)
            r.job.state = "CANCELLING"
            r.job.cancel_reason = reason

        deps.store.update(run.run_id, cancelling, expected=[RunStatus.TRAINING])
        logs.warning(f"cancelled: {reason}", run_id=run.run_id)
        report.changed.append(run.run_id)
    elif job.state != run.job.state or curves:
        deps.store.update(run.run_id, record, expected=[RunStatus.TRAINING])
        if job.state != run.job.state:
            report.changed.append(run.run_id)


def training_hours_limit(deps: Deps, run: Run) -> float | None:
    """The lower of the deployment's MAX_TRAINING_HOURS and tuning.yaml's max_training_hours."""
    own = run.config.max_training_hours if run.config is not None else None
    limits = [x for x in (deps.settings.max_training_hours, own) if x is not None]
    return min(limits) if limits else None


def _past_time_limit(deps: Deps, run: Run, job: TuningJob) -> bool:
    hours = training_hours_limit(deps, run)
    if hours is None or job.state not in JOB_ACTIVE_STATES or job.state == "CANCELLING":
        return False
    if run.job.cancel_reason:  # already asked; the job is on its way to CANCELLED
        return False
    return older_than(job.create_time or run.job.claimed_at, hours * 3600, missing=False)


def _curves(deps: Deps, run: Run, job: TuningJob) -> TrainingCurves | None:
    """The job's curves so far; best effort: a failure to read them never holds up the run's
    state (it is logged, and the next tick tries again)."""
    if job.state in ("QUEUED", "PENDING"):
        return None
    try:
        return deps.tuner.training_curves(job)
    except PipelineError as e:
        logs.warning(f"poll: training curves not read: {e.message}", run_id=run.run_id)
        return None


def _both(first: Change, second: Change) -> Change:
    def change(r: Run) -> None:
        first(r)
        second(r)

    return change


def request_evaluation(deps: Deps, run_id: str) -> None:
    data, attrs = encode_message(EVALUATION_REQUESTED, run_id)
    deps.bus.publish(deps.settings.topic_evaluation_requested, data, attrs)
