"""Launcher: a `dataset-validated` message arrived (Pub/Sub); start the tuning job."""

import functions_framework
from cloudevents.http import CloudEvent

from shared import composition, events, logs
from shared.pipeline import entry, launch


@functions_framework.cloud_event
def on_dataset_validated(cloud_event: CloudEvent) -> None:
    env = events.envelope(cloud_event)
    with entry.guard("launcher", env):
        deps = composition.instance()
        if entry.too_old(env, deps.settings):
            return
        msg = events.decode_message(
            events.pubsub_message(cloud_event), expect=events.DATASET_VALIDATED
        )
        logs.info(f"launcher: {launch.handle_validated(deps, msg.run_id)}", run_id=msg.run_id)
