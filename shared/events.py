"""CloudEvents in (exactly what Eventarc delivers) and the messages between functions.

Incoming shapes:

- `google.cloud.storage.object.v1.finalized`: `data` is the Cloud Storage object resource
  (`bucket`, `name`, `generation` as a string, `size` as a string, `md5Hash`, ...).
- `google.cloud.pubsub.topic.v1.messagePublished`: `data` is
  `{"message": {"data": <base64>, "attributes": {...}, "messageId", "publishTime"},
  "subscription": ...}`.

Outgoing messages are small versioned JSON documents; attributes repeat `type`, `version` and
`run_id` so subscriptions can filter and logs can correlate without decoding the body.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal, Protocol

from shared.clock import to_iso, utcnow
from shared.errors import InvalidMessage

if TYPE_CHECKING:
    from shared.runs import Run

STORAGE_FINALIZED = "google.cloud.storage.object.v1.finalized"
PUBSUB_PUBLISHED = "google.cloud.pubsub.topic.v1.messagePublished"

MESSAGE_VERSION = 1
DATASET_VALIDATED = "dataset-validated"
EVALUATION_REQUESTED = "evaluation-requested"
RUN_EVENT = "run-event"
POLL_TICK = "poll-tick"
#: On the run-events topic: the production model changed (a promotion or a rollback). The body
#: is the new production record (`ports.Promotion.to_dict()`: run_id, tuned_model_name, endpoint,
#: checkpoint_id, base_model, promoted_at, promoted_by, reason, previous, rolled_back,
#: rollback_to, simulated, sequence) plus `action` ("promoted" or "rolled back"); attributes
#: carry `type`, `version`, `run_id` (the new production run) and `action`.
PRODUCTION_CHANGED = "production-changed"
#: On the run-events topic: a base model the production model (or another SUCCEEDED run) is
#: tuned on retires or blocks new tuning soon, or the catalog check found Vertex AI's models
#: changed (`shared.pipeline.lifecycle`, `shared.pipeline.catalog_check`; docs/run-events.md).
LIFECYCLE_WARNING = "lifecycle-warning"
MESSAGE_TYPES = frozenset(
    {
        DATASET_VALIDATED,
        EVALUATION_REQUESTED,
        RUN_EVENT,
        POLL_TICK,
        PRODUCTION_CHANGED,
        LIFECYCLE_WARNING,
    }
)


#: A `run-event` reports a status change (`transition`) or a warning about a run that did not
#: change status (`warning`: stuck in one state). docs/run-events.md documents the body.
RunEventKind = Literal["transition", "warning"]
#: Rejected runs' events carry this many of the validator's findings.
RUN_EVENT_FINDINGS = 3


def run_event_body(run: Run, note: str, *, kind: RunEventKind = "transition") -> dict[str, Any]:
    """The body of a `run-event` (v1): what a subscriber needs to tell people about the run
    without reading the run store. Optional sections appear only when they have content."""
    body: dict[str, Any] = {
        "kind": kind,
        "status": str(run.status),
        "note": note,
        "at": run.updated_at,
        "dataset": {"name": run.dataset.name, "uri": run.dataset.uri},
        "simulated": run.simulated,
    }
    if run.error is not None:
        body["error"] = {
            "stage": run.error.stage,
            "code": run.error.code,
            "message": run.error.message,
        }
    ev = run.evaluation
    if ev.passed is not None or ev.reason:
        body["evaluation"] = {
            "passed": ev.passed,
            "verdict": ev.verdict,
            "leakage_share": (ev.leakage or {}).get("share"),
            "reason": ev.reason,
            "report_uri": ev.report_html_uri or ev.report_uri,
        }
    if run.status == "REJECTED" and run.validation.findings:
        body["findings"] = [
            {k: f.get(k) for k in ("code", "file", "line", "message")}
            for f in run.validation.findings[:RUN_EVENT_FINDINGS]
        ]
    if run.job.console_url:
        body["job"] = {"state": run.job.state, "console_url": run.job.console_url}
    if run.retry_of:
        body["retry_of"] = run.retry_of
    return body


class CloudEventLike(Protocol):
    """What functions-framework hands a `cloud_event` function (cloudevents' CloudEvent)."""

    data: Any

    def get_attributes(self) -> Mapping[str, Any]: ...


@dataclass(frozen=True)
class Envelope:
    """The CloudEvent context the pipeline needs: id for logs, time for the age check
    (`shared.pipeline.entry.too_old`)."""

    id: str
    type: str
    source: str
    time: str | None


@dataclass(frozen=True)
class StorageObject:
    bucket: str
    name: str
    generation: str
    size: int
    md5: str | None = None
    content_type: str | None = None
    time_created: str | None = None


@dataclass(frozen=True)
class PubSubMessage:
    data: bytes
    attributes: Mapping[str, str]
    message_id: str
    publish_time: str | None
    subscription: str | None = None


@dataclass(frozen=True)
class PipelineMessage:
    """A decoded message between functions."""

    type: str
    run_id: str | None
    version: int = MESSAGE_VERSION
    body: Mapping[str, Any] = field(default_factory=dict)


def envelope(event: CloudEventLike) -> Envelope:
    a = event.get_attributes()
    return Envelope(
        id=str(a.get("id", "")),
        type=str(a.get("type", "")),
        source=str(a.get("source", "")),
        time=str(a["time"]) if a.get("time") else None,
    )


def _data_dict(event: CloudEventLike) -> Mapping[str, Any]:
    data = event.data
    if isinstance(data, bytes | bytearray):
        try:
            data = json.loads(data)
        except ValueError:
            raise InvalidMessage("event data is not JSON") from None
    if not isinstance(data, Mapping):
        raise InvalidMessage("event data is not a JSON object")
    return data


def parse_storage_object(data: Mapping[str, Any]) -> StorageObject:
    """The storage object from a finalize event's data; a malformed event is permanent."""
    try:
        return StorageObject(
            bucket=str(data["bucket"]),
            name=str(data["name"]),
            generation=str(data["generation"]),
            size=int(data.get("size") or 0),
            md5=data.get("md5Hash"),
            content_type=data.get("contentType"),
            time_created=data.get("timeCreated"),
        )
    except (KeyError, TypeError, ValueError) as e:
        raise InvalidMessage(f"not a Cloud Storage object event: missing or bad {e}") from None


def storage_object(event: CloudEventLike) -> StorageObject:
    return parse_storage_object(_data_dict(event))


def parse_pubsub_data(data: Mapping[str, Any]) -> PubSubMessage:
    msg = data.get("message")
    if not isinstance(msg, Mapping):
        raise InvalidMessage("not a Pub/Sub event: no `message` object in the data")
    raw = msg.get("data") or ""
    try:
        payload = base64.b64decode(raw, validate=True) if raw else b""
    except (binascii.Error, ValueError, TypeError):
        raise InvalidMessage("Pub/Sub message data is not valid base64") from None
    attrs = msg.get("attributes") or {}
    return PubSubMessage(
        data=payload,
        attributes={str(k): str(v) for k, v in attrs.items()},
        message_id=str(msg.get("messageId") or msg.get("message_id") or ""),
        publish_time=msg.get("publishTime") or msg.get("publish_time"),
        subscription=data.get("subscription"),
    )


def pubsub_message(event: CloudEventLike) -> PubSubMessage:
    return parse_pubsub_data(_data_dict(event))


def encode_message(
    type_: str, run_id: str | None, body: Mapping[str, Any] | None = None
) -> tuple[bytes, dict[str, str]]:
    """Body bytes and attributes for a pipeline message."""
    if type_ not in MESSAGE_TYPES:
        raise ValueError(f"unknown message type {type_!r}")
    doc: dict[str, Any] = {"type": type_, "version": MESSAGE_VERSION, "run_id": run_id}
    if body:
        doc.update(body)
    attrs = {"type": type_, "version": str(MESSAGE_VERSION)}
    if run_id:
        attrs["run_id"] = run_id
    return json.dumps(doc, ensure_ascii=False, sort_keys=True).encode(), attrs


def decode_message(msg: PubSubMessage, *, expect: str | None = None) -> PipelineMessage:
    """Decode and check a pipeline message. Unknown versions and types are permanent errors:
    retrying a message this code cannot read only fills the dead-letter topic later."""
    try:
        doc = json.loads(msg.data) if msg.data else {}
    except ValueError:
        raise InvalidMessage("message body is not JSON") from None
    if not isinstance(doc, dict):
        raise InvalidMessage("message body is not a JSON object")
    type_ = doc.get("type") or msg.attributes.get("type")
    version = doc.get("version", msg.attributes.get("version", MESSAGE_VERSION))
    try:
        version = int(version)
    except (TypeError, ValueError):
        raise InvalidMessage(f"message version {version!r} is not a number") from None
    if version != MESSAGE_VERSION:
        raise InvalidMessage(f"message version {version} is not supported (this is v1)")
    if expect is not None and type_ != expect:
        raise InvalidMessage(f"expected a {expect!r} message, got {type_!r}")
    run_id = doc.get("run_id") or msg.attributes.get("run_id")
    body = {k: v for k, v in doc.items() if k not in ("type", "version", "run_id")}
    return PipelineMessage(type=str(type_), run_id=run_id, version=version, body=body)


# ---- builders for the exact Eventarc shapes (used by the local runtime and tests) -----------


def storage_finalized_event(
    *,
    bucket: str,
    name: str,
    generation: str,
    size: int,
    md5: str | None = None,
    content_type: str = "application/octet-stream",
    event_id: str | None = None,
    time: str | None = None,
) -> tuple[dict[str, str], dict[str, Any]]:
    """(attributes, data) of the CloudEvent Eventarc sends for a finalized object."""
    now = time or to_iso(datetime.now(UTC), "microseconds")
    attrs = {
        "specversion": "1.0",
        "id": event_id or f"{bucket}/{name}/{generation}",
        "source": f"//storage.googleapis.com/projects/_/buckets/{bucket}",
        "type": STORAGE_FINALIZED,
        "subject": f"objects/{name}",
        "time": now,
        "datacontenttype": "application/json",
    }
    data: dict[str, Any] = {
        "kind": "storage#object",
        "id": f"{bucket}/{name}/{generation}",
        "bucket": bucket,
        "name": name,
        "generation": str(generation),
        "metageneration": "1",
        "contentType": content_type,
        "size": str(size),
        "timeCreated": now,
        "updated": now,
        "storageClass": "STANDARD",
    }
    if md5:
        data["md5Hash"] = md5
    return attrs, data


def pubsub_published_event(
    *,
    project: str,
    topic: str,
    data: bytes,
    attributes: Mapping[str, str],
    message_id: str,
    publish_time: str | None = None,
    subscription: str | None = None,
) -> tuple[dict[str, str], dict[str, Any]]:
    """(attributes, data) of the CloudEvent Eventarc sends for a published message."""
    now = publish_time or utcnow()
    msg = {
        "data": base64.b64encode(data).decode(),
        "attributes": dict(attributes),
        "messageId": message_id,
        "message_id": message_id,
        "publishTime": now,
        "publish_time": now,
    }
    attrs = {
        "specversion": "1.0",
        "id": message_id,
        "source": f"//pubsub.googleapis.com/projects/{project}/topics/{topic}",
        "type": PUBSUB_PUBLISHED,
        "time": now,
        "datacontenttype": "application/json",
    }
    body: dict[str, Any] = {"message": msg}
    body["subscription"] = subscription or f"projects/{project}/subscriptions/{topic}-sub"
    return attrs, body
