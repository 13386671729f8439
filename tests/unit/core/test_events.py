"""CloudEvent parsing for the exact Eventarc shapes, and the pipeline message schema."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest
from cloudevents.http import CloudEvent

from shared import events
from shared.clock import age_seconds
from shared.errors import PermanentError
from shared.pipeline.entry import too_old
from shared.pipeline.layout import trigger_objects
from shared.settings import Settings


def test_storage_event_round_trip() -> None:
    attrs, data = events.storage_finalized_event(
        bucket="b", name="incoming/ds/train.jsonl", generation="1712", size=42, md5="abc=="
    )
    ev = CloudEvent(attrs, data)
    obj = events.storage_object(ev)
    assert (obj.bucket, obj.name, obj.generation, obj.size, obj.md5) == (
        "b",
        "incoming/ds/train.jsonl",
        "1712",
        42,
        "abc==",
    )
    env = events.envelope(ev)
    assert env.type == events.STORAGE_FINALIZED
    age = age_seconds(env.time)
    assert age is not None and age < 5


def test_pubsub_event_round_trip_with_attributes() -> None:
    body, attrs = events.encode_message(events.DATASET_VALIDATED, "run-1")
    a, d = events.pubsub_published_event(
        project="p", topic="t", data=body, attributes=attrs, message_id="m1"
    )
    msg = events.pubsub_message(CloudEvent(a, d))
    assert msg.attributes["run_id"] == "run-1"
    decoded = events.decode_message(msg, expect=events.DATASET_VALIDATED)
    assert decoded.run_id == "run-1" and decoded.version == 1


@pytest.mark.parametrize(
    "data",
    [{"message": {"data": "!!!not-base64"}}, {"nomessage": 1}, {"message": "x"}],
)
def test_malformed_pubsub_events_are_permanent(data: dict[str, object]) -> None:
    with pytest.raises(PermanentError):
        events.parse_pubsub_data(data)


def test_wrong_type_or_version_is_permanent() -> None:
    body = base64.b64encode(b'{"type": "dataset-validated", "version": 2, "run_id": "r"}')
    msg = events.parse_pubsub_data({"message": {"data": body.decode()}})
    with pytest.raises(PermanentError, match="version 2"):
        events.decode_message(msg)
    body, _ = events.encode_message(events.EVALUATION_REQUESTED, "r")
    msg = events.parse_pubsub_data({"message": {"data": base64.b64encode(body).decode()}})
    with pytest.raises(PermanentError, match="expected"):
        events.decode_message(msg, expect=events.DATASET_VALIDATED)


def test_storage_event_missing_fields_is_permanent() -> None:
    with pytest.raises(PermanentError):
        events.parse_storage_object({"bucket": "b"})


def test_event_age_and_the_stale_bound() -> None:
    old = (datetime.now(UTC) - timedelta(hours=30)).isoformat()
    env = events.Envelope(id="1", type="t", source="s", time=old)
    assert (age_seconds(env.time) or 0) > 29 * 3600
    settings = Settings(max_event_age_seconds=24 * 3600)
    assert too_old(env, settings)
    # No time (or an unreadable one): nothing says it is stale, so it is processed.
    for time in (None, "not a time"):
        assert not too_old(events.Envelope(id="1", type="t", source="s", time=time), settings)


@pytest.mark.parametrize(
    ("name", "is_trigger"),
    [
        ("incoming/ds/train.jsonl", True),
        ("incoming/single.jsonl", True),
        ("incoming/ds/validation.jsonl", False),
        ("incoming/ds/test.jsonl", False),
        ("incoming/ds/tuning.yaml", False),
        ("incoming/ds/sub/train.jsonl", False),
        ("incoming/.train.jsonl.tmp.part", False),
        ("incoming/ds/.train.jsonl.x.part", False),
        ("reports/train.jsonl", False),
        ("train.jsonl", False),
        ("incoming/ds/train.json", False),
        ("incoming//train.jsonl", False),
    ],
)
def test_only_train_files_under_incoming_are_triggers(name: str, is_trigger: bool) -> None:
    assert (trigger_objects(name) is not None) is is_trigger
