"""Error mapping and retry for every Google Cloud adapter (Storage, Pub/Sub, Firestore, Vertex).

The pipeline only understands `shared.errors` (docs/ARCHITECTURE.md, "Errors and delivery"),
so each adapter funnels its client's exceptions through `map_google_error`. `call_with_retry`
absorbs short blips inside one invocation; its deadline must stay well under the function's
timeout so that a longer outage surfaces as `TransientError` and the platform's own retry (with
its backoff and dead-letter policy) takes over instead of the function being killed mid-write.

Nothing here imports a client library at module load: the exception classes are looked up
lazily so a function that never talks to Google pays no import cost.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

from shared.errors import (
    NotFound,
    PermanentError,
    PipelineError,
    PreconditionFailed,
    QuotaExceeded,
    TransientError,
)

T = TypeVar("T")

#: gRPC status names that mean "try again later".
TRANSIENT_GRPC = frozenset(
    {"UNAVAILABLE", "DEADLINE_EXCEEDED", "ABORTED", "INTERNAL", "UNKNOWN", "CANCELLED"}
)
#: gRPC status names that no retry can fix.
PERMANENT_GRPC = frozenset(
    {
        "INVALID_ARGUMENT",
        "FAILED_PRECONDITION",
        "UNAUTHENTICATED",
        "OUT_OF_RANGE",
        "UNIMPLEMENTED",
    }
)
#: Refusals that a first deploy produces for minutes and then never again: IAM bindings that
#: have not propagated yet (PERMISSION_DENIED / 403) and a Firestore index still building
#: (FAILED_PRECONDITION "... currently building"). Acknowledging them would lose the event (an
#: upload whose run was never created), so they are `TransientError`s that the *platform*
#: retries with its own backoff (Eventarc for 24 h, Pub/Sub up to the dead-letter topic, whose
#: function marks the run FAILED); `call_with_retry` does not spin on them in-process, since
#: propagation takes minutes, not seconds.
PROPAGATION_CODES = frozenset({"permission_denied", "index_building"})
_INDEX_BUILDING = "currently building"
TRANSIENT_HTTP = frozenset({408, 429, 500, 502, 503, 504})

#: Defaults sized for a 60 s function timeout: give up after 30 s so the handler can still
#: report the failure before the platform kills it.
DEFAULT_DEADLINE_S = 30.0
DEFAULT_INITIAL_S = 0.25
DEFAULT_MAX_S = 8.0


def _status(exc: BaseException) -> tuple[int | None, str | None]:
    """(HTTP code, gRPC status name) of an API-core, gRPC or HTTP-library exception."""
    http: int | None = None
    grpc_name: str | None = None
    code = getattr(exc, "code", None)
    if isinstance(code, int):
        http = code
    grpc_status = getattr(exc, "grpc_status_code", None)
    if grpc_status is not None:
        grpc_name = getattr(grpc_status, "name", None)
    elif callable(code):  # a raw grpc.RpcError
        try:
            grpc_name = getattr(code(), "name", None)
        except Exception:  # pragma: no cover - defensive: a broken error object
            grpc_name = None
    if http is None:
        response = getattr(exc, "response", None)
        sc = getattr(response, "status_code", None)
        if isinstance(sc, int):
            http = sc
    return http, grpc_name


def _message(exc: BaseException) -> str:
    """The API's own message: what a person needs to fix a 400-class refusal."""
    msg = getattr(exc, "message", None)
    if isinstance(msg, str) and msg:
        return msg
    details = getattr(exc, "details", None)
    if callable(details):  # grpc.RpcError
        try:
            d = details()
            if isinstance(d, str) and d:
                return d
        except Exception:  # pragma: no cover - defensive
            pass
    return str(exc) or type(exc).__name__


def _is_network_error(exc: BaseException) -> bool:
    """Connection resets and timeouts from requests/urllib3/google-auth: always worth a retry."""
    if isinstance(exc, ConnectionError | TimeoutError):
        return True
    names = {c.__name__ for c in type(exc).__mro__}
    return bool(
        names
        & {
            "ConnectionError",
            "Timeout",
            "ReadTimeout",
            "ConnectTimeout",
            "ChunkedEncodingError",
            "ProtocolError",
            "TransportError",
            "RetryError",
        }
    )


_CLIENT_MODULES = ("google.", "grpc", "requests", "urllib3", "shared.errors")


def from_a_client(exc: BaseException) -> bool:
    """True for exceptions raised by a Google client or its transport (and ours, already
    mapped); everything else is a program error that must keep its type and traceback."""
    module = type(exc).__module__ or ""
    return module.startswith(_CLIENT_MODULES) or _is_network_error(exc)


