"""`Bus` on Pub/Sub (google-cloud-pubsub's batching PublisherClient).

The port promises "accepted or `TransientError`", so `publish` waits on the publish future. The
client's default publish retry runs for up to 600 s, far past a function's timeout; here it is
bounded by `deadline_s` (exponential backoff on the transient gRPC codes), and the future is
awaited for a little longer than that, so a lasting outage surfaces as `TransientError` and the
platform redelivers the event instead of killing the function mid-call.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from shared.errors import NotFound, PermanentError, TransientError
from shared.gcp.retry import map_google_error

#: Topic ids: 3-255 chars, start with a letter, then letters, digits and -_.~+% (Pub/Sub rules).
_TOPIC_ID = re.compile(r"[A-Za-z][A-Za-z0-9\-_.~+%]{2,254}")
_RESERVED = "goog"


def topic_path(project: str, topic: str) -> str:
    """`projects/<project>/topics/<id>` for a short topic id; a clear error for anything else."""
    if not _TOPIC_ID.fullmatch(topic) or topic.lower().startswith(_RESERVED):
        raise PermanentError(
            f"invalid Pub/Sub topic id {topic!r}: pass the short id (e.g. 'run-events'), "
            "3-255 characters starting with a letter, not starting with 'goog'"
        )
    return f"projects/{project}/topics/{topic}"


def _publish_retry(deadline_s: float, initial_s: float, max_s: float) -> Any:
    from google.api_core import exceptions as e
    from google.api_core.retry import Retry, if_exception_type

    return Retry(
        predicate=if_exception_type(
            e.Aborted,
            e.Cancelled,
            e.DeadlineExceeded,
            e.InternalServerError,
            e.ResourceExhausted,
            e.ServiceUnavailable,
            e.Unknown,
        ),
        initial=initial_s,
        maximum=max_s,
        multiplier=2.0,
        timeout=deadline_s,
    )


class PubSubBus:
    """Publish to Pub/Sub topics of one project. Pass `publisher` to reuse a client."""

    def __init__(
        self,
        project: str,
        publisher: Any = None,
        *,
        deadline_s: float = 30.0,
        initial_backoff_s: float = 0.1,
        max_backoff_s: float = 5.0,
        rpc_timeout_s: float = 10.0,
    ) -> None:
        if publisher is None:
            from google.cloud.pubsub_v1 import PublisherClient

            publisher = PublisherClient()
        self.project = project
        self._publisher = publisher
        self._deadline_s = deadline_s
        self._rpc_timeout_s = rpc_timeout_s
        self._retry = _publish_retry(deadline_s, initial_backoff_s, max_backoff_s)

    def publish(self, topic: str, data: bytes, attributes: Mapping[str, str]) -> str:
        if not isinstance(data, bytes):
            raise TypeError(f"Pub/Sub message data must be bytes, not {type(data).__name__}")
        path = topic_path(self.project, topic)
        bad = [k for k, v in attributes.items() if not isinstance(k, str) or not isinstance(v, str)]
        if bad:
            raise PermanentError(f"Pub/Sub attributes must be strings; fix {bad!r} for {path}")
        try:
            future = self._publisher.publish(
                path, data, retry=self._retry, timeout=self._rpc_timeout_s, **dict(attributes)
            )
        except Exception as exc:  # e.g. the message is too large: the client refuses locally
            raise map_google_error(exc, what=f"publish to {path}") from exc
        wait_s = self._deadline_s + self._rpc_timeout_s
        try:
            message_id: str = future.result(timeout=wait_s)
        except TimeoutError as exc:
            raise TransientError(
                f"publish to {path}: not accepted within {wait_s:.0f}s", code="publish_timeout"
            ) from exc
        except Exception as exc:
            err = map_google_error(exc, what=f"publish to {path}")
            if isinstance(err, NotFound):
                # No such topic: a deployment problem that a retry of the event will not fix;
                # the event still must not be lost, so the platform retries while someone
                # fixes the topic.
                raise TransientError(err.message, code=err.code) from exc
            raise err from exc
        return message_id
