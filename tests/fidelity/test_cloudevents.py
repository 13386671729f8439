"""googleapis/google-cloudevents as the judge of our event handling: its test data go through
`shared/events.py`, and the events the local host builds (`storage_finalized_event` for the
bucket watcher in `shared/host/sources.py`, `pubsub_published_event` for the runtime's bus)
validate against its JSON schemas. Files: tests/fidelity/cloudevents/SOURCE.md."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from shared.events import (
    parse_pubsub_data,
    parse_storage_object,
    pubsub_published_event,
    storage_finalized_event,
)

HERE = Path(__file__).parent / "cloudevents"


def _load(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((HERE / name).read_text(encoding="utf-8"))
    return doc


def _int64(checker: Any, value: Any) -> bool:
    """Proto3's JSON mapping writes int64 as a string (what Cloud Storage sends, see the
    -simple sample) or a number (the -complex sample); the generated schemas say "integer"."""
    return jsonschema.Draft4Validator.TYPE_CHECKER.is_type(value, "integer") or (
        isinstance(value, str) and value.lstrip("-").isdigit()
    )


Validator = jsonschema.validators.extend(
    jsonschema.Draft4Validator,
    type_checker=jsonschema.Draft4Validator.TYPE_CHECKER.redefine("integer", _int64),
)


def _validator(name: str) -> Any:
    schema = _load(name)
    jsonschema.Draft4Validator.check_schema(schema)
    return Validator(schema)


@pytest.mark.parametrize("name", sorted(p.name for p in HERE.glob("testdata-*")))
def test_the_real_samples_pass_the_schema_as_read_here(name: str) -> None:
    kind = "StorageObjectData" if "Storage" in name else "MessagePublishedData"
    _validator(f"jsonschema-{kind}.json").validate(_load(name))


def _known_keys(schema: dict[str, Any], definition: str, samples: list[dict[str, Any]]) -> set[str]:
    """Keys the schema declares for `definition`, plus those the real samples carry (the
    duplicated snake_case Pub/Sub fields Eventarc also sends)."""
    return set(schema["definitions"][definition]["properties"]) | {k for s in samples for k in s}


@pytest.mark.parametrize("name", sorted(p.name for p in HERE.glob("testdata-StorageObjectData-*")))
def test_real_storage_events_parse(name: str) -> None:
    data = _load(name)
    obj = parse_storage_object(data)
    assert (obj.bucket, obj.name) == (data["bucket"], data["name"])
    assert obj.generation == str(data["generation"])  # int64: a string or a number
    assert obj.size == int(data["size"]) and obj.md5 == data.get("md5Hash")


@pytest.mark.parametrize(
    "name", sorted(p.name for p in HERE.glob("testdata-MessagePublishedData-*"))
)
def test_real_pubsub_events_parse(name: str) -> None:
    data = _load(name)
    msg = parse_pubsub_data(data)
    assert msg.data == base64.b64decode(data["message"]["data"])
    assert msg.message_id == "message-id" and msg.publish_time
    assert msg.attributes == data["message"].get("attributes", {})
    assert msg.subscription == data["subscription"]


def test_the_local_hosts_storage_event_matches_the_schema() -> None:
    _, data = storage_finalized_event(
        bucket="b",
        name="incoming/ds/train.jsonl",
        generation="17",
        size=12,
        md5="kF8MuJ5+CTJxvyhHS1xzRg==",
    )
    _validator("jsonschema-StorageObjectData.json").validate(data)
    schema = _load("jsonschema-StorageObjectData.json")
    samples = [_load(p.name) for p in HERE.glob("testdata-StorageObjectData-*")]
    assert set(data) <= _known_keys(schema, "StorageObjectData", samples)
    assert parse_storage_object(data).generation == "17"


def test_the_local_hosts_pubsub_event_matches_the_schema() -> None:
    _, data = pubsub_published_event(
        project="p", topic="dataset-validated", data=b'{"run_id": "r"}',
        attributes={"run_id": "r"}, message_id="42",
    )  # fmt: skip
    _validator("jsonschema-MessagePublishedData.json").validate(data)
    schema = _load("jsonschema-MessagePublishedData.json")
    samples = [_load(p.name) for p in HERE.glob("testdata-MessagePublishedData-*")]
    assert set(data) <= _known_keys(schema, "MessagePublishedData", samples)
    assert set(data["message"]) <= _known_keys(
        schema, "PubsubMessage", [s["message"] for s in samples]
    )


def test_the_schema_check_can_fail() -> None:
    _, data = storage_finalized_event(bucket="b", name="n", generation="1", size=1)
    data["name"] = 7  # the schema says a string
    with pytest.raises(jsonschema.ValidationError):
        _validator("jsonschema-StorageObjectData.json").validate(data)
