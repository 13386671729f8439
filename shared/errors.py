"""Error kinds that decide what the platform does with an event.

The delivery design (DESIGN.md, "Delivery semantics") needs exactly three outcomes, so every
adapter maps its client's exceptions onto these and the pipeline never sees a cloud exception:

- `TransientError`: raise out of the handler so the platform retries with backoff (429, 503,
  UNAVAILABLE, DEADLINE_EXCEEDED, a lost compare-and-set race that must be re-read).
- `QuotaExceeded`: a transient error that the launcher treats as "leave the run QUEUED".
- `PermanentError`: record it on the run (FAILED / REJECTED with the message) and acknowledge.
"""

from __future__ import annotations


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


class PermanentError(PipelineError):
    """Retrying cannot help; the run records this and the event is acknowledged."""

    code = "permanent"


class NotFound(PipelineError):
    """The object, document or job does not exist (or not at the requested generation)."""

    code = "not_found"


class PreconditionFailed(PipelineError):
    """A generation / compare-and-set precondition did not hold."""

    code = "precondition_failed"


class ConfigError(PipelineError):
    """A setting or a `tuning.yaml` value is wrong; the message says which and how to fix it."""

    code = "invalid_config"
