"""The local runtime with stub handlers: real folder, real SQLite bus, real watchdog."""

from __future__ import annotations

import base64
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from shared import events
from shared.host.runtime import LocalRuntime, Route, RuntimeOptions
from shared.host.sources import POLL_TOPIC, STORAGE_TOPIC
from shared.local.bus import DeadLetter, SqliteBus, SubscriptionPolicy

FAST = RuntimeOptions(
    tick=0,
    workers=2,
    settle=0.05,
    rescan=0.3,
    idle_poll=0.01,
    policy=SubscriptionPolicy(ack_deadline=1.0, max_attempts=3, min_backoff=0.05, max_backoff=0.4),
)


class Recorder:
    """A handler that records CloudEvents and fails the first `fail` calls."""

    def __init__(self, fail: int = 0) -> None:
        self.fail = fail
        self.events: list[Any] = []
        self.times: list[float] = []
        self.lock = threading.Lock()

    def __call__(self, event: Any) -> None:
        with self.lock:
            self.events.append(event)
            self.times.append(time.monotonic())
            n = len(self.events)
        if n <= self.fail:
            raise RuntimeError(f"boom {n}")


@pytest.fixture
def runtime_factory(tmp_path: Path) -> Iterator[Any]:
    started: list[LocalRuntime] = []

    def make(routes: list[Route], **kw: Any) -> LocalRuntime:
        rt = LocalRuntime(tmp_path / "root", routes=routes, options=kw.pop("options", FAST), **kw)
        started.append(rt.start())
        return rt

    yield make
    for rt in started:
        if not rt._stop.is_set():
            rt.stop()


def test_dropped_file_gives_exactly_one_eventarc_shaped_event(
    runtime_factory: Any, tmp_path: Path
) -> None:
    rec = Recorder()
    rt = runtime_factory([Route("validator", STORAGE_TOPIC, rec, storage=True)])
    src = tmp_path / "train.jsonl"
    src.write_bytes(b'{"contents": []}\n' * 1000)
    target = rt.layout.incoming / "ds"
    target.mkdir(parents=True)
    shutil.copy(src, target / "train.jsonl")  # the user's `cp`
    assert rt.run_until_idle(10)
    time.sleep(0.4)  # one more rescan must not fire it again
    assert rt.run_until_idle(5)
    assert len(rec.events) == 1
    ev = rec.events[0]
    attrs = ev.get_attributes()
    assert attrs["type"] == events.STORAGE_FINALIZED
    assert attrs["source"] == "//storage.googleapis.com/projects/_/buckets/bucket"
    assert attrs["subject"] == "objects/incoming/ds/train.jsonl"
    obj = events.storage_object(ev)
    info = rt.blobs.stat("bucket", "incoming/ds/train.jsonl")
    assert info is not None
    assert (obj.bucket, obj.name, obj.generation) == (
        "bucket",
        "incoming/ds/train.jsonl",
        info.generation,
    )
    assert obj.size == src.stat().st_size and obj.md5 == info.md5
    assert ev.data["size"] == str(obj.size)  # strings, as Cloud Storage sends them


def test_overwrite_is_a_new_event_and_files_outside_incoming_are_delivered_too(
    runtime_factory: Any,
) -> None:
    rec = Recorder()
    rt = runtime_factory([Route("validator", STORAGE_TOPIC, rec, storage=True)])
    (rt.layout.datasets / "notes.txt").write_text("not a dataset")
    (rt.layout.datasets / ".hidden.swp").write_text("editor temp file")
    assert rt.run_until_idle(10)
    rt.blobs.write_bytes("bucket", "incoming/a.jsonl", b"1\n")
    assert rt.run_until_idle(10)
    rt.blobs.write_bytes("bucket", "incoming/a.jsonl", b"2\n")
    assert rt.run_until_idle(10)
    names = [
        (events.storage_object(e).name, events.storage_object(e).generation) for e in rec.events
    ]
    assert sorted(n for n, _ in names) == ["incoming/a.jsonl", "incoming/a.jsonl", "notes.txt"]
    assert len(set(names)) == 3  # the overwrite carries a new generation


