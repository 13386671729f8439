"""The cloud dead-letter path on the real local backend: a message Pub/Sub forwarded to the
dead-letter topic (original data and attributes plus Pub/Sub's `CloudPubSubDeadLetter*`
attributes, delivered as a push body) moves its run to FAILED with where to look."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared import events
from shared.events import PubSubMessage, parse_pubsub_data
from shared.pipeline import deadletter, validation
from shared.routes import HOPS, hop_of_subscription
from shared.runs import RunStatus

from .conftest import World

S = RunStatus
PROJECT = "proj-1"
EVAL = events.EVALUATION_REQUESTED


def dead_lettered(
    data: bytes,
    attributes: dict[str, str],
    *,
    subscription: str = "gtp-launcher-push",
    attempts: str = "5",
) -> PubSubMessage:
    """The message as the deadletter function receives it: Pub/Sub keeps the original data and
    attributes and adds its own; the push body then goes through the same parser as any hop."""
    attrs = {
        **attributes,
        deadletter.SOURCE_SUBSCRIPTION: subscription,
        deadletter.SOURCE_PROJECT: PROJECT,
        deadletter.DELIVERY_COUNT: attempts,
        deadletter.SOURCE_PUBLISH_TIME: "2025-05-01T10:00:00.123Z",
    }
    _, body = events.pubsub_published_event(
        project=PROJECT,
        topic="gtp-dead-letter",
        data=data,
        attributes=attrs,
        message_id="dl-1",
        subscription=f"projects/{PROJECT}/subscriptions/gtp-deadletter-push",
    )
    return parse_pubsub_data(json.loads(json.dumps(body)))


def validated_run(world: World, folder: str = "ds") -> str:
    out = validation.handle_upload(world.deps, world.drop_dataset(folder))
    assert out.run_id and world.run(out.run_id).status == S.VALIDATED
    return out.run_id


def hop_message(type_: str, run_id: str | None) -> tuple[bytes, dict[str, str]]:
    return events.encode_message(type_, run_id)


def test_launcher_dead_letter_fails_the_run_and_says_where_to_look(world: World) -> None:
    rid = validated_run(world)
    data, attrs = hop_message(events.DATASET_VALIDATED, rid)
    assert deadletter.handle_dead_lettered(world.deps, dead_lettered(data, attrs))
    run = world.run(rid)
    assert run.status == S.FAILED and run.error is not None
    assert (run.error.stage, run.error.code) == ("launcher", "dead_lettered")
    msg = run.error.message
    assert "after 5 attempts" in msg and "gtp-launcher-push" in msg
    assert f"launcher's logs for run {rid}" in msg and "re-upload the dataset" in msg
    assert run.history[-1].note == "dead-lettered"
    assert S.FAILED in world.events(rid)


@pytest.mark.parametrize(
    ("subscription", "type_", "stage"),
    [
        (f"projects/{PROJECT}/subscriptions/gtp-evaluator-push", EVAL, "evaluator"),
        ("team-launcher-push", events.DATASET_VALIDATED, "launcher"),
        ("hand-made-sub", EVAL, "evaluator"),  # from the message type
    ],
)
def test_stage_comes_from_the_source_subscription_or_the_message_type(
    world: World, subscription: str, type_: str, stage: str
) -> None:
    rid = validated_run(world)
    data, attrs = hop_message(type_, rid)
    msg = dead_lettered(data, attrs, subscription=subscription, attempts="12")
    assert deadletter.handle_dead_lettered(world.deps, msg)
    err = world.run(rid).error
    assert err is not None and err.stage == stage and "after 12 attempts" in err.message


def test_redelivery_and_terminal_runs_are_left_as_they_are(world: World) -> None:
    rid = validated_run(world)
    data, attrs = hop_message(events.DATASET_VALIDATED, rid)
    msg = dead_lettered(data, attrs)
    assert deadletter.handle_dead_lettered(world.deps, msg)
    first = world.run(rid)
    assert not deadletter.handle_dead_lettered(world.deps, msg)  # at-least-once redelivery
    assert world.run(rid) == first

    rejected = validation.handle_upload(
        world.deps, world.drop_dataset("bad", train=b"not json\n")
    ).run_id
    assert rejected and world.run(rejected).status == S.REJECTED
    data, attrs = hop_message(events.DATASET_VALIDATED, rejected)
    assert not deadletter.handle_dead_lettered(world.deps, dead_lettered(data, attrs))
    assert world.run(rejected).status == S.REJECTED


def test_run_id_is_found_in_the_body_when_attributes_lack_it(world: World) -> None:
    rid = validated_run(world)
    data, attrs = hop_message(events.DATASET_VALIDATED, rid)
    attrs.pop("run_id")
    assert deadletter.handle_dead_lettered(world.deps, dead_lettered(data, attrs))
    assert world.run(rid).status == S.FAILED


def test_unreadable_body_with_a_run_attribute_still_fails_the_run(world: World) -> None:
    """The poison message is often the one whose body no handler can read."""
    rid = validated_run(world)
    msg = dead_lettered(b"\xff not json", {"run_id": rid}, subscription="gtp-evaluator-push")
    assert deadletter.handle_dead_lettered(world.deps, msg)
    err = world.run(rid).error
    assert err is not None and err.stage == "evaluator"


def test_missing_delivery_count_still_records_the_reason(world: World) -> None:
    rid = validated_run(world)
    data, attrs = hop_message(events.DATASET_VALIDATED, rid)
    assert deadletter.handle_dead_lettered(world.deps, dead_lettered(data, attrs, attempts=""))
    err = world.run(rid).error
    assert err is not None and "attempts" not in err.message and "launcher" in err.message


def test_poll_tick_without_a_run_is_logged_and_acknowledged(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    rid = validated_run(world)
    data, attrs = hop_message(events.POLL_TICK, None)
    msg = dead_lettered(data, attrs, subscription="gtp-poller-push")
    assert not deadletter.handle_dead_lettered(world.deps, msg)
    assert "names no run" in capsys.readouterr().err
    assert world.run(rid).status == S.VALIDATED


def test_run_event_a_consumer_gave_up_on_does_not_fail_the_run(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    """run-events subscribers are notifications; their failure says nothing about the run."""
    rid = validated_run(world)
    data, attrs = hop_message(events.RUN_EVENT, rid)
    msg = dead_lettered(data, attrs, subscription="gtp-run-events-archive")
    assert not deadletter.handle_dead_lettered(world.deps, msg)
    assert world.run(rid).status == S.VALIDATED
    assert "not a pipeline hop" in capsys.readouterr().err


@pytest.mark.parametrize("bad", ["../runs/other", "a/b", "UPPER", "x" * 64])
def test_a_run_id_no_run_can_have_counts_as_no_run(world: World, bad: str) -> None:
    """A poison body may carry anything; `a/b` would address another Firestore document."""
    body = json.dumps({"type": events.DATASET_VALIDATED, "version": 1, "run_id": bad}).encode()
    msg = dead_lettered(body, {"type": events.DATASET_VALIDATED, "run_id": bad})
    assert deadletter.read_dead_letter(msg).run_id is None
    assert not deadletter.handle_dead_lettered(world.deps, msg)


def test_unknown_run_is_acknowledged(world: World) -> None:
    data, attrs = hop_message(events.DATASET_VALIDATED, "ds-unknown-0000")
    assert not deadletter.handle_dead_lettered(world.deps, dead_lettered(data, attrs))
    assert world.store.get("ds-unknown-0000") is None


@pytest.mark.parametrize(
    ("subscription", "stage"),
    [
        ("gtp-launcher-push", "launcher"),
        ("projects/p/subscriptions/gtp-poller-push", "poller"),
        ("gtp-run-events-archive", None),
        ("launcher-evaluator-mix", None),  # ambiguous: fall back to the message type
        ("", None),
    ],
)
def test_stage_of_subscription(subscription: str, stage: str | None) -> None:
    assert hop_of_subscription(subscription) == stage


@given(
    data=st.binary(max_size=200),
    attributes=st.dictionaries(st.text(max_size=40), st.text(max_size=40), max_size=6),
)
def test_reading_any_forwarded_message_never_raises(
    data: bytes, attributes: dict[str, str]
) -> None:
    dl = deadletter.read_dead_letter(PubSubMessage(data, attributes, "1", None))
    assert dl.stage is None or dl.stage in HOPS
