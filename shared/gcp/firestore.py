"""`RunStore` on Firestore: one document per run in `<collection>/<run_id>`.

- `create` is `document.create()`: the service refuses it when the id exists, so two concurrent
  deliveries of the same upload event cannot both start a run.
- `transition` / `update` read and write inside a transaction and write the whole document with
  `set`; the status rules come from `shared.runs.transition_doc` / `apply_change` so both stores
  enforce the same state machine. Whole-document writes also avoid the field-path updates and
  update-time preconditions that not every emulator implements.
- `list_by_status` is an `in` filter on `status` ordered by `created_at`, so the poller reads only
  active runs. In Firestore that needs a composite index (status ASC, created_at ASC) that
  Terraform creates; `list_recent` uses the automatic single-field index.

Retries: a lost transaction (ABORTED) is retried by the client's `transactional` loop; everything
else goes through `call_with_retry` under a deadline shorter than a function's timeout. A
transaction that still fails is a TransientError, unless one plain read shows the race was
decided elsewhere: then it is the loss it would have been (see `_compare_and_set`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from shared.clock import utcnow
from shared.errors import PreconditionFailed, QuotaExceeded, TransientError
from shared.gcp.retry import call_with_retry
from shared.runs import Change, Run, RunStatus, apply_change, transition_doc

T = TypeVar("T")

#: Firestore's `in` operator takes at most 30 values; there are only 11 statuses.
MAX_IN_VALUES = 30
#: Attempts of one transaction before the lost race is reported (as TransientError).
TRANSACTION_ATTEMPTS = 5


class FirestoreRunStore:
    """Runs in Firestore. Pass `client` to reuse one (tests point it at an emulator)."""

    def __init__(
        self,
        project: str,
        database: str = "(default)",
        collection: str = "tuning_runs",
        client: Any = None,
        *,
        deadline_s: float = 30.0,
    ) -> None:
        if client is None:
            from google.cloud import firestore

            client = firestore.Client(project=project, database=database)
        self._client = client
        self._collection = client.collection(collection)
        #: Concurrency slots for `claim_training_slot`, beside the runs.
        self._slots = client.collection(f"{collection}_slots")
        self._deadline_s = deadline_s
        #: Documents returned by the server to queries and gets (what Firestore bills as reads);
        #: the poller benchmark and the contract suite use it to show queries touch only matches.
        self.reads = 0
        self._reads_lock = threading.Lock()

    def _count(self, n: int) -> None:
        with self._reads_lock:
            self.reads += n

    def _call(self, fn: Callable[[], T], what: str) -> T:
        return call_with_retry(fn, deadline_s=self._deadline_s, what=what)

    def _ref(self, run_id: str) -> Any:
        return self._collection.document(run_id)

    def create(self, run: Run) -> bool:
        ref = self._ref(run.run_id)
        try:
            self._call(lambda: ref.create(run.to_dict()), f"run {run.run_id}")
        except PreconditionFailed:  # AlreadyExists: another delivery created it first
            return False
        return True

    def get(self, run_id: str) -> Run | None:
        ref = self._ref(run_id)
        snap = self._call(ref.get, f"run {run_id}")
        self._count(1 if snap.exists else 0)
        return Run.from_dict(snap.to_dict()) if snap.exists else None

    def _compare_and_set(
        self,
        run_id: str,
        rewrite: Callable[[dict[str, Any], Any], dict[str, Any] | None],
        *,
        allowed: set[str] | None = None,
    ) -> Run | None:
        """Read the document in a transaction, let `rewrite` (given the transaction, for more
        reads and writes of its own) return the new one (or None to leave it), and write
        it. The transaction aborts and re-runs if the document moved meanwhile.
        A missing run returns None, as in every store.

        `allowed` (the statuses `rewrite` acts on) settles a lost race without a redelivery:
        when the transaction keeps failing (aborted, or locked past the deadline), one plain
        read that finds the run gone or moved out of `allowed` means another caller won while
        this one waited, so None (the answer a mismatching status gets) is returned instead of
        a TransientError. Only a race still undecided at that read is reported as transient."""
        from google.cloud import firestore

        ref = self._ref(run_id)

        @firestore.transactional
        def attempt(txn: Any) -> dict[str, Any] | None:
            snap = ref.get(transaction=txn)
            if not snap.exists:
                return None
            new = rewrite(snap.to_dict(), txn)
            if new is not None:
                txn.set(ref, new)
            return new

        def run_txn() -> dict[str, Any] | None:
            try:
                out: dict[str, Any] | None = attempt(
                    self._client.transaction(max_attempts=TRANSACTION_ATTEMPTS)
                )
            except ValueError as e:  # the client gave up after max_attempts ABORTED commits
                if isinstance(e.__cause__, Exception) and "attempts" in str(e):
                    raise TransientError(
                        f"run {run_id}: lost {TRANSACTION_ATTEMPTS} concurrent updates in a row; "
                        "the event will be retried",
                        code="contention",
                    ) from e
                raise
            return out

        try:
            new = self._call(run_txn, f"run {run_id}")
        except TransientError:
            if allowed is None or not self._decided_elsewhere(ref, allowed):
                raise
            return None
        return None if new is None else Run.from_dict(new)

    def _decided_elsewhere(self, ref: Any, allowed: set[str]) -> bool:
        """After the transaction kept failing: has the run gone, or left `allowed`? One plain
        read (which takes no lock) answers it."""
        snap = self._call(ref.get, f"run {ref.id}")
        self._count(1 if snap.exists else 0)
        return not snap.exists or (snap.to_dict() or {}).get("status") not in allowed

    def transition(
        self,
        run_id: str,
        expected: Iterable[RunStatus],
        dst: RunStatus,
        *,
        note: str = "",
        change: Change | None = None,
    ) -> Run | None:
        allowed = {str(s) for s in expected}

        def rewrite(doc: dict[str, Any], _: Any) -> dict[str, Any] | None:
            if doc.get("status") not in allowed:
                return None
            return transition_doc(doc, dst, note=note, change=change)

        return self._compare_and_set(run_id, rewrite, allowed=allowed)

    def claim_training_slot(
        self,
        run_id: str,
        expected: Iterable[RunStatus],
        *,
        limit: int,
        note: str = "",
        change: Change | None = None,
    ) -> Run | None:
        """One transaction reads the run, the `limit` slot documents (`<collection>_slots/
        slot-<i>`, each naming the run that holds it) and the runs holding them, takes a slot
        that is empty or whose run is no longer TRAINING, and moves the run. Two launchers
        that read the same free slot write the same document, so Firestore aborts one of them
        and it re-runs against the new state. A slot frees itself when its run leaves
        TRAINING: nothing has to remember to release it."""
        allowed = {str(s) for s in expected}
        slots = [self._slots.document(f"slot-{i}") for i in range(limit)]

        def rewrite(doc: dict[str, Any], txn: Any) -> dict[str, Any] | None:
            if doc.get("status") not in allowed:
                return None
            held = {
                snap.id: (snap.to_dict() or {}).get("run_id")
                for snap in self._client.get_all(slots, transaction=txn)
                if snap.exists
            }
            holders = [h for h in set(held.values()) if h and h != run_id]
            busy = {
                snap.id
                for snap in (
                    self._client.get_all([self._ref(h) for h in holders], transaction=txn)
                    if holders
                    else []
                )
                if snap.exists and (snap.to_dict() or {}).get("status") == str(RunStatus.TRAINING)
            }
            self._count(len(held) + len(holders))
            free = next((r for r in slots if held.get(r.id) not in busy), None)
            if free is None:
                raise QuotaExceeded(
                    f"{len(busy)} runs are TRAINING (limit {limit}); run {run_id} waits for a slot"
                )
            txn.set(free, {"run_id": run_id, "claimed_at": utcnow()})
            return transition_doc(doc, RunStatus.TRAINING, note=note, change=change)

        return self._compare_and_set(run_id, rewrite, allowed=allowed)

    def update(
        self, run_id: str, change: Change, *, expected: Iterable[RunStatus] | None = None
    ) -> Run | None:
        allowed = None if expected is None else {str(s) for s in expected}

        def rewrite(doc: dict[str, Any], _: Any) -> dict[str, Any] | None:
            if allowed is not None and doc.get("status") not in allowed:
                return None
            return apply_change(doc, change)

        return self._compare_and_set(run_id, rewrite, allowed=allowed)

    def _query(self, query: Any, what: str) -> list[Run]:
        docs = self._call(lambda: list(query.stream()), what)
        self._count(len(docs))
        return [Run.from_dict(d.to_dict()) for d in docs]

    def list_by_status(
        self, statuses: Iterable[RunStatus], *, limit: int | None = None
    ) -> list[Run]:
        from google.cloud.firestore_v1 import FieldFilter

        wanted = sorted({str(s) for s in statuses})
        if not wanted:
            return []
        if len(wanted) > MAX_IN_VALUES:  # pragma: no cover - impossible with RunStatus
            raise ValueError(f"at most {MAX_IN_VALUES} statuses per query")
        q = self._collection.where(filter=FieldFilter("status", "in", wanted)).order_by(
            "created_at"
        )
        if limit is not None:
            q = q.limit(limit)
        return self._query(q, f"runs with status in {wanted}")

    def list_recent(self, *, limit: int = 50) -> list[Run]:
        from google.cloud import firestore

        q = self._collection.order_by("created_at", direction=firestore.Query.DESCENDING)
        return self._query(q.limit(limit), "recent runs")

    def list_created_since(self, since: str) -> list[Run]:
        from google.cloud.firestore_v1 import FieldFilter

        # A range and an order on the same single field: served by Firestore's automatic
        # single-field index, no composite index needed.
        q = self._collection.where(filter=FieldFilter("created_at", ">=", since)).order_by(
            "created_at"
        )
        return self._query(q, f"runs created since {since}")
