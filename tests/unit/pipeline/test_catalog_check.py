"""The catalog check on the local adapters: a simulated Vertex AI that lacks a catalog model and
lists an extra one gives both differences, each sent once on run-events, shown on the status
page; a changed launch stage is noticed against the previous check; the poller runs it weekly."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from shared.events import LIFECYCLE_WARNING, decode_message, parse_pubsub_data
from shared.pipeline import catalog_check, poll, watch
from shared.pipeline.lifecycle import Daily
from shared.status import respond

from .conftest import World, make_world

SIM = {"SIM_CATALOG_GONE": "gemini-3.1-flash-lite", "SIM_CATALOG_NEW": "gemini-3.9-flash"}


def _warnings(world: World) -> list[dict[str, object]]:
    out = []
    for m in world.bus.pull("t-run-events", 500):
        world.bus.ack(m)
        if m.attributes.get("type") == LIFECYCLE_WARNING:
            data = base64.b64encode(m.data).decode()
            msg = decode_message(
                parse_pubsub_data({"message": {"data": data, "attributes": m.attributes}})
            )
            out.append(dict(msg.body))
    return out


def test_a_gone_and_a_new_model_are_reported_once_and_shown(tmp_path: Path) -> None:
    world = make_world(tmp_path, env=SIM)
    report = catalog_check.check_catalog(world.deps)
    assert {(d.kind, d.model) for d in report.differences} == {
        ("gone", "gemini-3.1-flash-lite"),
        ("new", "gemini-3.9-flash"),
    }
    assert report.listed and len(report.sent) == 2
    again = catalog_check.check_catalog(world.deps)
    assert len(again.differences) == 2 and again.sent == ()  # not sent twice
    sent = _warnings(world)
    assert sorted(str(w["kind"]) for w in sent) == ["catalog_gone", "catalog_new"]
    assert all(w["command"] == "gemini-tuning models --check" for w in sent)
    page = respond(world.store, {}, banners=lambda: watch.banner_lines(world.deps)).body
    assert "gemini-3.1-flash-lite" in page and "gemini-3.9-flash" in page and "CATALOG (" in page


def test_a_changed_launch_stage_is_noticed_against_the_last_check(tmp_path: Path) -> None:
    world = make_world(tmp_path)
    assert catalog_check.check_catalog(world.deps).differences == ()
    world2 = make_world(
        tmp_path / "again", env={"SIM_CATALOG_STAGE": "gemini-3.5-flash=PUBLIC_PREVIEW"}
    )
    # The same artifacts (the previous report), a directory that now says preview.
    world2.deps.__dict__["blobs"] = world.deps.blobs
    [d] = catalog_check.check_catalog(world2.deps).differences
    assert (d.kind, d.model, d.previous_stage, d.launch_stage) == (
        "stage_changed", "gemini-3.5-flash", "GA", "PUBLIC_PREVIEW")  # fmt: skip


def test_the_poller_checks_weekly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    world = make_world(tmp_path, env=SIM)
    monkeypatch.setattr(watch, "_CATALOG", Daily(every=0))
    monkeypatch.setattr(watch, "_LIFECYCLE", Daily(every=10**9))
    watch._LIFECYCLE.due()  # already ran in this "process"
    first = poll.poll_once(world.deps).lifecycle
    assert sorted(first) == [
        "catalog:gemini-3.1-flash-lite:gone:",
        "catalog:gemini-3.9-flash:new:PUBLIC_PREVIEW",
    ]
    stored = catalog_check.stored_report(world.deps)
    assert stored is not None
    checked = stored.checked_at
    poll.poll_once(world.deps)  # within the week: not asked again
    again = catalog_check.stored_report(world.deps)
    assert again is not None and again.checked_at == checked
    doc = json.loads(world.deps.blobs.read_bytes("artifacts", catalog_check.REPORT))
    doc["checked_at"] = "2020-01-01T00:00:00.000Z"
    world.deps.blobs.write_bytes("artifacts", catalog_check.REPORT, json.dumps(doc).encode())
    poll.poll_once(world.deps)
    later = catalog_check.stored_report(world.deps)
    assert later is not None and later.checked_at > checked
