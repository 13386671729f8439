"""Chat messages about run outcomes: what to say (`message_for`) and one formatter per chat.

`message_for` reads a `run-event` body (docs/run-events.md) and returns a title and a few lines,
or None for events nobody needs to be told about (working states). Each formatter turns that
into the JSON its incoming webhook accepts. Checked against each service's documentation on
2026-11-30 (sources in docs/run-events.md, "Chat formats"):

- Slack incoming webhook: `{"text": ...}` with mrkdwn (`*bold*`).
- Google Chat incoming webhook: `{"text": ...}` (`*bold*`), sent as UTF-8 JSON.
- WeCom (企业微信) group robot: `{"msgtype": "markdown", "markdown": {"content": ...}}`.
- Feishu / Lark custom bot: `{"msg_type": "text", "content": {"text": ...}}`.
- DingTalk (钉钉) custom robot: `{"msgtype": "markdown", "markdown": {"title", "text"}}`; a
  robot secured by keyword needs the keyword in the message: every title starts with
  "Gemini tuning".

Pure functions: no I/O here (the notifier step posts).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

#: Statuses that end a run: each is worth one message.
OUTCOMES = frozenset({"SUCCEEDED", "REJECTED", "FAILED", "CANCELLED"})
#: A chat message is short: longer error messages are cut with an ellipsis.
MAX_LINE = 400


@dataclass(frozen=True)
class Message:
    title: str
    lines: tuple[str, ...]


def _cut(text: Any) -> str:
    s = " ".join(str(text).split())
    return s if len(s) <= MAX_LINE else s[: MAX_LINE - 1] + "…"


def message_for(run_id: str, body: Mapping[str, Any]) -> Message | None:
    """The message for one run event, or None when the event is not an outcome or a warning."""
    status = str(body.get("status", ""))
    kind = body.get("kind", "transition")
    dataset = (body.get("dataset") or {}).get("name") or "?"
    sim = " (simulated)" if body.get("simulated") else ""
    if kind == "warning":
        return Message(
            f"Gemini tuning: run {run_id} needs a look{sim}",
            (_cut(body.get("note", "")), f"dataset: {dataset}"),
        )
    if kind != "transition" or status not in OUTCOMES:
        return None
    lines: list[str] = []
    error = body.get("error") or {}
    evaluation = body.get("evaluation") or {}
    if status == "SUCCEEDED":
        passed = evaluation.get("passed")
        said = evaluation.get("verdict")  # an evaluated run without gates is NOT GATED
        verdict = {"PASSED": "gates PASSED", "FAILED": "gates FAILED"}.get(said or "", said) or {
            True: "gates PASSED",
            False: "gates FAILED",
            None: "no verdict",
        }[passed]
        reason = evaluation.get("reason")
        lines.append(verdict + (f": {_cut(reason)}" if reason else ""))
        share = evaluation.get("leakage_share")
        if share:
            lines.append(f"leakage: {share:.0%} of the test set is in the training data")
        if evaluation.get("report_uri"):
            lines.append(f"report: {evaluation['report_uri']}")
    elif status == "REJECTED":
        findings = body.get("findings") or []
        if findings:
            lines.append("first findings:")
            for f in findings:
                where = f.get("file") or ""
                if f.get("line") is not None:
                    where += f" line {f['line']}"
                lines.append(
                    f"- {where}: {_cut(f.get('message', ''))}"
                    if where
                    else f"- {_cut(f.get('message', ''))}"
                )
        elif error:
            lines.append(_cut(error.get("message", "")))
    elif error:
        lines.append(
            f"{error.get('stage', '?')} ({error.get('code', '?')}): "
            f"{_cut(error.get('message', ''))}"
        )
    else:
        lines.append(_cut(body.get("note", "")))
    lines.append(f"dataset: {dataset}")
    if body.get("retry_of"):
        lines.append(f"retry of {body['retry_of']}")
    return Message(f"Gemini tuning: run {run_id} {status}{sim}", tuple(lines))


def lifecycle_message(body: Mapping[str, Any]) -> Message:
    """The message for a `lifecycle-warning` (docs/run-events.md): what ends when, the
    replacement, the command to run."""
    kind = body.get("kind")
    model = body.get("model") or "?"
    when = body.get("date") or "?"
    if kind == "tuning_block":
        title = f"Gemini tuning: new tuning on {model} is refused from {when}"
    elif kind == "retirement":
        title = f"Gemini tuning: {model} retires on {when}"
    else:  # the catalog check
        title = "Gemini tuning: Vertex AI's models changed"
    lines = [_cut(body.get("message", ""))]
    if body.get("command"):
        lines.append(f"run: {body['command']}")
    return Message(title, tuple(lines))


def slack(m: Message) -> dict[str, Any]:
    return {"text": f"*{m.title}*\n" + "\n".join(m.lines)}


def google_chat(m: Message) -> dict[str, Any]:
    return {"text": f"*{m.title}*\n" + "\n".join(m.lines)}


def wecom(m: Message) -> dict[str, Any]:
    return {"msgtype": "markdown", "markdown": {"content": f"**{m.title}**\n" + "\n".join(m.lines)}}


def feishu(m: Message) -> dict[str, Any]:
    return {"msg_type": "text", "content": {"text": m.title + "\n" + "\n".join(m.lines)}}


def dingtalk(m: Message) -> dict[str, Any]:
    # DingTalk markdown needs a blank line between paragraphs to break lines.
    return {
        "msgtype": "markdown",
        "markdown": {"title": m.title, "text": f"### {m.title}\n\n" + "\n\n".join(m.lines)},
    }


FORMATTERS: dict[str, Callable[[Message], dict[str, Any]]] = {
    "slack": slack,
    "google_chat": google_chat,
    "wecom": wecom,
    "feishu": feishu,
    "dingtalk": dingtalk,
}


def refused(status: int, body: bytes) -> str | None:
    """Why the webhook refused the message, or None when it accepted it. WeCom, DingTalk and
    Feishu answer HTTP 200 with a non-zero `errcode` / `code` in the body when they refuse."""
    if not 200 <= status < 300:
        return f"HTTP {status}: {body[:200].decode('utf-8', 'replace')}"
    try:
        import json

        doc = json.loads(body) if body else None
    except ValueError:
        return None  # Slack answers "ok", Google Chat the message resource
    if isinstance(doc, dict):
        for key in ("errcode", "code", "StatusCode"):
            code = doc.get(key)
            if isinstance(code, int) and code != 0:
                why = doc.get("errmsg") or doc.get("msg") or doc.get("StatusMessage") or ""
                return f"{key} {code}: {why}"
    return None
