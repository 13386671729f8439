"""Dead letters: a message the launcher, poller or evaluator kept failing on (Pub/Sub push from
the dead-letter topic); the run moves to FAILED and says where to look."""

import functions_framework
from cloudevents.http import CloudEvent

from shared import composition, events
from shared.pipeline import deadletter, entry


@functions_framework.cloud_event
def on_dead_letter(cloud_event: CloudEvent) -> None:
    # No age check: a dead letter is old by nature, and dropping it would hide the failure.
    env = events.envelope(cloud_event)
    with entry.guard("deadletter", env):
        msg = events.pubsub_message(cloud_event)
        deadletter.handle_dead_lettered(composition.instance(), msg)
