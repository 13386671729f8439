"""Evaluator: an `evaluation-requested` message arrived (Pub/Sub); tuned vs base model."""

import functions_framework
from cloudevents.http import CloudEvent

from shared import composition, events, logs
from shared.pipeline import entry, evaluate


@functions_framework.cloud_event
def on_evaluation_requested(cloud_event: CloudEvent) -> None:
    env = events.envelope(cloud_event)
    with entry.guard("evaluator", env):
        deps = composition.instance()
        if entry.too_old(env, deps.settings):
            return
        msg = events.decode_message(
            events.pubsub_message(cloud_event), expect=events.EVALUATION_REQUESTED
        )
        result = evaluate.handle_evaluation_request(deps, msg.run_id)
        logs.info(f"evaluator: {result}", run_id=msg.run_id)
