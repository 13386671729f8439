"""Step 3 (poller function, on a Cloud Scheduler tick): watch active jobs, start queued runs.

Reads only active runs (QUEUED, TRAINING, TRAINED) — never the history of finished ones — so a
tick costs the same with ten runs or ten thousand finished ones (see BENCHMARKS.md).
One failing run never stops the tick: its error is logged and the next tick tries again.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from shared import logs
from shared.clock import older_than
from shared.errors import NotFound, PipelineError
from shared.events import EVALUATION_REQUESTED, encode_message
from shared.ports import (
    JOB_CANCELLED_STATES,
    JOB_FAILURE_STATES,
    JOB_SUCCESS_STATES,
    Deps,
)
from shared.runs import ACTIVE_FOR_POLLER, Change, Run, RunStatus

from .launch import ensure_job, record_job, try_start
from .transitions import advance, failed

S = RunStatus
#: A claimed run with no recorded job after this long had its launcher die: reconcile it.
CLAIM_STALE_SECONDS = 120
#: A TRAINED run whose evaluation did not start after this long gets its request re-sent.
EVALUATION_RESEND_SECONDS = 300


@dataclass
class TickReport:
    checked: int = 0
    changed: list[str] = field(default_factory=list)
    started: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def poll_once(deps: Deps) -> TickReport:
    report = TickReport()
    runs = deps.store.list_by_status(ACTIVE_FOR_POLLER)
    report.checked = len(runs)
    for run in runs:
        try:
            if run.status == S.TRAINING:
                _check_training(deps, run, report)
            elif run.status == S.TRAINED and older_than(
                run.updated_at, EVALUATION_RESEND_SECONDS, missing=True
            ):
                request_evaluation(deps, run.run_id)
        except PipelineError as e:
            report.errors.append(f"{run.run_id}: {e.message}")
            logs.warning(f"poll: {e.message}", run_id=run.run_id)
    for run in sorted((r for r in runs if r.status == S.QUEUED), key=lambda r: r.created_at):
        try:
            result = try_start(deps, run)
        except PipelineError as e:  # e.g. Vertex unavailable: the queue waits for the next tick
            report.errors.append(f"{run.run_id}: {e.message}")
            logs.warning(f"poll: could not start a queued run: {e.message}", run_id=run.run_id)
            break
        if result == "queued":
            break  # no slot left: the rest keep their place in the queue
        report.started.append(run.run_id)
    return report


def _check_training(deps: Deps, run: Run, report: TickReport) -> None:
    if not run.job.name:
        if older_than(run.job.claimed_at, CLAIM_STALE_SECONDS, missing=True):
            ensure_job(deps, run)
        return
    try:
        job = deps.tuner.get_job(run.job.name)
    except NotFound:
        advance(
            deps,
            run.run_id,
            [S.TRAINING],
            S.FAILED,
            note="tuning job disappeared",
            change=failed(
                "training", "job_not_found", f"{run.job.name} no longer exists in Vertex AI"
            ),
        )
        report.changed.append(run.run_id)
        return
    # The curves grow while the job runs (recorded bounded; the status views draw them).
    curves = deps.tuner.training_curves(job) if job.state not in ("QUEUED", "PENDING") else None
    record = record_job(job, curves)
    if job.state in JOB_SUCCESS_STATES:
        if not job.tuned_model_endpoint:
            return  # Vertex sets the endpoint shortly after the state; try next tick
        if advance(
            deps, run.run_id, [S.TRAINING], S.TRAINED, note="tuning job succeeded", change=record
        ):
            report.changed.append(run.run_id)
            if run.tuning.evaluation.enabled:
                request_evaluation(deps, run.run_id)
            else:
                advance(
                    deps,
                    run.run_id,
                    [S.TRAINED],
                    S.SUCCEEDED,
                    note="evaluation disabled in tuning.yaml",
                )
    elif job.state in JOB_FAILURE_STATES:
        message = job.error_message or f"tuning job ended {job.state}"
        if advance(
            deps,
            run.run_id,
            [S.TRAINING],
            S.FAILED,
            note=f"tuning job {job.state}",
            change=_both(record, failed("training", job.state.lower(), message)),
        ):
            report.changed.append(run.run_id)
    elif job.state in JOB_CANCELLED_STATES:
        if advance(
            deps, run.run_id, [S.TRAINING], S.CANCELLED, note="tuning job cancelled", change=record
        ):
            report.changed.append(run.run_id)
    elif job.state != run.job.state or curves:
        deps.store.update(run.run_id, record, expected=[S.TRAINING])
        if job.state != run.job.state:
            report.changed.append(run.run_id)


def _both(first: Change, second: Change) -> Change:
    def change(r: Run) -> None:
        first(r)
        second(r)

    return change


def request_evaluation(deps: Deps, run_id: str) -> None:
    data, attrs = encode_message(EVALUATION_REQUESTED, run_id)
    deps.bus.publish(deps.settings.topic_evaluation_requested, data, attrs)
