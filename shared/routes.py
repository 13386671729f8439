"""Which function serves which trigger: the one routing table of the pipeline.

Read by the local host (which function gets which topic), by the dead-letter step (which
function a dead-lettered subscription fed, and who consumes a message type), by the tests, and
checked against Terraform (`tests/infra/test_routes.py`): a new function or topic is added here
first. Pure data: importing it costs nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from shared.events import DATASET_VALIDATED, EVALUATION_REQUESTED, POLL_TICK, RUN_EVENT
from shared.settings import Settings

Trigger = Literal["storage", "pubsub", "http"]
#: Logical topics; `topic_name()` turns one into the deployment's topic name.
Topic = Literal[
    "dataset_validated", "evaluation_requested", "run_events", "poll_tick", "dead_letter"
]

#: Topic names that are not deployment settings (no function publishes to them): Cloud
#: Scheduler publishes the ticks, Pub/Sub forwards dead letters. Terraform prefixes them.
FIXED_TOPICS: dict[str, str] = {"poll_tick": "poll-tick", "dead_letter": "dead-letter"}


@dataclass(frozen=True)
class FunctionRoute:
    """One Cloud Function: `functions/<name>/main.py`, Terraform `module "<name>"`."""

    name: str
    entry_point: str
    trigger: Trigger
    topic: Topic | None = None  #: the topic it consumes (pubsub triggers)
    message_type: str | None = None  #: the pipeline message it consumes
    #: A pipeline hop: a message it kept failing on is dead-lettered and fails its run.
    hop: bool = False
    #: The platform redelivers a failed event (Cloud Scheduler does not retry a tick).
    retries: bool = True
    #: Deployed only when configured (Terraform `count`; the local host: with `--notify`).
    optional: bool = False


ROUTES: tuple[FunctionRoute, ...] = (
    FunctionRoute("validator", "on_dataset_uploaded", "storage", hop=True),
    FunctionRoute(
        "launcher",
        "on_dataset_validated",
        "pubsub",
        "dataset_validated",
        DATASET_VALIDATED,
        hop=True,
    ),
    FunctionRoute(
        "poller", "on_poll_tick", "pubsub", "poll_tick", POLL_TICK, hop=True, retries=False
    ),
    FunctionRoute(
        "evaluator",
        "on_evaluation_requested",
        "pubsub",
        "evaluation_requested",
        EVALUATION_REQUESTED,
        hop=True,
    ),
    FunctionRoute("deadletter", "on_dead_letter", "pubsub", "dead_letter"),
    FunctionRoute("status", "status_page", "http"),
    # Optional in Terraform (var.notifier_webhook_secret). Not a hop: a notification that
    # cannot be posted never fails a run, and it is not retried (it logs and acknowledges).
    FunctionRoute(
        "notifier", "on_run_event", "pubsub", "run_events", RUN_EVENT, retries=False, optional=True
    ),
)

#: The functions whose dead letters end their run, in pipeline order.
HOPS: tuple[str, ...] = tuple(r.name for r in ROUTES if r.hop)


def route(name: str) -> FunctionRoute:
    for r in ROUTES:
        if r.name == name:
            return r
    raise KeyError(f"no function named {name!r}; known: {', '.join(r.name for r in ROUTES)}")


def topic_name(topic: Topic, settings: Settings) -> str:
    """The deployment's name for a logical topic (un-prefixed for the fixed ones)."""
    if topic == "dataset_validated":
        return settings.topic_dataset_validated
    if topic == "evaluation_requested":
        return settings.topic_evaluation_requested
    if topic == "run_events":
        return settings.topic_run_events
    return FIXED_TOPICS[topic]


def consumer_of(message_type: str | None) -> str | None:
    """The function that consumes pipeline messages of this type."""
    for r in ROUTES:
        if message_type is not None and r.message_type == message_type:
            return r.name
    return None


def hop_of_subscription(subscription: str) -> str | None:
    """`projects/p/subscriptions/gtp-launcher-push` or `gtp-launcher-push` -> `launcher`;
    None when it is not exactly one pipeline hop's subscription."""
    short = subscription.rsplit("/", 1)[-1]
    if not short.endswith("-push"):
        return None
    found = [h for h in HOPS if short.endswith(f"-{h}-push")]
    return found[0] if len(found) == 1 else None
