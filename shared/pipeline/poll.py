"""Step 3 (poller function, on a Cloud Scheduler tick): watch active jobs, start queued runs.

Reads only active runs (QUEUED, TRAINING, TRAINED) — never the history of finished ones — so a
tick costs the same with ten runs or ten thousand finished ones (see BENCHMARKS.md).
One failing run never stops the tick: its error is logged and the next tick tries again.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from shared import logs
from shared.backend import Backend
from shared.errors import NotFound, PipelineError
from shared.events import EVALUATION_REQUESTED, encode_message
from shared.ports import (
    JOB_CANCELLED_STATES,
    JOB_FAILURE_STATES,
    JOB_SUCCESS_STATES,
)
from shared.runs import ACTIVE_FOR_POLLER, Run, RunStatus, age_seconds

from .launch import ensure_job, job_patch, try_start
from .transitions import advance, error_patch

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


def poll_once(backend: Backend) -> TickReport:
    report = TickReport()
    runs = backend.store.list_by_status(ACTIVE_FOR_POLLER)
    report.checked = len(runs)
    for run in runs:
        try:
            if run.status == S.TRAINING:
                _check_training(backend, run, report)
            elif (
                run.status == S.TRAINED and age_seconds(run.updated_at) > EVALUATION_RESEND_SECONDS
            ):
                request_evaluation(backend, run.run_id)
        except PipelineError as e:
            report.errors.append(f"{run.run_id}: {e.message}")
            logs.warning(f"poll: {e.message}", run_id=run.run_id)
    for run in sorted((r for r in runs if r.status == S.QUEUED), key=lambda r: r.created_at):
        try:
            result = try_start(backend, run)
        except PipelineError as e:  # e.g. Vertex unavailable: the queue waits for the next tick
            report.errors.append(f"{run.run_id}: {e.message}")
            logs.warning(f"poll: could not start a queued run: {e.message}", run_id=run.run_id)
            break
        if result == "queued":
            break  # no slot left: the rest keep their place in the queue
        report.started.append(run.run_id)
    return report


def _check_training(backend: Backend, run: Run, report: TickReport) -> None:
    if not run.job.name:
        if age_seconds(run.job.claimed_at) > CLAIM_STALE_SECONDS:
            ensure_job(backend, run)
        return
    try:
        job = backend.tuner.get_job(run.job.name)
    except NotFound:
        advance(
            backend,
            run.run_id,
            [S.TRAINING],
            S.FAILED,
            note="tuning job disappeared",
            patch=error_patch(
                "training", "job_not_found", f"{run.job.name} no longer exists in Vertex AI"
            ),
        )
        report.changed.append(run.run_id)
        return
    patch = job_patch(job)
    if job.state in JOB_SUCCESS_STATES:
        if not job.tuned_model_endpoint:
            return  # Vertex sets the endpoint shortly after the state; try next tick
        if advance(
            backend, run.run_id, [S.TRAINING], S.TRAINED, note="tuning job succeeded", patch=patch
        ):
            report.changed.append(run.run_id)
            evaluation = run.config.get("evaluation") or {}
            if evaluation.get("enabled", True):
                request_evaluation(backend, run.run_id)
            else:
                advance(
                    backend,
                    run.run_id,
                    [S.TRAINED],
                    S.SUCCEEDED,
                    note="evaluation disabled in tuning.yaml",
                )
    elif job.state in JOB_FAILURE_STATES:
        message = job.error_message or f"tuning job ended {job.state}"
        if advance(
            backend,
            run.run_id,
            [S.TRAINING],
            S.FAILED,
            note=f"tuning job {job.state}",
            patch={**patch, **error_patch("training", job.state.lower(), message)},
        ):
            report.changed.append(run.run_id)
    elif job.state in JOB_CANCELLED_STATES:
        if advance(
            backend, run.run_id, [S.TRAINING], S.CANCELLED, note="tuning job cancelled", patch=patch
        ):
            report.changed.append(run.run_id)
    elif job.state != run.job.state:
        backend.store.update(run.run_id, patch, expected=[S.TRAINING])
        report.changed.append(run.run_id)


def request_evaluation(backend: Backend, run_id: str) -> None:
    data, attrs = encode_message(EVALUATION_REQUESTED, run_id)
    backend.bus.publish(backend.settings.topic_evaluation_requested, data, attrs)
