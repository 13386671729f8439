"""`SqliteRunStore`: the run store of the local backend, one row per run.

The row holds the JSON document (what Firestore would show) beside the columns queries need:
`status` and `created_at` are indexed so `list_by_status` reads only matching rows, which is
what keeps the poller's cost proportional to active runs, not to history. `reads` counts the
documents read so a benchmark or a test can prove that.

Compare-and-set runs inside `BEGIN IMMEDIATE`: SQLite takes the write lock before the read, so
two threads or two processes can never both see the old status. WAL lets readers go on while a
writer holds the lock; `busy_timeout` makes writers queue instead of failing. The document
change itself is `shared.runs.transition_doc` / `apply_change`, so the rules live in one place.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import orjson

from shared.errors import QuotaExceeded
from shared.local.sqlite import ThreadConnections
from shared.runs import Change, Run, RunStatus, apply_change, transition_doc

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    doc BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS runs_by_status ON runs(status, created_at);
CREATE INDEX IF NOT EXISTS runs_by_created ON runs(created_at);
"""


def _dumps(doc: dict[str, Any]) -> bytes:
    return orjson.dumps(doc)


class SqliteRunStore:
    """The `RunStore` port on one SQLite file (safe across threads and processes)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._db = ThreadConnections(self.path, _SCHEMA)
        self._reads_lock = threading.Lock()
        self.reads = 0  #: documents read so far (probe for "touches only active runs")

    def close(self) -> None:
        self._db.close()

    def _count(self, n: int) -> None:
        with self._reads_lock:
            self.reads += n

    def create(self, run: Run) -> bool:
        doc = run.to_dict()
        cur = self._db.get().execute(
            "INSERT OR IGNORE INTO runs(run_id, status, created_at, updated_at, doc) "
            "VALUES (?, ?, ?, ?, ?)",
            (run.run_id, str(run.status), run.created_at, run.updated_at, _dumps(doc)),
        )
        return cur.rowcount == 1

    def get(self, run_id: str) -> Run | None:
        row = self._db.get().execute("SELECT doc FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        if row is None:
            return None
        self._count(1)
        return Run.from_dict(orjson.loads(row[0]))

    def _cas(
        self,
        run_id: str,
        expected: Iterable[RunStatus] | None,
        rewrite: Callable[[dict[str, Any]], dict[str, Any]],
        *,
        guard: Callable[[Any], None] | None = None,
    ) -> Run | None:
        allowed = None if expected is None else {str(s) for s in expected}
        with self._db.write() as conn:
            row = conn.execute(
                "SELECT status, doc FROM runs WHERE run_id = ?", (run_id,)
            ).fetchone()
            if row is None:  # no such run: the condition cannot hold
                return None
            self._count(1)
            if allowed is not None and row[0] not in allowed:
                return None
            if guard is not None:
                guard(conn)  # may raise: the transaction rolls back, nothing written
            new = rewrite(orjson.loads(row[1]))
            conn.execute(
                "UPDATE runs SET status = ?, updated_at = ?, doc = ? WHERE run_id = ?",
                (new["status"], new["updated_at"], _dumps(new), run_id),
            )
        return Run.from_dict(new)

    def transition(
        self,
        run_id: str,
        expected: Iterable[RunStatus],
        dst: RunStatus,
        *,
        note: str = "",
        change: Change | None = None,
    ) -> Run | None:
        return self._cas(
            run_id, list(expected), lambda doc: transition_doc(doc, dst, note=note, change=change)
        )

    def claim_training_slot(
        self,
        run_id: str,
        expected: Iterable[RunStatus],
        *,
        limit: int,
        note: str = "",
        change: Change | None = None,
    ) -> Run | None:
        """The TRAINING count and the move share one `BEGIN IMMEDIATE`: no other writer can
        claim between the count and the write (the indexed count reads no documents)."""

        def guard(conn: Any) -> None:
            (training,) = conn.execute(
                "SELECT COUNT(*) FROM runs WHERE status = ? AND run_id != ?",
                (str(RunStatus.TRAINING), run_id),
            ).fetchone()
            if training >= limit:
                raise QuotaExceeded(
                    f"{training} runs are TRAINING (limit {limit}); run {run_id} waits for a slot"
                )

        return self._cas(
            run_id,
            list(expected),
            lambda doc: transition_doc(doc, RunStatus.TRAINING, note=note, change=change),
            guard=guard,
        )

    def update(
        self, run_id: str, change: Change, *, expected: Iterable[RunStatus] | None = None
    ) -> Run | None:
        return self._cas(
            run_id,
            None if expected is None else list(expected),
            lambda doc: apply_change(doc, change),
        )

    def list_by_status(
        self, statuses: Iterable[RunStatus], *, limit: int | None = None
    ) -> list[Run]:
        wanted = sorted({str(s) for s in statuses})
        if not wanted:
            return []
        marks = ",".join("?" * len(wanted))
        sql = f"SELECT doc FROM runs WHERE status IN ({marks}) ORDER BY created_at, run_id"
        params: list[Any] = list(wanted)
        if limit is not None:
            sql += " LIMIT ?"
            params.append(max(0, limit))
        rows = self._db.get().execute(sql, params).fetchall()
        self._count(len(rows))
        return [Run.from_dict(orjson.loads(r[0])) for r in rows]

    def list_recent(self, *, limit: int = 50) -> list[Run]:
        rows = (
            self._db.get()
            .execute(
                "SELECT doc FROM runs ORDER BY created_at DESC, run_id DESC LIMIT ?",
                (max(0, limit),),
            )
            .fetchall()
        )
        self._count(len(rows))
        return [Run.from_dict(orjson.loads(r[0])) for r in rows]

    def list_created_since(self, since: str) -> list[Run]:
        rows = (
            self._db.get()
            .execute(
                "SELECT doc FROM runs WHERE created_at >= ? ORDER BY created_at, run_id", (since,)
            )
            .fetchall()
        )
        self._count(len(rows))
        return [Run.from_dict(orjson.loads(r[0])) for r in rows]
