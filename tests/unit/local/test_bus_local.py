"""SqliteBus beyond the Bus port: subscriptions, leases, backoff, dead letters, restarts."""

from __future__ import annotations

import time
from pathlib import Path

from shared.local.bus import SqliteBus, SubscriptionPolicy

QUICK = SubscriptionPolicy(ack_deadline=0.2, max_attempts=2, min_backoff=0.05, max_backoff=0.1)


def test_fan_out_to_every_subscription_only_after_it_exists(tmp_path: Path) -> None:
    bus = SqliteBus(tmp_path / "bus.sqlite")
    bus.subscribe("t", "one", QUICK)
    bus.publish("t", b"early", {})
    bus.subscribe("t", "two", QUICK)
    bus.publish("t", b"late", {})
    assert sorted(m.data for m in bus.pull("one", 10)) == [b"early", b"late"]
    assert [m.data for m in bus.pull("two", 10)] == [b"late"]


def test_nack_backs_off_then_dead_letters_after_max_attempts(tmp_path: Path) -> None:
    bus = SqliteBus(tmp_path / "bus.sqlite")
    bus.subscribe("t", "s", QUICK)
    bus.publish("t", b"poison", {"run_id": "r"})
    (m,) = bus.pull("s")
    r = bus.nack(m, "first failure")
    assert not r.dead and 0.025 <= r.delay <= 0.05
    assert bus.pull("s") == []  # not visible during the backoff
    time.sleep(r.delay + 0.01)
    (m2,) = bus.pull("s")
    assert m2.attempt == 2 and m2.message_id == m.message_id
    assert bus.nack(m2, "second failure").dead
    (dead,) = bus.dead_letters("s", unreported_only=True)
    assert (dead.data, dead.last_error, dead.attempts) == (b"poison", "second failure", 2)
    bus.mark_reported(dead)
    assert bus.dead_letters("s", unreported_only=True) == []
    assert bus.pending(["s"]) == 0


def test_unacked_lease_expires_and_survives_reopen(tmp_path: Path) -> None:
    bus = SqliteBus(tmp_path / "bus.sqlite")
    bus.subscribe("t", "s", QUICK)
    bus.publish("t", b"m", {})
    (m,) = bus.pull("s")
    bus.close()  # the consumer "crashed"
    again = SqliteBus(tmp_path / "bus.sqlite")
    assert again.pull("s") == []
    time.sleep(0.25)
    (m2,) = again.pull("s")
    assert m2.data == b"m" and m2.attempt == 2
    assert not again.ack(m)  # the old lease is void
    assert again.ack(m2) and again.pending(["s"]) == 0
    # expired on its last attempt -> dead letter with an explanation
    again.publish("t", b"hang", {})
    again.pull("s")
    time.sleep(0.25)
    again.pull("s")
    time.sleep(0.25)
    assert again.pull("s") == []
    (dead,) = again.dead_letters("s")
    assert dead.data == b"hang" and "ack deadline" in dead.last_error


def test_publish_once_deduplicates_across_instances(tmp_path: Path) -> None:
    a, b = SqliteBus(tmp_path / "bus.sqlite"), SqliteBus(tmp_path / "bus.sqlite")
    a.subscribe("t", "s", QUICK)
    assert a.publish_once("bucket/x#1", "t", b"1", {}) is not None
    assert b.publish_once("bucket/x#1", "t", b"1", {}) is None
    assert b.seen("bucket/x#1") and not b.seen("bucket/x#2")
    assert len(a.pull("s", 10)) == 1
