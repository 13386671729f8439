"""The poller's scheduled checks, behind one call so the tick stays small: the retirement watch
(first tick after a start, then daily) and the catalog check (weekly, by the stored report's
time). Best effort: a check that
fails is logged and tried on a later tick; it never holds up the runs."""

from __future__ import annotations

from shared import logs
from shared.errors import PipelineError
from shared.ports import Deps

from . import catalog_check, lifecycle
from .lifecycle import Daily, check_lifecycle

_LIFECYCLE = Daily()
#: How often the poller looks whether the weekly catalog check is due (one small read).
_CATALOG = Daily(every=3600)


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
    if _CATALOG.due():
        try:
            if catalog_check.due(deps):
                report = catalog_check.check_catalog(deps)
                sent += list(report.sent)
        except Exception as e:  # Vertex AI unavailable, no permission: try in an hour
            what = e.message if isinstance(e, PipelineError) else f"{type(e).__name__}: {e}"
            logs.warning(f"poll: catalog check failed: {what}")
    return sent


def banner_lines(deps: Deps) -> list[str]:
    """Every deployment-wide warning for the status page, `status` and `promote --show`: the
    lifecycle warnings due today and the last catalog check's differences."""
    return lifecycle.banner_lines(deps) + catalog_check.banner_lines(deps)
