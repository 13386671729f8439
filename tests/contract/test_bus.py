"""Contract of the `Bus` port (shared/ports.py), run against every backend.

`bus_probe` yields a BusProbe: `.bus` (the Bus) and `.received(topic) -> list[(bytes, dict)]`,
everything delivered so far on `topic`. The suite publishes only to `CONTRACT_TOPICS`, so a
backend's probe can subscribe to them when it is created (Pub/Sub delivers only messages
published after a subscription exists).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from shared.ports import Bus

CONTRACT_TOPICS = ("contract-topic-a", "contract-topic-b")
A, B = CONTRACT_TOPICS


def test_publish_returns_an_id_and_the_message_arrives(bus_probe: Any) -> None:
    bus = bus_probe.bus
    assert isinstance(bus, Bus)
    data = '{"type": "dataset-validated", "run_id": "r-1", "note": "中文"}'.encode()
    msg_id = bus.publish(A, data, {"type": "dataset-validated", "run_id": "r-1"})
    assert isinstance(msg_id, str) and msg_id
    assert bus_probe.received(A) == [(data, {"type": "dataset-validated", "run_id": "r-1"})]


def test_ids_are_unique_and_topics_are_separate(bus_probe: Any) -> None:
    bus = bus_probe.bus
    ids = {bus.publish(A, f"a{i}".encode(), {"i": str(i)}) for i in range(5)}
    bus.publish(B, b"b0", {})
    assert len(ids) == 5
    assert sorted(d for d, _ in bus_probe.received(A)) == [f"a{i}".encode() for i in range(5)]
    assert bus_probe.received(B) == [(b"b0", {})]


def test_concurrent_publishers_lose_nothing(bus_probe: Any) -> None:
    bus = bus_probe.bus
    with ThreadPoolExecutor(8) as pool:
        ids = list(pool.map(lambda i: bus.publish(A, str(i).encode(), {}), range(40)))
    assert len(set(ids)) == 40
    assert sorted(int(d) for d, _ in bus_probe.received(A)) == list(range(40))


def test_bad_payload_is_refused(bus_probe: Any) -> None:
    with pytest.raises(TypeError):
        bus_probe.bus.publish(A, "not bytes", {})
