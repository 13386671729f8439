"""Error kinds that decide what the platform does with an event.

The delivery design (docs/ARCHITECTURE.md, "Errors and delivery") has exactly three outcomes,
and every class below belongs to exactly one of them. Adapters map their client's exceptions
onto these, so the pipeline never sees a cloud exception:

- **retry** — `TransientError` and its subclasses: raise out of the handler so the platform
  redelivers with backoff (429, 503, UNAVAILABLE, DEADLINE_EXCEEDED, a lost compare-and-set
  race, a precondition that held for someone else). `QuotaExceeded` is the one a step may catch
  to leave a run QUEUED instead.
- **fail the run** — `PermanentError` and its subclasses: retrying cannot help. Inside a step
  the run records it (FAILED / REJECTED with the message); the event is acknowledged.
  `NotFound` (an object, document or job that does not exist) and `ConfigError` (a wrong setting
  or `tuning.yaml` value) are permanent.
- **acknowledge** — `InvalidMessage`: the event itself is unreadable or names no run, so there
  is no run to fail; it is logged and acknowledged (retrying would only feed the dead-letter
  topic later).

`handling()` says which of the three an exception leads to; the function guard uses it.
"""

from __future__ import annotations

from typing import Literal

#: What the function guard does with an exception (a step's own result is its Outcome).
Handling = Literal["retry", "fail_run", "acknowledge"]


class PipelineError(Exception):
    """Base class: carries a stable machine-readable `code` beside the human message."""

    code = "pipeline_error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class TransientError(PipelineError):
    """Retry later; nothing is recorded as failed."""

    code = "transient"


class QuotaExceeded(TransientError):
    """The service refused for quota (e.g. concurrent tuning jobs): wait, do not fail."""

    code = "quota_exceeded"


class PreconditionFailed(TransientError):
    """A generation / compare-and-set precondition did not hold: someone else wrote first.
    Retrying re-reads the new state (where callers expect it, e.g. create-if-absent, they catch
    it and treat it as "already done")."""

    code = "precondition_failed"


class PermanentError(PipelineError):
    """Retrying cannot help; the run records this and the event is acknowledged."""

    code = "permanent"


class NotFound(PermanentError):
    """The object, document or job does not exist (or not at the requested generation)."""

    code = "not_found"


class ConfigError(PermanentError):
    """A setting or a `tuning.yaml` value is wrong; the message says which and how to fix it."""

    code = "invalid_config"


class InvalidMessage(PermanentError):
    """The event or message cannot be read or names no run: acknowledged with a log line, since
    there is no run to record it on and no retry can make it readable."""

    code = "invalid_message"


def handling(error: BaseException) -> Handling:
    """What the platform should do with the event that raised `error`. Anything that is not a
    `PipelineError` (a bug, an unexpected client exception) is retried, so a fix can still
    process it before it is dead-lettered."""
    if isinstance(error, InvalidMessage):
        return "acknowledge"
    if isinstance(error, PermanentError):
        return "fail_run"
    return "retry"
