"""Step 2 (launcher function, and the poller for queued runs): start the tuning job.

Exactly-one-job protocol, safe under redelivery, concurrency and crashes:

1. Claim: compare-and-set VALIDATED/QUEUED -> TRAINING with `job.state = CREATING`. Only one
   delivery wins; the rest find the claim and stop. At the concurrency limit the run waits in
   QUEUED instead (the poller starts it, oldest first, when a slot frees).
2. Reconcile: before creating, look for a job labelled `run_id=<run_id>`. A launcher that died
   after creating the job but before recording it is found here, so no second job is created.
3. Create with a deterministic display name and the label; record the job on the run.

A quota refusal from Vertex moves the run back to QUEUED (not FAILED); a 400-class refusal fails
the run with the API's message; transient errors propagate so the platform retries.
"""

from __future__ import annotations

from typing import Any

from shared import logs
from shared.backend import Backend
from shared.errors import PermanentError, QuotaExceeded
from shared.ports import TuningJob, TuningJobSpec
from shared.runs import Run, RunStatus, tuning_job_display_name, utcnow

from .transitions import advance, error_patch, failing_run_on_permanent

S = RunStatus


def handle_validated(backend: Backend, run_id: str) -> str:
    """A `dataset-validated` message arrived. Returns what happened (for logs and tests)."""
    run = backend.store.get(run_id)
    if run is None:
        raise PermanentError(f"no run {run_id!r}: the message refers to an unknown run")
    if run.config.get("dry_run"):
        return "dry_run"
    with failing_run_on_permanent(backend, run_id, "launch", [S.VALIDATED, S.QUEUED, S.TRAINING]):
        if run.status in (S.VALIDATED, S.QUEUED):
            return try_start(backend, run)
        if run.status == S.TRAINING and not run.job.name:
            return ensure_job(backend, run)
    return f"nothing to do: run is {run.status}"


def capacity_left(backend: Backend) -> int:
    training = backend.store.list_by_status([S.TRAINING])
    return backend.settings.max_concurrent_jobs - len(training)


def try_start(backend: Backend, run: Run) -> str:
    if capacity_left(backend) <= 0:
        if run.status == S.VALIDATED:
            advance(
                backend,
                run.run_id,
                [S.VALIDATED],
                S.QUEUED,
                note=f"waiting for a tuning slot (limit {backend.settings.max_concurrent_jobs})",
            )
        return "queued"
    claim = {
        "job": {
            "state": "CREATING",
            "display_name": tuning_job_display_name(run.run_id),
            "claimed_at": utcnow(),
            "simulated": backend.simulated,
        }
    }
    claimed = advance(
        backend,
        run.run_id,
        [S.VALIDATED, S.QUEUED],
        S.TRAINING,
        note="starting the tuning job",
        patch=claim,
    )
    if claimed is None:
        return "claimed by another delivery"
    return ensure_job(backend, claimed)


def job_spec(run: Run) -> TuningJobSpec:
    c: dict[str, Any] = run.config
    name = c.get("tuned_model_display_name") or f"{run.run_id}-tuned"
    return TuningJobSpec(
        run_id=run.run_id,
        display_name=tuning_job_display_name(run.run_id),
        base_model=c["source_model_name"],
        training_dataset_uri=run.dataset.uri,
        validation_dataset_uri=run.dataset.validation_uri,
        tuned_model_display_name=name,
        epoch_count=int(c["epoch"]),
        learning_rate_multiplier=float(c["learning_rate_multiplier"]),
        adapter_size=int(c["adapter_size"]),
        export_last_checkpoint_only=bool(c["export_last_checkpoint_only"]),
        labels={"run_id": run.run_id, "managed-by": "gemini-tuning-pipeline"},
    )


def job_patch(job: TuningJob) -> dict[str, Any]:
    return {
        "job": {
            "name": job.name,
            "state": job.state,
            "console_url": job.console_url,
            "tuned_model_name": job.tuned_model_name,
            "tuned_model_endpoint": job.tuned_model_endpoint,
            "simulated": job.simulated,
            "started_at": job.create_time,
            "ended_at": job.end_time,
            "error_message": job.error_message,
        }
    }


def ensure_job(backend: Backend, run: Run) -> str:
    """The run holds the TRAINING claim: find its job or create it, then record it."""
    found = backend.tuner.find_jobs(run.run_id)
    if found:
        job = sorted(found, key=lambda j: j.create_time or "")[0]
        if len(found) > 1:
            logs.warning(
                f"{len(found)} jobs carry this run's label; recording the first", run_id=run.run_id
            )
        backend.store.update(run.run_id, job_patch(job), expected=[S.TRAINING])
        logs.info(f"found existing tuning job {job.name}", run_id=run.run_id)
        return "recorded existing job"
    try:
        job = backend.tuner.create_job(job_spec(run))
    except QuotaExceeded as e:
        advance(
            backend,
            run.run_id,
            [S.TRAINING],
            S.QUEUED,
            note=f"Vertex AI quota: {e.message}; waiting for a slot",
            patch={"job": {"state": None, "claimed_at": None}},
        )
        return "queued (quota)"
    except PermanentError as e:
        advance(
            backend,
            run.run_id,
            [S.TRAINING],
            S.FAILED,
            note="tuning job refused",
            patch=error_patch("launch", e.code, e.message),
        )
        return "failed"
    backend.store.update(run.run_id, job_patch(job), expected=[S.TRAINING])
    logs.info(f"created tuning job {job.name}", run_id=run.run_id)
    return "created"