def map_google_error(exc: BaseException, *, quota: bool = False, what: str = "") -> PipelineError:
    """Map a Google client exception onto the pipeline's error kinds.

    429 / RESOURCE_EXHAUSTED is a `TransientError` unless the caller knows it is a quota refusal
    (`quota=True`, e.g. Vertex's concurrent-tuning-jobs quota), then `QuotaExceeded`.
    `what` prefixes the message ("gs://b/o", "run abc") so logs say what failed.
    A `PipelineError` passes through unchanged.
    """
    if isinstance(exc, PipelineError):
        return exc
    cause = getattr(exc, "cause", None)
    if type(exc).__name__ == "RetryError" and isinstance(cause, BaseException):
        # The client's own retry gave up: report the last real error, still as transient.
        last = map_google_error(cause, quota=quota, what=what)
        if isinstance(last, TransientError):
            return type(last)(f"{last.message} ({_message(exc)})", code=last.code)
        return last
    http, grpc_name = _status(exc)
    prefix = f"{what}: " if what else ""
    text = f"{prefix}{_message(exc)}"
    if http == 404 or grpc_name == "NOT_FOUND":
        return NotFound(text)
    if http == 412:
        return PreconditionFailed(text)
    if http == 429 or grpc_name == "RESOURCE_EXHAUSTED":
        return QuotaExceeded(text) if quota else TransientError(text, code="rate_limited")
    # gRPC names first: ABORTED (a lost transaction) carries HTTP 409 like ALREADY_EXISTS.
    if grpc_name in TRANSIENT_GRPC:
        return TransientError(text, code=grpc_name.lower())
    if grpc_name == "ALREADY_EXISTS" or http == 409:
        return PreconditionFailed(text, code="already_exists")
    if http in TRANSIENT_HTTP:
        return TransientError(text, code=str(http))
    if grpc_name == "PERMISSION_DENIED" or http == 403:
        return TransientError(text, code="permission_denied")
    if grpc_name == "FAILED_PRECONDITION" and _INDEX_BUILDING in text:
        return TransientError(text, code="index_building")
    if grpc_name in PERMANENT_GRPC or (http is not None and 400 <= http < 500):
        return PermanentError(text, code=(grpc_name or str(http)).lower())
    if _is_network_error(exc):
        return TransientError(f"{prefix}network error: {_message(exc)}", code="network")
    if http is not None and http >= 500:
        return TransientError(text, code=str(http))
    return PermanentError(f"{prefix}unexpected {type(exc).__name__}: {_message(exc)}")


def backoff_delays(
    initial_s: float, max_s: float, *, rng: Callable[[float, float], float] = random.uniform
) -> Iterator[float]:
    """Endless full-jitter delays: attempt n waits uniform(0, min(max_s, initial_s * 2**n))."""
    n = 0
    while True:
        yield rng(0.0, min(max_s, initial_s * (2**n)))
        n += 1


def call_with_retry(
    fn: Callable[[], T],
    *,
    deadline_s: float = DEFAULT_DEADLINE_S,
    initial_s: float = DEFAULT_INITIAL_S,
    max_s: float = DEFAULT_MAX_S,
    on_retry: Callable[[int, PipelineError, float], None] | None = None,
    quota: bool = False,
    what: str = "",
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    rng: Callable[[float, float], float] = random.uniform,
) -> T:
    """Call `fn`, retrying transient failures with exponential backoff and full jitter.

    Permanent errors, `NotFound`, `PreconditionFailed`, `QuotaExceeded` and the transient
    first-deploy refusals (`PROPAGATION_CODES`) are raised at once (mapped);
    exceptions that do not come from a client (a `ValueError` of ours) pass unchanged.
    A transient error is retried until the next sleep would cross `deadline_s`; then the last
    mapped `TransientError` is raised, so the platform retries the whole event.
    `on_retry(attempt, error, delay_s)` is called before each sleep (for a log line).
    `sleep`, `clock` and `rng` are injectable for tests.
    """
    if deadline_s <= 0 or initial_s <= 0 or max_s < initial_s:
        raise ValueError("need deadline_s > 0 and 0 < initial_s <= max_s")
    start = clock()
    delays = backoff_delays(initial_s, max_s, rng=rng)
    attempt = 0
    while True:
        attempt += 1
        try:
            return fn()
        except Exception as exc:
            if not from_a_client(exc):
                raise  # a bug or a rule of ours (ValueError, TypeError): not the service's doing
            err = map_google_error(exc, quota=quota, what=what)
            if type(err) is not TransientError or err.code in PROPAGATION_CODES:
                if err is exc:
                    raise
                raise err from exc
            delay: float = next(delays)
            remaining = deadline_s - (clock() - start)
            if delay >= remaining:
                err.message = f"{err.message} (gave up after {attempt} attempts)"
                err.args = (err.message,)
                raise err from exc
            if on_retry is not None:
                on_retry(attempt, err, delay)
            sleep(delay)
