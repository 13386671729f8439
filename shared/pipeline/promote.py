"""Promotion: make a finished run's model the production model, roll back, promote on gates.

The production record (`ports.ProductionStore`) is what a serving system reads; this project
does not route traffic. Every change is a new record written by compare-and-set on the record
the step saw as current, so two people (or a person and the auto-promotion) promoting at once
cannot both win: the loser gets a `PermanentError` that says to look again.

After the record is written, best effort (the record is the source of truth, as the run document
is for status changes): a `production-changed` message on the run-events topic, and a
`PromotionNote` on the runs whose model came in and went out.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from shared import logs
from shared.clock import utcnow
from shared.errors import NotFound, PermanentError, PipelineError
from shared.events import PRODUCTION_CHANGED, encode_message
from shared.ports import Deps, Promotion
from shared.runs import PromotionNote, Run, RunStatus

#: Who the record names when the pipeline promoted on its own.
AUTO_PROMOTER = "pipeline (evaluation.auto_promote)"


@dataclass(frozen=True)
class PromotionResult:
    """The production record after the request; `changed` is False when the run (and
    checkpoint) already was the production model, so nothing was written."""

    promotion: Promotion
    changed: bool


def base_model_of(run: Run) -> str:
    """The base model the run tuned (as the job reports it, else as configured)."""
    if run.job.base_model:
        return run.job.base_model
    return run.config.source_model_name if run.config is not None else "unknown"


def promotable(run: Run, checkpoint_id: str | None = None) -> tuple[str, str]:
    """(tuned_model_name, endpoint) to promote, or a `PermanentError` saying why not: only a
    SUCCEEDED run's model went through the whole pipeline (evaluation included)."""
    rid = run.run_id
    if run.status != RunStatus.SUCCEEDED:
        raise PermanentError(
            f"run {rid} is {run.status}: only a SUCCEEDED run can be promoted "
            f"(see `gemini-tuning status {rid}`)",
            code="not_succeeded",
        )
    return tuned_endpoint(run, checkpoint_id)


def tuned_endpoint(run: Run, checkpoint_id: str | None = None) -> tuple[str, str]:
    """(tuned_model_name, endpoint) of the run's model, or of one of its checkpoints (each has
    its own endpoint); a `PermanentError` saying why there is none."""
    rid = run.run_id
    model, endpoint = run.job.tuned_model_name, run.job.tuned_model_endpoint
    if not model or not endpoint:
        raise PermanentError(
            f"run {rid} ({run.status}) has no tuned model on record yet; only a run whose "
            f"tuning job succeeded has one (see `gemini-tuning status {rid}`)",
            code="no_model",
        )
    if checkpoint_id is None:
        return model, endpoint
    found = [c for c in run.job.checkpoints if c.checkpoint_id == str(checkpoint_id)]
    if not found:
        known = ", ".join(c.checkpoint_id for c in run.job.checkpoints) or "none recorded"
        raise PermanentError(
            f"run {rid} has no checkpoint {checkpoint_id!r} (its checkpoints: {known})",
            code="no_checkpoint",
        )
    if not found[0].endpoint:
        raise PermanentError(
            f"checkpoint {checkpoint_id} of run {rid} has no endpoint of its own; leave out "
            "--checkpoint to use the tuned model's default checkpoint",
            code="no_checkpoint",
        )
    return model, found[0].endpoint


def promote_run(
    deps: Deps,
    run_id: str,
    *,
    by: str,
    reason: str = "",
    checkpoint_id: str | None = None,
) -> PromotionResult:
    """Make `run_id`'s tuned model (or its checkpoint) the production model."""
    run = deps.store.get(run_id)
    if run is None:
        raise NotFound(f"no run {run_id!r}; list runs with `gemini-tuning status`")
    model, endpoint = promotable(run, checkpoint_id)
    current = deps.production.current()
    if (
        current is not None
        and current.run_id == run_id
        and current.checkpoint_id == checkpoint_id
        and current.endpoint == endpoint
    ):
        return PromotionResult(current, changed=False)
    promotion = Promotion(
        run_id=run_id,
        tuned_model_name=model,
        endpoint=endpoint,
        base_model=base_model_of(run),
        promoted_at=utcnow(),
        promoted_by=by,
        reason=reason,
        checkpoint_id=checkpoint_id,
        previous=current.run_id if current else None,
        rollback_to=current.sequence if current else None,
        simulated=run.simulated or run.job.simulated,
    )
    return PromotionResult(_write(deps, promotion, current), changed=True)


