"""Status changes plus their run event: the only way pipeline steps move a run.

The store's compare-and-set decides who wins; the winner publishes a `run-event` so teams can
hang notifications on the topic. Publishing is best effort after the commit: the run document is
the source of truth, a lost event is logged, never a reason to redo the work.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from shared import logs
from shared.errors import InvalidMessage, PermanentError, PipelineError
from shared.events import RUN_EVENT, RunEventKind, encode_message, run_event_body
from shared.ports import Deps
from shared.runs import Change, Run, RunStatus


def advance(
    deps: Deps,
    run_id: str,
    expected: Iterable[RunStatus],
    dst: RunStatus,
    *,
    note: str,
    change: Change | None = None,
) -> Run | None:
    """CAS the run to `dst`; on success publish the run event. None when someone else won."""
    run = deps.store.transition(run_id, expected, dst, note=note, change=change)
    if run is None:
        return None
    logs.info(f"run {run_id} -> {dst}: {note}", run_id=run_id, status=str(dst))
    publish_run_event(deps, run, note)
    return run


def publish_run_event(
    deps: Deps, run: Run, note: str, *, kind: RunEventKind = "transition"
) -> None:
    """Publish the run event (schema: docs/run-events.md, `events.run_event_body`)."""
    data, attrs = encode_message(RUN_EVENT, run.run_id, run_event_body(run, note, kind=kind))
    attrs["status"] = str(run.status)
    attrs["kind"] = kind
    try:
        deps.bus.publish(deps.settings.topic_run_events, data, attrs)
    except PipelineError as e:
        logs.warning(f"run event not published: {e.message}", run_id=run.run_id)


def failed(stage: str, code: str, message: str) -> Change:
    """The change that records why a run stopped."""

    def change(run: Run) -> None:
        run.fail(stage, code, message)

    return change


def require_run(deps: Deps, run_id: str | None) -> Run:
    """The run a message names; an unknown or missing id is an `InvalidMessage` (acknowledged:
    no run exists to record it on, and no retry will make one)."""
    if not run_id:
        raise InvalidMessage("the message carries no run_id")
    run = deps.store.get(run_id)
    if run is None:
        raise InvalidMessage(f"no run {run_id!r}: the message refers to an unknown run")
    return run


@contextmanager
def failing_run_on_permanent(
    deps: Deps, run_id: str, stage: str, expected: Iterable[RunStatus]
) -> Iterator[None]:
    """A permanent error inside this block ends the run FAILED with the message, then
    propagates (the entry point logs it and acknowledges the event). Without this, a run whose
    step hit a permanent error would stay in a working state forever."""
    try:
        yield
    except PermanentError as e:
        advance(
            deps,
            run_id,
            list(expected),
            RunStatus.FAILED,
            note=f"{stage} failed",
            change=failed(stage, e.code, e.message),
        )
        raise
