"""Poller: a Cloud Scheduler tick (Pub/Sub); refresh active runs and start queued ones."""

import functions_framework
from cloudevents.http import CloudEvent

from shared import composition, events, logs
from shared.pipeline import entry, poll


@functions_framework.cloud_event
def on_poll_tick(cloud_event: CloudEvent) -> None:
    env = events.envelope(cloud_event)
    with entry.guard("poller", env):
        deps = composition.instance()
        if entry.too_old(env, deps.settings):  # a backlog of stale ticks is worth one poll
            return
        r = poll.poll_once(deps)
        if r.changed or r.started or r.errors:  # quiet ticks stay out of the logs
            logs.info(
                f"poller: checked {r.checked}, changed {len(r.changed)}, "
                f"started {len(r.started)}, errors {len(r.errors)}"
            )
