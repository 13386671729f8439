"""Cancel a run on request (`gemini-tuning cancel RUN_ID`).

A QUEUED run is cancelled at once. A TRAINING run asks Vertex AI to cancel its job; the poller
then sees the job CANCELLED and ends the run, so the job's real end state is what the run shows.
A run whose job is being created right now is refused (try again shortly): cancelling it then
could leave a job running that no run watches.
"""

from __future__ import annotations

from shared.errors import NotFound, PermanentError
from shared.ports import Deps
from shared.runs import Run, RunStatus

from .transitions import advance, require_run


def cancel_run(deps: Deps, run_id: str, *, reason: str = "cancelled on request") -> str:
    """What happened, in words. Raises PermanentError when the run cannot be cancelled (an
    `InvalidMessage` when there is no such run)."""
    if deps.store.get(run_id) is None:  # a person typed it: not "the message refers to..."
        raise NotFound(f"no run {run_id!r}; list runs with `gemini-tuning status`")
    run = require_run(deps, run_id)
    if run.status == RunStatus.QUEUED:
        if advance(deps, run_id, [RunStatus.QUEUED], RunStatus.CANCELLED, note=reason):
            return "cancelled (it was waiting for a tuning slot)"
        return cancel_run(deps, run_id, reason=reason)  # it just moved on: look again
    if run.status == RunStatus.TRAINING:
        if not run.job.name:
            raise PermanentError("the tuning job is being created right now; try again in a minute")
        deps.tuner.cancel_job(run.job.name)

        def cancelling(r: Run) -> None:
            r.job.state = "CANCELLING"
            r.job.cancel_reason = reason

        deps.store.update(run_id, cancelling, expected=[RunStatus.TRAINING])
        return f"cancel requested for {run.job.name}; the run ends CANCELLED when the job stops"
    if run.is_terminal:
        raise PermanentError(f"run {run_id} already ended {run.status}")
    raise PermanentError(
        f"run {run_id} is {run.status}: only QUEUED and TRAINING runs can be cancelled"
    )
