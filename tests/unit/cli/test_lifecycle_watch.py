"""Retirement watch in local mode: a production model whose base model retires in 20 days gives
exactly one 30-day warning over many poller ticks, and it shows on the topic, in a chat
message, on the status page, in `status` and in `promote --show`."""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import pytest

from shared.catalog import BUILTIN
from shared.cli import main
from shared.events import LIFECYCLE_WARNING, decode_message, parse_pubsub_data
from shared.pipeline import lifecycle, notify, poll, promote, watch
from shared.pipeline.catalog_check import CatalogDifference
from shared.pipeline.lifecycle import Daily, lifecycle_warnings
from shared.ports import Promotion
from shared.status import respond
from tests.unit.pipeline.conftest import World, make_world
from tests.unit.pipeline.trained import trained

Capsys = pytest.CaptureFixture[str]
RETIRES = BUILTIN.models["gemini-3.5-flash"].lifecycle.retires
assert RETIRES is not None
TODAY = RETIRES - timedelta(days=20)


def _pulled(world: World) -> list[dict[str, object]]:
    out = []
    for m in world.bus.pull("t-run-events", 500):
        if m.attributes.get("type") == LIFECYCLE_WARNING:
            data = base64.b64encode(m.data).decode()
            msg = decode_message(
                parse_pubsub_data({"message": {"data": data, "attributes": m.attributes}})
            )
            out.append({"run_id": msg.run_id, "type": msg.type, **msg.body})
        world.bus.ack(m)
    return out


def test_one_30_day_warning_over_many_ticks_everywhere(
    tmp_path: Path, capsys: Capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = make_world(tmp_path / "w")
    rid = trained(world, world.drop_dataset())  # on gemini-3.5-flash, the default model
    promote.promote_run(world.deps, rid, by="test")
    _pulled(world)  # the run's own events so far
    # Twenty days before the base model retires; every tick is a "daily" check.
    monkeypatch.setattr(lifecycle, "utc_today", lambda: TODAY)
    monkeypatch.setattr(watch, "_LIFECYCLE", Daily(every=0))
    sent = [poll.poll_once(world.deps).lifecycle for _ in range(6)]
    assert sent == [["gemini-3.5-flash:retirement:30"], [], [], [], [], []]
    [event] = _pulled(world)
    assert event["run_id"] == rid and event["threshold_days"] == 30
    assert event["kind"] == "retirement" and event["days_left"] == 20
    assert event["command"] == f"gemini-tuning retune {rid} --model MODEL"  # no replacement
    # The chat message the notifier posts for it.
    posts: list[bytes] = []
    s = world.deps.settings
    settings = replace(s, notify_url="http://127.0.0.1:9/hook")
    msg = decode_message(
        parse_pubsub_data(
            {
                "message": {
                    "data": base64.b64encode(
                        json.dumps({"type": LIFECYCLE_WARNING, "version": 1, **event}).encode()
                    ).decode(),
                    "attributes": {"type": LIFECYCLE_WARNING, "version": "1"},
                }
            }
        )
    )

    def post(url: str, data: bytes) -> tuple[int, bytes]:
        posts.append(data)
        return 200, b""

    said = notify.notify(settings, msg, post=post)
    assert said == "posted"
    text = json.loads(posts[0])["text"]
    assert RETIRES is not None
    assert f"gemini-3.5-flash retires on {RETIRES.isoformat()}" in text
    assert f"gemini-tuning retune {rid}" in text
    # The status page's banner, `status` and `promote --show`.
    page = respond(world.store, {}, banners=lambda: lifecycle.banner_lines(world.deps))
    assert "id='banners'" in page.body and "in 20 days" in page.body
    assert main(["status", "--root", str(world.root)]) == 0
    out = capsys.readouterr().out
    assert "LIFECYCLE: gemini-3.5-flash retires" in out and f"retune {rid}" in out
    assert main(["promote", "--show", "--root", str(world.root)]) == 0
    assert "LIFECYCLE: gemini-3.5-flash retires" in capsys.readouterr().out


def test_the_tightest_threshold_only_and_both_kinds() -> None:
    prod = Promotion("r1", "tuned/1", "endpoints/1", "gemini-2.5-flash-001", "t", "u", sequence=1)
    retires = date(2026, 10, 16)
    assert BUILTIN.models["gemini-2.5-flash"].lifecycle.retires == retires
    at = {d: lifecycle_warnings(prod, [], BUILTIN, retires - timedelta(days=d)) for d in (
        130, 100, 85, 20, 5, -1)}  # fmt: skip
    assert at[130] == []
    assert [(w.kind, w.threshold, w.days_left) for w in at[100]] == [("tuning_block", 90, 70)]
    assert sorted((w.kind, w.threshold) for w in at[85]) == [
        ("retirement", 90), ("tuning_block", 90)]  # fmt: skip
    assert [(w.kind, w.threshold) for w in at[20]] == [("retirement", 30)]
    assert [(w.kind, w.threshold) for w in at[5]] == [("retirement", 7)]
    assert at[-1] == []
    [w] = at[20]
    assert w.replacement == "gemini-3.5-flash"
    assert w.command == "gemini-tuning retune r1 --model gemini-3.5-flash"
    assert "gemini-3.5-flash" in w.message() and "stops answering" in w.message()


def test_the_doc_lists_every_field_of_the_message() -> None:
    import re

    doc = (Path(__file__).resolve().parents[3] / "docs" / "run-events.md").read_text()
    section = doc.split("## Lifecycle warnings", 1)[1].split("\n## ", 1)[0]
    listed = set(re.findall(r"^\| `(\w+)` \|", section, flags=re.M))
    prod = Promotion("r1", "tuned/1", "endpoints/1", "gemini-2.5-flash", "t", "u", sequence=1)
    [w] = lifecycle_warnings(prod, [], BUILTIN, date(2026, 10, 1))
    gone = CatalogDifference("gone", "gemini-3.5-flash").to_dict(date(2026, 10, 1))
    assert listed == set(w.to_dict()) | set(gone)


def test_retune_cli_names_a_missing_file_and_starts_nothing(tmp_path: Path, capsys: Capsys) -> None:
    world = make_world(tmp_path / "w")
    rid = trained(world, world.drop_dataset(tuning_yaml="epoch: 2\n"))
    (world.root / "bucket" / "incoming" / "ds" / "tuning.yaml").unlink()
    runs = len(world.store.list_recent())
    code = main(["retune", rid, "--model", "gemini-3.1-flash-lite", "--root", str(world.root)])
    err = capsys.readouterr().err
    assert code == 1 and "incoming/ds/tuning.yaml is gone" in err and "Traceback" not in err
    assert len(world.store.list_recent()) == runs
    assert main(["retune", rid, "--root", str(world.root)]) == 1
    assert "pass --model" in capsys.readouterr().err


def test_succeeded_runs_that_are_not_in_production_are_watched_too() -> None:
    from shared.runs import DatasetInfo, Run, RunStatus

    runs = []
    for i, status in enumerate((RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.SUCCEEDED)):
        r = Run.new(f"r{i}", DatasetInfo("b", "incoming/r/train.jsonl", "1", "gs://b/r"))
        r.status, r.job.base_model = status, "gemini-2.5-flash-001"
        runs.append(r)
    [w] = lifecycle_warnings(None, runs, BUILTIN, date(2026, 10, 11))
    assert (w.kind, w.threshold, w.runs, w.production_run) == ("retirement", 7, ("r0", "r2"), None)
    assert w.command == "gemini-tuning retune r0 --model gemini-3.5-flash"
    assert "2 tuned model(s) (run r0, r2)" in w.message()
