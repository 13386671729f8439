"""Status changes plus their run event: the only way pipeline steps move a run.

The store's compare-and-set decides who wins; the winner publishes a `run-event` so teams can
hang notifications on the topic. Publishing is best effort after the commit: the run document is
the source of truth, a lost event is logged, never a reason to redo the work.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from shared import logs
from shared.bounds import MAX_QUOTED_ERROR_CHARS, MAX_UNEXPECTED_FAILURES, clip
from shared.clock import utcnow
from shared.errors import InvalidMessage, PermanentError, PipelineError
from shared.events import RUN_EVENT, RunEventKind, encode_message, run_event_body
from shared.ports import Deps
from shared.runs import Change, Run, RunStatus, StepFailure


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


def advance_to_training(
    deps: Deps,
    run_id: str,
    expected: Iterable[RunStatus],
    *,
    limit: int,
    note: str,
    change: Change | None = None,
) -> Run | None:
    """`advance` to TRAINING within the concurrency `limit`, atomically
    (`RunStore.claim_training_slot`): raises `QuotaExceeded` when every slot is taken."""
    run = deps.store.claim_training_slot(run_id, expected, limit=limit, note=note, change=change)
    if run is None:
        return None
    dst = RunStatus.TRAINING
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
    deps: Deps,
    run_id: str,
    stage: str,
    expected: Iterable[RunStatus],
    *,
    release: Change | None = None,
) -> Iterator[None]:
    """A permanent error inside this block ends the run FAILED with the message, then
    propagates (the entry point logs it and acknowledges the event). Without this, a run whose
    step hit a permanent error would stay in a working state forever.

    An exception nothing classifies (not a `PipelineError`) is recorded on the run as a
    `StepFailure` (stage, exception type, a short message, how often) and retried; the
    `MAX_UNEXPECTED_FAILURES`th ends the run FAILED with it and is acknowledged. `release`
    undoes this delivery's claim (e.g. the validation lease) so the redelivery really retries.
    """
    expected = list(expected)
    try:
        yield
    except PermanentError as e:
        advance(
            deps,
            run_id,
            expected,
            RunStatus.FAILED,
            note=f"{stage} failed",
            change=failed(stage, e.code, e.message),
        )
        raise
    except PipelineError:
        raise
    except Exception as e:
        count = _record_unexpected(deps, run_id, stage, expected, e, release)
        if count is None or count < MAX_UNEXPECTED_FAILURES:
            raise
        what = f"{type(e).__name__}: {clip(str(e) or repr(e), MAX_QUOTED_ERROR_CHARS)}"
        message = (
            f"the {stage} step failed {count} times with an unexpected {what}. This is a bug "
            "or an unexpected service response, not a problem with your data: report it with "
            "the run id; once fixed, `gemini-tuning retry RUN_ID` starts again."
        )
        advance(
            deps,
            run_id,
            expected,
            RunStatus.FAILED,
            note=f"{stage} failed unexpectedly",
            change=failed(stage, "unexpected_error", message),
        )
        raise PermanentError(message, code="unexpected_error") from e


def _record_unexpected(
    deps: Deps,
    run_id: str,
    stage: str,
    expected: list[RunStatus],
    error: Exception,
    release: Change | None,
) -> int | None:
    """Count `error` on the run; the new count, or None when it could not be recorded (the
    run moved on, or the store itself is failing: the platform's retry still applies)."""

    def note(run: Run) -> None:
        prev = run.step_failure
        same = prev is not None and prev.stage == stage
        run.step_failure = StepFailure(
            stage=stage,
            type=type(error).__name__,
            message=clip(str(error) or repr(error), MAX_QUOTED_ERROR_CHARS),
            count=(prev.count + 1) if same and prev is not None else 1,
            at=utcnow(),
        )
        if release is not None:
            release(run)

    try:
        run = deps.store.update(run_id, note, expected=expected)
    except Exception as store_error:  # the store is what fails: nothing to record it on
        logs.error(f"{stage}: could not record {type(error).__name__} on the run: {store_error}")
        return None
    logs.error(f"{stage}: unexpected {type(error).__name__}: {error}", run_id=run_id)
    return None if run is None or run.step_failure is None else run.step_failure.count
