"""Status changes plus their run event: the only way pipeline steps move a run.

The store's compare-and-set decides who wins; the winner publishes a `run-event` so teams can
hang notifications on the topic. Publishing is best effort after the commit: the run document is
the source of truth, a lost event is logged, never a reason to redo the work.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from shared import logs
from shared.backend import Backend
from shared.errors import PermanentError, PipelineError
from shared.events import RUN_EVENT, encode_message
from shared.runs import Run, RunStatus


def advance(
    backend: Backend,
    run_id: str,
    expected: Iterable[RunStatus],
    dst: RunStatus,
    *,
    note: str,
    patch: dict[str, Any] | None = None,
) -> Run | None:
    """CAS the run to `dst`; on success publish the run event. None when someone else won."""
    run = backend.store.transition(run_id, expected, dst, note=note, patch=patch)
    if run is None:
        return None
    logs.info(f"run {run_id} -> {dst}: {note}", run_id=run_id, status=str(dst))
    publish_run_event(backend, run, note)
    return run


def publish_run_event(backend: Backend, run: Run, note: str) -> None:
    body: dict[str, Any] = {"status": str(run.status), "note": note, "at": run.updated_at}
    if run.error is not None:
        body["error"] = {
            "stage": run.error.stage,
            "code": run.error.code,
            "message": run.error.message,
        }
    data, attrs = encode_message(RUN_EVENT, run.run_id, body)
    attrs["status"] = str(run.status)
    try:
        backend.bus.publish(backend.settings.topic_run_events, data, attrs)
    except PipelineError as e:
        logs.warning(f"run event not published: {e.message}", run_id=run.run_id)


def error_patch(stage: str, code: str, message: str) -> dict[str, Any]:
    return {"error": {"stage": stage, "code": code, "message": message}}


@contextmanager
def failing_run_on_permanent(
    backend: Backend, run_id: str, stage: str, expected: Iterable[RunStatus]
) -> Iterator[None]:
    """A permanent error inside this block ends the run FAILED with the message, then
    propagates (the entry point logs it and acknowledges the event). Without this, a run whose
    step hit a permanent error would stay in a working state forever."""
    try:
        yield
    except PermanentError as e:
        advance(
            backend,
            run_id,
            list(expected),
            RunStatus.FAILED,
            note=f"{stage} failed",
            patch=error_patch(stage, e.code, e.message),
        )
        raise
