"""Launcher: a `dataset-validated` message arrived (Pub/Sub); start the tuning job."""

import functions_framework
from cloudevents.http import CloudEvent

from shared import events, logs
from shared.errors import PermanentError
from shared.pipeline import entry, launch


@functions_framework.cloud_event
def on_dataset_validated(cloud_event: CloudEvent) -> None:
    env = events.envelope(cloud_event)
    with entry.guard("launcher", env):
        b = entry.backend()
        if entry.too_old(env, b):
            return
        msg = events.decode_message(
            events.pubsub_message(cloud_event), expect=events.DATASET_VALIDATED
        )
        if not msg.run_id:
            raise PermanentError("dataset-validated message without run_id")
        logs.info(f"launcher: {launch.handle_validated(b, msg.run_id)}", run_id=msg.run_id)
