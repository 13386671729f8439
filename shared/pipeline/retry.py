"""A new attempt of an ended run (`gemini-tuning retry RUN_ID`).

The attempt is a new run (new id, linked both ways: `retry_of` on the new run, `retried_by` on
the old one) for the same training file generation, validated again through the validator's own
path (`validation.validate_new_run`): a fixed `tuning.yaml` or a raised budget takes effect,
and the training data is exactly what the first attempt had, or the retry says it is gone.

The new id is derived from the old one (`runs.retry_run_id`), so calling `retry` twice finds
the attempt it already made instead of starting a second one.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.errors import NotFound, PermanentError
from shared.events import StorageObject
from shared.pipeline import layout
from shared.ports import Deps
from shared.runs import Run, retry_run_id

from .validation import validate_new_run


@dataclass(frozen=True)
class RetryResult:
    run_id: str  #: the new attempt
    created: bool  #: False: an earlier `retry` call already made it
    status: str
    detail: str = ""


def _attempt(deps: Deps, run: Run) -> int:
    """1 for the retry of an upload's run, 2 for the retry of that retry, ..."""
    n, seen, cur = 1, {run.run_id}, run
    while cur.retry_of and cur.retry_of not in seen:
        prev = deps.store.get(cur.retry_of)
        if prev is None:
            break
        seen.add(prev.run_id)
        n, cur = n + 1, prev
    return n


def retry_run(deps: Deps, run_id: str) -> RetryResult:
    """Start (or find) the next attempt of `run_id`. `NoSuchRun` for an unknown id,
    `PermanentError` for a run that is still working or whose file is no longer usable."""
    src = deps.store.get(run_id)
    if src is None:
        raise NotFound(f"no run {run_id!r}; list runs with `gemini-tuning status`")
    if not src.is_terminal:
        raise PermanentError(
            f"run {run_id} is still {src.status}: wait until it ends, or stop it first with "
            f"`gemini-tuning cancel {run_id}`"
        )
    new_id = retry_run_id(src.run_id, _attempt(deps, src))
    existing = deps.store.get(new_id)
    if existing is not None:
        _link(deps, src.run_id, new_id)
        return RetryResult(new_id, False, str(existing.status), "retried before")
    objects = layout.trigger_objects(src.dataset.name)
    if objects is None:
        raise PermanentError(
            f"run {run_id} has no dataset training file to retry ({src.dataset.name}); "
            "upload the dataset again instead"
        )
    d = src.dataset
    now_info = deps.blobs.stat(d.bucket, d.name)
    if now_info is None or now_info.generation != d.generation:
        what = "was deleted" if now_info is None else "was replaced by a newer upload"
        raise PermanentError(
            f"{d.name} {what} since run {run_id}, so that generation cannot be read again. "
            + (
                "Upload it again to start a new run."
                if now_info is None
                else "The newer upload has its own run: see `gemini-tuning status`."
            )
        )
    obj = StorageObject(d.bucket, d.name, d.generation, d.size, d.md5)
    _link(deps, src.run_id, new_id)  # first, so the old run points at its attempt at once
    outcome = validate_new_run(deps, new_id, obj, objects, retry_of=src.run_id)
    now = deps.store.get(new_id)
    status = str(now.status) if now is not None else "unknown"
    return RetryResult(new_id, True, status, outcome.detail)


def _link(deps: Deps, old: str, new: str) -> None:
    def change(r: Run) -> None:
        r.retried_by = new

    deps.store.update(old, change)
