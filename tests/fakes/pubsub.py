"""A small in-process Pub/Sub gRPC server: the Publisher service's topic and publish RPCs.

It is built from the client library's own message types (`google.pubsub_v1.types`, whose
proto-plus classes `serialize`/`deserialize` the wire format), so the real
`google.cloud.pubsub_v1.PublisherClient` runs its whole publish path against it: batching,
attributes, the gRPC channel and its retry policy. Tests read what arrived through a side channel
(`messages(topic)`) and can make the next k Publish calls fail with a status (`fail_next`).

Topics must exist before publishing (NOT_FOUND otherwise), as on the real service and the
official emulator; `CreateTopic` / `GetTopic` provision them.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from concurrent import futures
from dataclasses import dataclass, field
from typing import Any

import grpc
from google.pubsub_v1 import types

SERVICE = "google.pubsub.v1.Publisher"


@dataclass
class Received:
    data: bytes
    attributes: dict[str, str]
    message_id: str


@dataclass
class _State:
    topics: dict[str, list[Received]] = field(default_factory=dict)
    failures: list[grpc.StatusCode] = field(default_factory=list)
    publish_calls: int = 0


class PubSubFake:
    """Serve on 127.0.0.1:`port`; use as a context manager or call `start()` / `stop()`."""

    def __init__(self) -> None:
        self._state = _State()
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._server: grpc.Server | None = None
        self.port = 0

    # -- side channel for tests ---------------------------------------------------------------

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def messages(self, topic_path: str) -> list[Received]:
        with self._lock:
            return list(self._state.topics.get(topic_path, []))

    def fail_next(self, k: int, code: grpc.StatusCode = grpc.StatusCode.UNAVAILABLE) -> None:
        """Make the next `k` Publish calls fail with `code` (before storing anything)."""
        with self._lock:
            self._state.failures.extend([code] * k)

    @property
    def publish_calls(self) -> int:
        with self._lock:
            return self._state.publish_calls

    def reset(self) -> None:
        with self._lock:
            self._state = _State()

    # -- RPCs ---------------------------------------------------------------------------------

    def _create_topic(self, req: Any, ctx: grpc.ServicerContext) -> Any:
        with self._lock:
            if req.name in self._state.topics:
                ctx.abort(grpc.StatusCode.ALREADY_EXISTS, f"Topic already exists: {req.name}")
            self._state.topics[req.name] = []
        return types.Topic(name=req.name)

    def _get_topic(self, req: Any, ctx: grpc.ServicerContext) -> Any:
        with self._lock:
            if req.topic not in self._state.topics:
                ctx.abort(grpc.StatusCode.NOT_FOUND, f"Topic not found: {req.topic}")
        return types.Topic(name=req.topic)

    def _publish(self, req: Any, ctx: grpc.ServicerContext) -> Any:
        with self._lock:
            self._state.publish_calls += 1
            if self._state.failures:
                code = self._state.failures.pop(0)
                ctx.abort(code, f"injected {code.name}")
            if req.topic not in self._state.topics:
                ctx.abort(grpc.StatusCode.NOT_FOUND, f"Topic not found: {req.topic}")
            if not req.messages:
                ctx.abort(grpc.StatusCode.INVALID_ARGUMENT, "No messages in publish request")
            ids = []
            for m in req.messages:
                mid = str(next(self._ids))
                self._state.topics[req.topic].append(
                    Received(bytes(m.data), dict(m.attributes), mid)
                )
                ids.append(mid)
        return types.PublishResponse(message_ids=ids)

    def _handlers(self) -> grpc.GenericRpcHandler:
        def unary(fn: Callable[[Any, grpc.ServicerContext], Any], req_t: Any, resp_t: Any) -> Any:
            return grpc.unary_unary_rpc_method_handler(
                fn, request_deserializer=req_t.deserialize, response_serializer=resp_t.serialize
            )

        return grpc.method_handlers_generic_handler(
            SERVICE,
            {
                "CreateTopic": unary(self._create_topic, types.Topic, types.Topic),
                "GetTopic": unary(self._get_topic, types.GetTopicRequest, types.Topic),
                "Publish": unary(self._publish, types.PublishRequest, types.PublishResponse),
            },
        )

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> PubSubFake:
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        server.add_generic_rpc_handlers((self._handlers(),))
        self.port = server.add_insecure_port("127.0.0.1:0")
        server.start()
        self._server = server
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop(grace=None)
            self._server = None

    def __enter__(self) -> PubSubFake:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def publisher_client(host: str) -> Any:
    """A real PublisherClient on an insecure channel to `host` (PUBSUB_EMULATOR_HOST semantics)."""
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import pubsub_v1
    from google.pubsub_v1.services.publisher.transports import PublisherGrpcTransport

    channel = grpc.insecure_channel(host)
    transport = PublisherGrpcTransport(channel=channel, credentials=AnonymousCredentials())
    return pubsub_v1.PublisherClient(transport=transport)