def rollback(deps: Deps, *, by: str, reason: str = "") -> Promotion:
    """Restore the production model that the current one replaced (a new record)."""
    current = deps.production.current()
    if current is None:
        raise PermanentError("there is no production model yet, so nothing to roll back")
    if current.rollback_to is None:
        raise PermanentError(
            f"nothing to roll back to: run {current.run_id} (record {current.sequence}) was "
            "the first production model; promote another run instead",
            code="nothing_to_roll_back",
        )
    target = deps.production.get(current.rollback_to)
    if target is None:
        raise PermanentError(
            f"production record {current.rollback_to} (what a rollback would restore) is "
            "missing from the store; promote the wanted run explicitly",
            code="record_missing",
        )
    restored = replace(
        target,
        promoted_at=utcnow(),
        promoted_by=by,
        reason=reason,
        previous=current.run_id,
        rolled_back=True,
        rollback_to=target.rollback_to,  # a second rollback goes one further back
        sequence=0,
    )
    return _write(deps, restored, current)


def maybe_auto_promote(deps: Deps, run: Run) -> Promotion | None:
    """Promote `run` when its `tuning.yaml` asks for it (`evaluation.auto_promote`) and its
    evaluation passed every gate. Call it after the run reached SUCCEEDED, with the run that
    transition returned.

    Never raises: a model that trained and passed its gates stays SUCCEEDED whatever happens
    here; a refusal or a lost race is logged (promote by hand). Returns the new record, or None
    when nothing changed.
    """
    ev = run.config.evaluation if run.config is not None else None
    if ev is None or not ev.auto_promote:
        return None
    if run.evaluation.passed is True and run.evaluation.promotable is False:
        logs.info(
            f"run {run.run_id} not auto-promoted: its test set overlaps the training data and "
            "the unleaked part did not pass every gate (see the evaluation's leakage); promote "
            "by hand if the overlap is intended",
            run_id=run.run_id,
        )
        return None
    if run.evaluation.passed is not True or not ev.gates:
        logs.info(
            f"run {run.run_id} not auto-promoted: its evaluation did not pass every gate "
            f"({run.evaluation.reason or 'no verdict'})",
            run_id=run.run_id,
        )
        return None
    try:
        result = promote_run(
            deps,
            run.run_id,
            by=AUTO_PROMOTER,
            reason="every gate passed"
            + (f": {run.evaluation.reason}" if run.evaluation.reason else ""),
            # The checkpoint the evaluation chose and scored (None: the model's default).
            checkpoint_id=run.evaluation.chosen_checkpoint,
        )
    except PipelineError as e:
        logs.warning(f"run {run.run_id} not auto-promoted: {e.message}", run_id=run.run_id)
        return None
    return result.promotion if result.changed else None


def _write(deps: Deps, promotion: Promotion, current: Promotion | None) -> Promotion:
    stored = deps.production.promote(
        promotion, expected_current=current.sequence if current else None
    )
    if stored is None:
        now = deps.production.current()
        what = f"run {now.run_id} (record {now.sequence})" if now else "none"
        raise PermanentError(
            f"the production model changed while this request ran (it is now {what}); "
            "look with `gemini-tuning promote --show` and try again if still wanted",
            code="production_changed",
        )
    action = "rolled back" if stored.rolled_back else "promoted"
    logs.info(
        f"production model {action}: run {stored.run_id} (record {stored.sequence})",
        run_id=stored.run_id,
    )
    _publish(deps, stored, action)
    incoming = "restored by rollback" if stored.rolled_back else "promoted"
    _note(deps, stored.run_id, stored, incoming)
    if current is not None and current.run_id != stored.run_id:
        _note(deps, current.run_id, stored, "rolled back" if stored.rolled_back else "replaced")
    return stored


def _publish(deps: Deps, stored: Promotion, action: str) -> None:
    data, attrs = encode_message(
        PRODUCTION_CHANGED, stored.run_id, {**stored.to_dict(), "action": action}
    )
    attrs["action"] = action
    try:
        deps.bus.publish(deps.settings.topic_run_events, data, attrs)
    except PipelineError as e:
        logs.warning(f"production-changed event not published: {e.message}", run_id=stored.run_id)


def _note(deps: Deps, run_id: str, stored: Promotion, action: str) -> None:
    note = PromotionNote(
        sequence=stored.sequence,
        action=action,
        at=stored.promoted_at,
        by=stored.promoted_by,
        reason=stored.reason,
        checkpoint_id=stored.checkpoint_id if stored.run_id == run_id else None,
    )

    def change(r: Run) -> None:
        r.promotions.append(note)

    try:
        deps.store.update(run_id, change)
    except PipelineError as e:
        logs.warning(f"promotion not noted on run {run_id}: {e.message}", run_id=run_id)
