"""Cancel a run on request (`gemini-tuning cancel RUN_ID`).

A QUEUED run is cancelled at once. A TRAINING run asks Vertex AI to cancel its job; the poller
then sees the job CANCELLED and ends the run, so the job's real end state is what the run shows.
A run whose job is being created right now is refused (try again shortly): cancelling it then
could leave a job running that no run watches.
"""

from __future__ import annotations

from shared.backend import Backend
from shared.errors import PermanentError
from shared.runs import RunStatus

from .transitions import advance

S = RunStatus


def cancel_run(backend: Backend, run_id: str, *, reason: str = "cancelled on request") -> str:
    """What happened, in words. Raises PermanentError when the run cannot be cancelled."""
    run = backend.store.get(run_id)
    if run is None:
        raise PermanentError(f"no run {run_id!r}")
    if run.status == S.QUEUED:
        if advance(backend, run_id, [S.QUEUED], S.CANCELLED, note=reason):
            return "cancelled (it was waiting for a tuning slot)"
        return cancel_run(backend, run_id, reason=reason)  # it just moved on: look again
    if run.status == S.TRAINING:
        if not run.job.name:
            raise PermanentError("the tuning job is being created right now; try again in a minute")
        backend.tuner.cancel_job(run.job.name)
        backend.store.update(run_id, {"job": {"state": "CANCELLING"}}, expected=[S.TRAINING])
        return f"cancel requested for {run.job.name}; the run ends CANCELLED when the job stops"
    if run.is_terminal:
        raise PermanentError(f"run {run_id} already ended {run.status}")
    raise PermanentError(
        f"run {run_id} is {run.status}: only QUEUED and TRAINING runs can be cancelled"
    )
