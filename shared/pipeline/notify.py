"""The notifier step: a `run-event` arrived; tell the team's chat about outcomes and warnings.

Posting is best effort and never affects the run: an unreadable event, a chat that is down or
refuses the message is logged and the event acknowledged (a retry would only post twice once
the chat recovers, and a notification that arrives hours late is noise).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable

from shared import logs
from shared.events import LIFECYCLE_WARNING, RUN_EVENT, PipelineMessage
from shared.notify import FORMATTERS, Message, lifecycle_message, message_for, refused
from shared.settings import Settings

#: A chat webhook answers in well under a second; the event is not held longer than this.
POST_TIMEOUT_SECONDS = 10.0

#: (url, JSON bytes) -> (HTTP status, response body). Tests and other transports pass their own.
Post = Callable[[str, bytes], tuple[int, bytes]]


def post_json(url: str, data: bytes) -> tuple[int, bytes]:
    req = urllib.request.Request(
        url, data=data, method="POST", headers={"Content-Type": "application/json; charset=UTF-8"}
    )
    try:
        with urllib.request.urlopen(req, timeout=POST_TIMEOUT_SECONDS) as resp:
            return int(resp.status), resp.read(4096)
    except urllib.error.HTTPError as e:
        return int(e.code), e.read(4096)


def notify(settings: Settings, msg: PipelineMessage, *, post: Post = post_json) -> str:
    """What happened, in words (for logs and tests). Never raises for a delivery problem."""
    message: Message | None
    if msg.type == LIFECYCLE_WARNING:
        message = lifecycle_message(msg.body)
    elif msg.type != RUN_EVENT or not msg.run_id:
        return "ignored: not a run event"
    else:
        message = message_for(msg.run_id, msg.body)
    if message is None:
        return f"ignored: {msg.body.get('status')} is not an outcome"
    if not settings.notify_url:
        logs.info(f"notifier: no NOTIFY_URL; would post: {message.title}", run_id=msg.run_id)
        return "not configured"
    payload = FORMATTERS[settings.notify_format](message)
    data = json.dumps(payload, ensure_ascii=False).encode()
    try:
        status, body = post(settings.notify_url, data)
    except (OSError, ValueError) as e:  # DNS, refused, timeout, a malformed URL
        logs.warning(f"notifier: could not post ({type(e).__name__}: {e})", run_id=msg.run_id)
        return "failed"
    why = refused(status, body)
    if why is not None:
        logs.warning(f"notifier: the chat refused the message: {why}", run_id=msg.run_id)
        return "failed"
    logs.info(f"notifier: posted {message.title}", run_id=msg.run_id)
    return "posted"
