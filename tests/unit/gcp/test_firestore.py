"""FirestoreRunStore when its transaction keeps failing: a race already decided elsewhere is a
plain loss (None), an undecided one stays a TransientError (the npm Firestore fake, with every
transaction refused as the official emulator refuses them under heavy contention)."""

from __future__ import annotations

from typing import Any

import pytest
from google.api_core import exceptions as gexc

from shared.errors import TransientError
from shared.gcp.firestore import FirestoreRunStore
from shared.runs import Run, RunStatus
from tests.contract.test_run_store import _run


class _AbortingClient:
    """The real client, except that every transaction is refused with ABORTED."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def transaction(self, **_: Any) -> Any:
        raise gexc.Aborted("too much contention on these documents")


@pytest.fixture
def stores(gcp_store: FirestoreRunStore) -> tuple[FirestoreRunStore, FirestoreRunStore]:
    """A working store and one on the same collection whose transactions always abort."""
    aborting = FirestoreRunStore(
        "contract-project",
        collection=gcp_store._collection.id,
        client=_AbortingClient(gcp_store._client),
        deadline_s=0.3,
    )
    return gcp_store, aborting


def _unchanged(run: Run) -> None:
    """A change is never applied here: the transaction fails before it runs."""


def test_a_race_won_elsewhere_is_a_loss(stores: tuple[FirestoreRunStore, ...]) -> None:
    ok, aborting = stores
    run = _run(1)
    ok.create(run)
    assert ok.transition(run.run_id, [RunStatus.RECEIVED], RunStatus.VALIDATING) is not None
    reads = aborting.reads
    assert aborting.transition(run.run_id, [RunStatus.RECEIVED], RunStatus.VALIDATING) is None
    assert aborting.reads == reads + 1  # the one plain read that settled it
    got = ok.get(run.run_id)
    assert got is not None and got.status == RunStatus.VALIDATING and len(got.history) == 2


def test_a_gone_run_is_a_loss(stores: tuple[FirestoreRunStore, ...]) -> None:
    _, aborting = stores
    assert aborting.transition("no-such-run", [RunStatus.RECEIVED], RunStatus.VALIDATING) is None


def test_an_undecided_race_stays_transient(stores: tuple[FirestoreRunStore, ...]) -> None:
    ok, aborting = stores
    run = _run(2)
    ok.create(run)
    with pytest.raises(TransientError):
        aborting.transition(run.run_id, [RunStatus.RECEIVED], RunStatus.VALIDATING)
    with pytest.raises(TransientError):  # no status to compare: nothing can settle it
        aborting.update(run.run_id, _unchanged)
    got = ok.get(run.run_id)
    assert got is not None and got.status == RunStatus.RECEIVED and len(got.history) == 1
