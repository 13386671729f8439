"""A message that kept failing was dead-lettered: make the run say why.

Without this a poison message would leave its run stuck in a working state forever. The run
moves to FAILED from whatever non-terminal state it is in, with the last error as the message.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shared import logs
from shared.backend import Backend
from shared.events import parse_storage_object
from shared.pipeline import layout
from shared.runs import NON_TERMINAL, RunStatus, make_run_id

from .transitions import advance, error_patch


def run_id_of(attributes: Mapping[str, str], data: Mapping[str, Any] | None = None) -> str | None:
    """The run a message belongs to: its `run_id` attribute, or derived from a storage event."""
    if attributes.get("run_id"):
        return attributes["run_id"]
    if data and "bucket" in data and "name" in data:
        obj = parse_storage_object(data)
        if layout.trigger_objects(obj.name) is not None:
            return make_run_id(obj.bucket, obj.name, obj.generation)
    return None


def record_dead_letter(
    backend: Backend,
    attributes: Mapping[str, str],
    error_text: str,
    *,
    data: Mapping[str, Any] | None = None,
    attempts: int | None = None,
    stage: str = "delivery",
) -> bool:
    """Fail the message's run with the reason. True if a run was moved to FAILED."""
    run_id = run_id_of(attributes, data)
    if run_id is None:
        logs.error(f"dead-lettered message without a run: {error_text}")
        return False
    tries = f" after {attempts} attempts" if attempts else ""
    message = f"message dead-lettered{tries}: {error_text}"
    moved = advance(
        backend,
        run_id,
        NON_TERMINAL,
        RunStatus.FAILED,
        note="dead-lettered",
        patch=error_patch(stage, "dead_lettered", message),
    )
    return moved is not None
