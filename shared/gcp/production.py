"""`ProductionStore` on Firestore: one document per production change in `<collection>/<seq>`.

Document ids are the zero-padded sequence (`000000000001`, ...), so they sort like the records
and the Firestore console lists the history in order. `promote` is `document.create()` of record
`expected_current + 1`: the service refuses it when the id exists, so of two concurrent
promotions made from the same view exactly one is written. That is a precondition the service
checks, not a transaction, so it holds on every emulator too.

A serving system reads the newest document (`order_by("sequence", DESCENDING).limit(1)`, the
automatic single-field index) or `gemini-tuning promote --show --json`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any, TypeVar

from shared.errors import PreconditionFailed
from shared.gcp.retry import call_with_retry
from shared.ports import Promotion

T = TypeVar("T")


def doc_id(sequence: int) -> str:
    return f"{sequence:012d}"


class FirestoreProductionStore:
    """The production record in Firestore. Pass `client` to reuse one (tests: an emulator)."""

    def __init__(
        self,
        project: str,
        database: str = "(default)",
        collection: str = "production_models",
        client: Any = None,
        *,
        deadline_s: float = 30.0,
    ) -> None:
        if client is None:
            from google.cloud import firestore

            client = firestore.Client(project=project, database=database)
        self._collection = client.collection(collection)
        self._deadline_s = deadline_s

    def _call(self, fn: Callable[[], T], what: str) -> T:
        return call_with_retry(fn, deadline_s=self._deadline_s, what=what)

    def _newest(self, limit: int) -> list[Promotion]:
        from google.cloud import firestore

        q = self._collection.order_by("sequence", direction=firestore.Query.DESCENDING).limit(
            max(0, limit)
        )
        docs = self._call(lambda: list(q.stream()), "production model records")
        return [Promotion.from_dict(d.to_dict()) for d in docs]

    def current(self) -> Promotion | None:
        newest = self._newest(1)
        return newest[0] if newest else None

    def get(self, sequence: int) -> Promotion | None:
        ref = self._collection.document(doc_id(sequence))
        snap = self._call(ref.get, f"production record {sequence}")
        return Promotion.from_dict(snap.to_dict()) if snap.exists else None

    def promote(self, promotion: Promotion, *, expected_current: int | None) -> Promotion | None:
        current = self.current()
        if (current.sequence if current else None) != expected_current:
            return None
        stored = replace(promotion, sequence=(expected_current or 0) + 1)
        ref = self._collection.document(doc_id(stored.sequence))
        try:
            self._call(lambda: ref.create(stored.to_dict()), f"production record {stored.sequence}")
        except PreconditionFailed:
            # Another promotion took this number, or our own create went through and its retry
            # was refused: only the latter is ours.
            return stored if self.get(stored.sequence) == stored else None
        return stored

    def history(self, *, limit: int = 10) -> list[Promotion]:
        return self._newest(limit)
