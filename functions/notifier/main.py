"""Notifier: a `run-event` (Pub/Sub); post run outcomes and warnings to the team's chat webhook
(`NOTIFY_URL`, from Secret Manager). A failed post is logged and acknowledged: notifying never
affects a run."""

import functions_framework
from cloudevents.http import CloudEvent

from shared import composition, events
from shared.pipeline import entry, notify


@functions_framework.cloud_event
def on_run_event(cloud_event: CloudEvent) -> None:
    env = events.envelope(cloud_event)
    with entry.guard("notifier", env):
        settings = composition.instance().settings
        if entry.too_old(env, settings):
            return
        # run-events carries run-event and lifecycle-warning messages (and production-changed,
        # which `notify` ignores): decode any type, let `notify` choose.
        msg = events.decode_message(events.pubsub_message(cloud_event))
        notify.notify(settings, msg)
