"""What every function entry point shares: the event-age bound and the error policy.

Error policy (`shared.errors`): `handling()` of the exception decides. "fail_run" errors were
already recorded on their run by the step (`failing_run_on_permanent`) and "acknowledge" errors
have no run; both are logged and acknowledged (the handler returns, the platform sees 2xx).
Everything else propagates (5xx) so the platform retries with backoff until the message is
dead-lettered.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from shared import logs
from shared.clock import age_seconds
from shared.errors import PipelineError, handling
from shared.events import Envelope
from shared.settings import Settings

#: The log line for a dropped stale event; the monitoring metric matches its start.
STALE_EVENT_LOG = "dropping stale event"


def too_old(env: Envelope, settings: Settings, *, run_id: str | None = None) -> bool:
    """Events older than the configured bound are dropped with one log line, not retried
    forever. An event without a readable time is processed (nothing says it is stale)."""
    age = age_seconds(env.time)
    if age is None or age <= settings.max_event_age_seconds:
        return False
    logs.warning(
        f"{STALE_EVENT_LOG}: {env.type} {env.id} is {age:.0f}s old "
        f"(limit {settings.max_event_age_seconds}s); re-upload or re-publish to start again",
        event_id=env.id,
        run_id=run_id,
    )
    return True


@contextmanager
def guard(function: str, env: Envelope) -> Iterator[None]:
    """Acknowledge what retrying cannot fix, with a log line; let everything else be retried."""
    try:
        yield
    except PipelineError as e:
        if handling(e) == "retry":
            raise
        logs.error(
            f"{function}: {e.message} (event acknowledged)",
            event_id=env.id,
            code=e.code,
        )
