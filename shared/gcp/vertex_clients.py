"""Construction of the generated Vertex AI v1 clients, shared by the tuning and models adapters.

The `google.cloud.aiplatform_v1` package costs ~0.8 s to import, so it is imported here, inside
the factory, and only by the functions that talk to Vertex AI (launcher, poller, evaluator).
Production calls the host the catalog's table gives for the call's location (copied from the
Vertex AI discovery document and checked against it by tests/fidelity: `us` and `eu` are
`aiplatform.<geo>.rep.googleapis.com`, which no `{location}-aiplatform` pattern yields); tests
pass an `http://127.0.0.1:PORT` endpoint with the REST transport and anonymous credentials to
reach the local fake.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from shared.catalog import BUILTIN
from shared.errors import PipelineError
from shared.gcp.retry import DEFAULT_DEADLINE_S, DEFAULT_INITIAL_S, DEFAULT_MAX_S, call_with_retry

T = TypeVar("T")

#: Gives up an individual HTTP call well before `call_with_retry`'s overall deadline.
DEFAULT_CALL_TIMEOUT_S = 20.0


@dataclass(frozen=True)
class RetryPolicy:
    """How long one adapter call may keep retrying transient errors (see `shared.gcp.retry`)."""

    deadline_s: float = DEFAULT_DEADLINE_S
    initial_s: float = DEFAULT_INITIAL_S
    max_s: float = DEFAULT_MAX_S
    call_timeout_s: float = DEFAULT_CALL_TIMEOUT_S
    on_retry: Callable[[int, PipelineError, float], None] | None = None

    def call(self, fn: Callable[[], T], *, what: str, quota: bool = False) -> T:
        return call_with_retry(
            fn,
            deadline_s=self.deadline_s,
            initial_s=self.initial_s,
            max_s=self.max_s,
            on_retry=self.on_retry,
            quota=quota,
            what=what,
        )


#: The policy every Vertex adapter uses unless it is given another (one value, frozen).
DEFAULT_RETRY = RetryPolicy()


def service_host(location: str) -> str:
    """The host serving `location` (`us-central1`, `us`, `eu`, `global`...): the catalog's host
    table (deployment overrides change models, not hosts). Unknown: a ConfigError."""
    return BUILTIN.host(location)


class ClientsByLocation:
    """One client of a kind per location, built on first use: a call goes to the location its
    resource lives in (a tuned endpoint in `us`, a tuning job in `us-central1`)."""

    def __init__(self, kind: str, *, api_endpoint: str | None = None, fixed: Any = None) -> None:
        self.kind = kind
        self._endpoint = api_endpoint
        self._fixed = fixed
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()  # the evaluator calls from many threads at once

    def __call__(self, location: str) -> Any:
        if self._fixed is not None:
            return self._fixed
        with self._lock:
            if location not in self._clients:
                self._clients[location] = make_client(
                    self.kind, location, api_endpoint=self._endpoint
                )
            return self._clients[location]


def make_client(
    kind: str, location: str, *, api_endpoint: str | None = None, credentials: Any = None
) -> Any:
    """A v1 client of `kind` ("tuning", "prediction", "tokens", "evaluation", "job", ...).

    An `http://` endpoint selects the REST transport (what a local fake speaks) and, without
    explicit credentials, anonymous ones so tests never look for Application Default Credentials.
    """
    from google.api_core.client_options import ClientOptions
    from google.cloud import aiplatform_v1

    classes = {
        "tuning": aiplatform_v1.GenAiTuningServiceClient,
        "prediction": aiplatform_v1.PredictionServiceClient,
        "tokens": aiplatform_v1.LlmUtilityServiceClient,
        "evaluation": aiplatform_v1.EvaluationServiceClient,
        "model_garden": aiplatform_v1.ModelGardenServiceClient,
        "model": aiplatform_v1.ModelServiceClient,
        "metadata": aiplatform_v1.MetadataServiceClient,
        "tensorboard": aiplatform_v1.TensorboardServiceClient,
        "job": aiplatform_v1.JobServiceClient,
    }
    cls = classes[kind]
    endpoint = api_endpoint or service_host(location)
    kwargs: dict[str, Any] = {"client_options": ClientOptions(api_endpoint=endpoint)}
    if endpoint.startswith("http://"):
        kwargs["transport"] = "rest"
        if credentials is None:
            from google.auth.credentials import AnonymousCredentials

            credentials = AnonymousCredentials()  # type: ignore[no-untyped-call]
    if credentials is not None:
        kwargs["credentials"] = credentials
    return cls(**kwargs)
