"""A message that kept failing was dead-lettered: make the run say why.

Without this a poison message would leave its run stuck in a working state forever. The run
moves to FAILED from whatever non-terminal state it is in, with the last error as the message.
Two callers: the local host (its bus knows the last error) and, in the cloud, the deadletter
function fed by the dead-letter topic (`handle_dead_lettered`: Pub/Sub only says where and how
often delivery failed, so the message points at that function's logs).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shared import logs
from shared.bounds import MAX_QUOTED_ERROR_CHARS, clip
from shared.errors import PipelineError
from shared.events import RUN_EVENT, PubSubMessage, parse_storage_object
from shared.pipeline import layout
from shared.ports import Deps
from shared.routes import consumer_of, hop_of_subscription
from shared.runs import NON_TERMINAL, RunStatus, make_run_id

from .transitions import advance, failed


def run_id_of(attributes: Mapping[str, str], data: Mapping[str, Any] | None = None) -> str | None:
    """The run a message belongs to: its `run_id` attribute, or derived from a storage event."""
    if attributes.get("run_id"):
        return attributes["run_id"]
    if data and "bucket" in data and "name" in data:
        obj = parse_storage_object(data)
        if layout.trigger_objects(obj.name) is not None:
            return make_run_id(obj.bucket, obj.name, obj.generation)
    return None


def record_dead_letter(
    deps: Deps,
    attributes: Mapping[str, str],
    error_text: str,
    *,
    data: Mapping[str, Any] | None = None,
    attempts: int | None = None,
    stage: str = "delivery",
) -> bool:
    """Fail the message's run with the reason. True if a run was moved to FAILED."""
    run_id = run_id_of(attributes, data)
    if run_id is None:
        logs.error(f"dead-lettered message without a run: {error_text}")
        return False
    tries = f" after {attempts} attempts" if attempts else ""
    message = f"message dead-lettered{tries}: {clip(error_text, MAX_QUOTED_ERROR_CHARS)}"
    current = deps.store.get(run_id)
    sf = current.step_failure if current is not None else None
    if sf is not None:  # what actually failed, recorded by the step (transitions.py)
        message += f" (last failure: the {sf.stage} raised {sf.type}: {sf.message})"
    moved = advance(
        deps,
        run_id,
        NON_TERMINAL,
        RunStatus.FAILED,
        note="dead-lettered",
        change=failed(stage, "dead_lettered", message),
    )
    return moved is not None


# ---- Pub/Sub dead-letter topic (the cloud path) ---------------------------------------------

#: Attributes Pub/Sub adds when it forwards a message to a dead-letter topic (the original data
#: and attributes are kept). The subscription is its short id, not the full path.
SOURCE_SUBSCRIPTION = "CloudPubSubDeadLetterSourceSubscription"
SOURCE_PROJECT = "CloudPubSubDeadLetterSourceSubscriptionProject"
DELIVERY_COUNT = "CloudPubSubDeadLetterSourceDeliveryCount"
SOURCE_PUBLISH_TIME = "CloudPubSubDeadLetterSourceTopicPublishTime"

#: Shape of every id `make_run_id` makes (Firestore- and Vertex-label-safe). A poison body may
#: carry anything; an id like `a/b` would address another document, so it counts as no run.
_RUN_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


@dataclass(frozen=True)
class DeadLetter:
    """What a forwarded message says about its failure, read from attributes and body."""

    run_id: str | None
    stage: str | None
    attempts: int | None
    subscription: str
    message_type: str | None


def _body(data: bytes) -> Mapping[str, Any]:
    """The original message body when it is a JSON object; anything else is treated as empty
    (a poison message is often exactly the one whose body cannot be read)."""
    if not data:
        return {}
    try:
        doc = json.loads(data)
    except ValueError:
        return {}
    return doc if isinstance(doc, dict) else {}


def read_dead_letter(msg: PubSubMessage) -> DeadLetter:
    """Derive run, stage and attempt count from a message Pub/Sub dead-lettered."""
    attrs = msg.attributes
    body = _body(msg.data)
    run_id = attrs.get("run_id") or (
        body.get("run_id") if isinstance(body.get("run_id"), str) else None
    )
    if not run_id:
        try:
            run_id = run_id_of(attrs, body)
        except PipelineError:  # a storage event too broken to name its object
            run_id = None
    type_ = attrs.get("type") or (str(body["type"]) if body.get("type") else None)
    subscription = attrs.get(SOURCE_SUBSCRIPTION, "")
    stage = hop_of_subscription(subscription) if subscription else None
    stage = stage or consumer_of(type_)
    try:
        attempts: int | None = int(attrs.get(DELIVERY_COUNT, ""))
    except ValueError:
        attempts = None
    if run_id and not _RUN_ID.match(run_id):
        run_id = None
    return DeadLetter(run_id or None, stage, attempts, subscription, type_)


def handle_dead_lettered(deps: Deps, msg: PubSubMessage) -> bool:
    """A message arrived from the dead-letter topic: fail its run with what to do next.

    True if a run moved to FAILED. Everything else is logged and acknowledged: messages
    without a run (poll ticks), run events a notification consumer gave up on (the run itself is
    fine), unknown runs, and runs already terminal (the store's compare-and-set keeps them).
    """
    dl = read_dead_letter(msg)
    where = dl.subscription or "an unknown subscription"
    fields = {"run_id": dl.run_id, "subscription": dl.subscription, "attempts": dl.attempts}
    if dl.message_type == RUN_EVENT or dl.stage is None:
        logs.warning(
            f"dead-lettered {dl.message_type or 'unknown'} message from {where} is not a pipeline "
            "hop; no run changed. Check that subscription's consumer.",
            **fields,
        )
        return False
    if dl.run_id is None:
        logs.warning(
            f"dead-lettered {dl.message_type or 'unknown'} message from {where} names no run "
            f"(e.g. a poll tick); acknowledged. See the {dl.stage}'s logs for the failure.",
            **fields,
        )
        return False
    reason = (
        f"the {dl.stage} could not process it (subscription {where}); see the {dl.stage}'s "
        f"logs for run {dl.run_id}, fix the cause, then re-upload the dataset to start a new run"
    )
    moved = record_dead_letter(
        deps, {"run_id": dl.run_id}, reason, attempts=dl.attempts, stage=dl.stage
    )
    if not moved:
        logs.info(
            f"dead-lettered message for run {dl.run_id} from {where}: run is unknown or already "
            "finished; left as is",
            **fields,
        )
    return moved
