"""Fixtures of the embedded local backend for the contract suites (see conftest.py).

`local_store_factory` is a picklable zero-argument callable that opens the same store again, so
the suites can race compare-and-set across processes.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from shared.local.blobs import FolderBlobs
from shared.local.bus import SqliteBus, SubscriptionPolicy
from shared.local.production import SqliteProductionStore
from shared.local.store import SqliteRunStore
from tests.contract.test_bus import CONTRACT_TOPICS

with contextlib.suppress(ImportError):  # the simulator's fixtures may not be there yet
    from tests.contract.backend_local_sim import *  # noqa: F403


@pytest.fixture
def local_blobs(tmp_path: Path) -> tuple[FolderBlobs, str]:
    return FolderBlobs(tmp_path / "blobs"), "contract-bucket"


@pytest.fixture
def local_store(tmp_path: Path) -> Iterator[SqliteRunStore]:
    store = SqliteRunStore(tmp_path / "runs.sqlite")
    yield store
    store.close()


@pytest.fixture
def local_store_factory(tmp_path: Path) -> Callable[[], SqliteRunStore]:
    return functools.partial(SqliteRunStore, tmp_path / "runs-shared.sqlite")


@pytest.fixture
def local_production(tmp_path: Path) -> Iterator[SqliteProductionStore]:
    store = SqliteProductionStore(tmp_path / "runs.sqlite")
    yield store
    store.close()


@pytest.fixture
def local_production_factory(tmp_path: Path) -> Callable[[], SqliteProductionStore]:
    return functools.partial(SqliteProductionStore, tmp_path / "production-shared.sqlite")


class LocalBusProbe:
    """Reads what reached each contract topic through a real subscription (pull + ack)."""

    def __init__(self, path: Path) -> None:
        self.bus = SqliteBus(path)
        self._reader = SqliteBus(path)  # a second connection, as a subscriber process would
        self._got: dict[str, list[tuple[bytes, dict[str, str]]]] = {}
        for topic in CONTRACT_TOPICS:
            self._reader.subscribe(topic, f"probe-{topic}", SubscriptionPolicy(ack_deadline=5))

    def received(self, topic: str) -> list[tuple[bytes, dict[str, str]]]:
        got = self._got.setdefault(topic, [])
        while batch := self._reader.pull(f"probe-{topic}", max_messages=100):
            for m in batch:
                got.append((m.data, m.attributes))
                self._reader.ack(m)
        return list(got)

    def close(self) -> None:
        self.bus.close()
        self._reader.close()


@pytest.fixture
def local_bus_probe(tmp_path: Path) -> Iterator[LocalBusProbe]:
    probe = LocalBusProbe(tmp_path / "bus.sqlite")
    yield probe
    probe.close()