def test_pubsub_route_gets_message_published_event(runtime_factory: Any) -> None:
    rec = Recorder()
    rt = runtime_factory([Route("launcher", "dataset-validated", rec)])
    data, attrs = events.encode_message(events.DATASET_VALIDATED, "run-1", {"x": 1})
    msg_id = SqliteBus(rt.layout.bus_db).publish("dataset-validated", data, attrs)
    assert rt.run_until_idle(10)
    assert len(rec.events) == 1
    ev = rec.events[0]
    assert ev.get_attributes()["type"] == events.PUBSUB_PUBLISHED
    assert ev.get_attributes()["id"] == msg_id
    msg = events.pubsub_message(ev)
    assert base64.b64decode(ev.data["message"]["data"]) == data == msg.data
    assert msg.attributes == attrs and msg.message_id == msg_id
    decoded = events.decode_message(msg, expect=events.DATASET_VALIDATED)
    assert decoded.run_id == "run-1" and decoded.body == {"x": 1}


def test_failing_handler_is_retried_with_backoff_then_succeeds(runtime_factory: Any) -> None:
    rec = Recorder(fail=2)
    dead: list[DeadLetter] = []
    rt = runtime_factory([Route("launcher", "t", rec)], on_dead_letter=dead.append)
    SqliteBus(rt.layout.bus_db).publish("t", b"{}", {"run_id": "r"})
    assert rt.run_until_idle(10)
    assert len(rec.events) == 3 and dead == []
    gaps = [b - a for a, b in zip(rec.times, rec.times[1:], strict=False)]
    # equal jitter: at least half of 0.05 s, then half of 0.1 s
    assert gaps[0] >= 0.025 and gaps[1] >= 0.05
    assert [e.get_attributes()["id"] for e in rec.events] == [rec.events[0]["id"]] * 3


def test_always_failing_handler_is_dead_lettered_and_the_hook_is_told(
    runtime_factory: Any,
) -> None:
    rec = Recorder(fail=100)
    dead: list[DeadLetter] = []
    rt = runtime_factory([Route("evaluator", "t", rec)], on_dead_letter=dead.append)
    SqliteBus(rt.layout.bus_db).publish("t", b"{}", {"run_id": "r-9"})
    assert rt.run_until_idle(10)
    deadline = time.monotonic() + 5
    while not dead and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(rec.events) == FAST.policy.max_attempts
    assert len(dead) == 1
    assert dead[0].attributes == {"run_id": "r-9"} and dead[0].attempts == 3
    assert "RuntimeError: boom 3" in dead[0].last_error


def test_undelivered_messages_survive_a_restart(runtime_factory: Any, tmp_path: Path) -> None:
    rec = Recorder()
    root = tmp_path / "root"
    rt = runtime_factory([Route("launcher", "t", rec)])
    rt.stop()  # subscriptions exist; nobody is delivering now
    bus = SqliteBus(root / "state" / "bus.sqlite")
    bus.publish("t", b"while-down", {})
    # a message leased by a consumer that then died (never acked)
    bus.publish("t", b"leased-then-crashed", {})
    assert bus.pull("local-launcher", max_messages=1)[0].data == b"while-down"
    (root / "bucket" / "incoming").mkdir(parents=True, exist_ok=True)
    (root / "bucket" / "incoming" / "late.jsonl").write_text("{}\n")
    rec2 = Recorder()
    rt2 = runtime_factory(
        [Route("launcher", "t", rec2), Route("validator", STORAGE_TOPIC, rec2, storage=True)]
    )
    assert rt2.run_until_idle(10)
    got = sorted(
        e.data["message"]["data"] if "message" in e.data else e.data["name"] for e in rec2.events
    )
    assert got == sorted(
        [
            base64.b64encode(b"while-down").decode(),  # redelivered after its lease expired
            base64.b64encode(b"leased-then-crashed").decode(),
            "incoming/late.jsonl",  # found by the start-up scan
        ]
    )
    assert rec.events == []


def test_ticker_delivers_poll_ticks(runtime_factory: Any) -> None:
    rec = Recorder()
    opts = RuntimeOptions(tick=0.05, settle=0.05, idle_poll=0.01, policy=FAST.policy)
    runtime_factory([Route("poller", POLL_TOPIC, rec)], options=opts)
    deadline = time.monotonic() + 5
    while len(rec.events) < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(rec.events) >= 3
    msg = events.decode_message(events.pubsub_message(rec.events[0]), expect=events.POLL_TICK)
    assert msg.run_id is None
