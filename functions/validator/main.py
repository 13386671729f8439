"""Validator: a Cloud Storage object was finalized in the datasets bucket (Eventarc)."""

import functions_framework
from cloudevents.http import CloudEvent

from shared import composition, events, logs
from shared.pipeline import entry, validation


@functions_framework.cloud_event
def on_dataset_uploaded(cloud_event: CloudEvent) -> None:
    env = events.envelope(cloud_event)
    with entry.guard("validator", env):
        obj = events.storage_object(cloud_event)
        outcome = validation.handle_upload(composition.instance(), obj, env)
        logs.info(f"validator: {outcome.action}: {outcome.detail}", run_id=outcome.run_id)
