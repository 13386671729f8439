"""The poller's scheduled checks, behind one call so the tick stays small: the retirement watch
(first tick after a start, then daily) and the catalog check (weekly). Best effort: a check that
fails is logged and tried on a later tick; it never holds up the runs."""

from __future__ import annotations

from shared import logs
from shared.errors import PipelineError
from shared.ports import Deps

from .lifecycle import Daily, check_lifecycle

_LIFECYCLE = Daily()


def scheduled_checks(deps: Deps) -> list[str]:
    """Run the checks that are due; the keys of the warnings they sent."""
    sent: list[str] = []
    if _LIFECYCLE.due():
        try:
            sent += [w.key for w in check_lifecycle(deps)]
        except Exception as e:  # best effort: a check must never break the tick
            _LIFECYCLE.last = None  # try again on the next tick
            what = e.message if isinstance(e, PipelineError) else f"{type(e).__name__}: {e}"
            logs.warning(f"poll: lifecycle check failed: {what}")
    return sent
