"""The notifier: outcomes posted in each chat's format to a webhook on 127.0.0.1; a chat that
is down or refuses never raises (the run is never affected)."""

from __future__ import annotations

import json
import socket
from dataclasses import replace
from typing import Any

import pytest

from shared import notify as fmt
from shared.events import RUN_EVENT, PipelineMessage, run_event_body
from shared.pipeline import validation
from shared.pipeline.notify import notify
from shared.runs import DatasetInfo, Run, RunStatus
from shared.settings import NOTIFY_FORMATS, Settings
from tests.fakes.webhook import webhook

from .conftest import World

S = RunStatus


def _event(world: World, run_id: str) -> PipelineMessage:
    """The run-event the pipeline published for the run's last transition."""
    bodies = [
        json.loads(m.data)
        for m in world.bus.pull("t-run-events", 100)
        if m.attributes.get("run_id") == run_id
    ]
    last = bodies[-1]
    body = {k: v for k, v in last.items() if k not in ("type", "version", "run_id")}
    return PipelineMessage(last["type"], last["run_id"], last["version"], body)


def _succeeded(passed: bool) -> PipelineMessage:
    run = Run.new("ok-1", DatasetInfo("b", "incoming/ok/train.jsonl", "1", "gs://b/ok"))
    run.status = S.SUCCEEDED
    run.evaluation.passed = passed
    run.evaluation.reason = "chrf delta 0.41 >= 0.05" if passed else "failed: chrf delta 0.01"
    run.evaluation.report_html_uri = "gs://a/reports/ok-1/report.html"
    return PipelineMessage(RUN_EVENT, run.run_id, body=run_event_body(run, "gates checked"))


def test_formatters_and_settings_name_the_same_chats() -> None:
    assert set(fmt.FORMATTERS) == set(NOTIFY_FORMATS)


@pytest.mark.parametrize("name", NOTIFY_FORMATS)
def test_a_rejected_run_is_posted_with_its_first_findings_in_each_format(
    world: World, name: str
) -> None:
    rid = validation.handle_upload(
        world.deps, world.drop_dataset(train=b'{"contents": []}\nnot json\n')
    ).run_id
    assert rid and world.run(rid).status == S.REJECTED
    msg = _event(world, rid)
    with webhook() as hook:
        settings = replace(world.deps.settings, notify_url=hook.url, notify_format=name)
        assert notify(settings, msg) == "posted"
    [payload] = hook.posts
    assert hook.content_types == ["application/json; charset=UTF-8"]
    text = json.dumps(payload, ensure_ascii=False)
    assert f"run {rid} REJECTED" in text and "train.jsonl line 2" in text
    shape: dict[str, Any] = {
        "slack": lambda p: p["text"],
        "google_chat": lambda p: p["text"],
        "wecom": lambda p: p["msgtype"] == "markdown" and p["markdown"]["content"],
        "feishu": lambda p: p["msg_type"] == "text" and p["content"]["text"],
        "dingtalk": lambda p: (
            p["msgtype"] == "markdown"
            and p["markdown"]["title"].startswith("Gemini tuning")
            and p["markdown"]["text"]
        ),
    }
    assert shape[name](payload)


@pytest.mark.parametrize("passed", [True, False])
def test_a_succeeded_run_says_its_verdict(passed: bool) -> None:
    with webhook() as hook:
        settings = Settings(notify_url=hook.url, notify_format="slack")
        assert notify(settings, _succeeded(passed)) == "posted"
    text = hook.posts[0]["text"]
    assert ("gates PASSED" if passed else "gates FAILED") in text
    assert "report.html" in text


def test_a_failed_run_says_why(world: World) -> None:
    run = Run.new("f-1", DatasetInfo("b", "incoming/f/train.jsonl", "1", "gs://b/f"))
    run.status = S.FAILED
    run.fail("launch", "over_budget", "estimated cost $12.00 is over the per-run limit $5.00")
    msg = PipelineMessage(RUN_EVENT, "f-1", body=run_event_body(run, "over budget"))
    with webhook() as hook:
        assert notify(Settings(notify_url=hook.url), msg) == "posted"
    assert "launch (over_budget): estimated cost $12.00" in hook.posts[0]["text"]


def test_working_states_are_not_posted() -> None:
    run = Run.new("w-1", DatasetInfo("b", "incoming/w/train.jsonl", "1", "gs://b/w"))
    run.status = S.TRAINING
    msg = PipelineMessage(RUN_EVENT, "w-1", body=run_event_body(run, "starting"))
    with webhook() as hook:
        assert notify(Settings(notify_url=hook.url), msg).startswith("ignored")
    assert hook.posts == []


@pytest.mark.parametrize(
    ("status", "reply"),
    [
        (200, b'{"errcode": 93000, "errmsg": "invalid webhook url"}'),  # WeCom / DingTalk
        (200, b'{"code": 19021, "msg": "sign match fail"}'),  # Feishu
        (404, b"no_service"),  # Slack
    ],
)
def test_a_refusal_is_logged_never_raised(status: int, reply: bytes) -> None:
    with webhook() as hook:
        hook.status, hook.reply = status, reply
        assert notify(Settings(notify_url=hook.url), _succeeded(True)) == "failed"
    assert len(hook.posts) == 1


def test_a_chat_that_is_down_is_logged_never_raised() -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings = Settings(notify_url=f"http://127.0.0.1:{port}/hook")
    assert notify(settings, _succeeded(True)) == "failed"


def test_without_a_url_nothing_is_posted() -> None:
    assert notify(Settings(), _succeeded(True)) == "not configured"
