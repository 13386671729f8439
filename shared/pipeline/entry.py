"""What every function entry point shares: the backend singleton and the error policy.

Error policy (DESIGN.md "Delivery semantics"): a `PermanentError` is logged and acknowledged
(the handler returns, the platform sees 2xx); anything else propagates (5xx) so the platform
retries with backoff until the message is dead-lettered.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from shared import logs
from shared.backend import Backend, backend_from_env
from shared.errors import PermanentError
from shared.events import Envelope

_backend: Backend | None = None
_lock = threading.Lock()


def backend() -> Backend:
    """Built once per instance (clients are reused across requests, as Cloud Functions advises);
    the lock keeps concurrent first requests from building several."""
    global _backend
    if _backend is None:
        with _lock:
            if _backend is None:
                _backend = backend_from_env()
    return _backend


def reset_backend(value: Backend | None = None) -> None:
    """For the local runtime and tests: use this backend (or rebuild from the environment)."""
    global _backend
    _backend = value


def too_old(env: Envelope, b: Backend) -> bool:
    """Events older than the configured bound are dropped, not retried forever."""
    age = env.age_seconds()
    if age is not None and age > b.settings.max_event_age_seconds:
        logs.warning(
            f"dropping {env.type} event {env.id}: {age:.0f}s old "
            f"(limit {b.settings.max_event_age_seconds}s)",
            event_id=env.id,
        )
        return True
    return False


@contextmanager
def guard(function: str, env: Envelope) -> Iterator[None]:
    """Acknowledge permanent failures with a log line; let everything else be retried."""
    try:
        yield
    except PermanentError as e:
        logs.error(
            f"{function}: permanent failure, event acknowledged: {e.message}",
            event_id=env.id,
            code=e.code,
        )
