"""PubSubBus through the real PublisherClient against the gRPC fake: retries and failures."""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import pytest

from shared.errors import PermanentError, TransientError
from shared.gcp.pubsub import PubSubBus, topic_path
from tests.fakes.pubsub import PubSubFake, publisher_client

TOPIC = "run-events"


@pytest.fixture
def fake() -> Iterator[PubSubFake]:
    with PubSubFake() as f:
        yield f


@pytest.fixture
def bus(fake: PubSubFake) -> PubSubBus:
    client = publisher_client(fake.host)
    client.create_topic(name=topic_path("p", TOPIC))
    return PubSubBus("p", publisher=client, deadline_s=1.0, initial_backoff_s=0.01)


def test_attributes_and_full_topic_path_reach_the_service(fake: PubSubFake, bus: PubSubBus) -> None:
    mid = bus.publish(TOPIC, b"{}", {"run_id": "r-1", "type": "run-event"})
    [msg] = fake.messages("projects/p/topics/run-events")
    assert (msg.message_id, msg.data, msg.attributes) == (
        mid,
        b"{}",
        {"run_id": "r-1", "type": "run-event"},
    )


def test_unavailable_is_retried_by_the_client(fake: PubSubFake, bus: PubSubBus) -> None:
    fake.fail_next(3, grpc.StatusCode.UNAVAILABLE)
    bus.publish(TOPIC, b"x", {})
    assert fake.publish_calls == 4
    assert len(fake.messages(topic_path("p", TOPIC))) == 1


def test_lasting_outage_surfaces_as_transient_within_the_deadline(
    fake: PubSubFake, bus: PubSubBus
) -> None:
    fake.fail_next(10_000, grpc.StatusCode.UNAVAILABLE)
    with pytest.raises(TransientError, match="publish to projects/p/topics/run-events"):
        bus.publish(TOPIC, b"x", {})
    assert fake.messages(topic_path("p", TOPIC)) == []


def test_missing_topic_is_transient_so_the_event_is_not_lost(bus: PubSubBus) -> None:
    with pytest.raises(TransientError, match="not found"):
        bus.publish("no-such-topic", b"x", {})


def test_refused_message_is_permanent_with_the_api_message(
    fake: PubSubFake, bus: PubSubBus
) -> None:
    fake.fail_next(1, grpc.StatusCode.INVALID_ARGUMENT)
    with pytest.raises(PermanentError, match="injected INVALID_ARGUMENT"):
        bus.publish(TOPIC, b"x", {})
    assert fake.publish_calls == 1  # not retried


@pytest.mark.parametrize("topic", ["projects/p/topics/x", "ab", "9lives", "goog-topic"])
def test_topic_must_be_a_short_id(bus: PubSubBus, topic: str) -> None:
    with pytest.raises(PermanentError, match="short id"):
        bus.publish(topic, b"x", {})


def test_non_string_attributes_are_refused_clearly(bus: PubSubBus) -> None:
    with pytest.raises(PermanentError, match="must be strings"):
        bus.publish(TOPIC, b"x", {"attempt": 1})  # type: ignore[dict-item]
