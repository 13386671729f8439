"""`SqliteProductionStore`: the production model record of the local backend.

One row per production change, keyed by its sequence number. `promote` is an `INSERT` of row
`expected_current + 1` inside `BEGIN IMMEDIATE`, after checking that `expected_current` is still
the newest row: the primary key and the write lock together make a promotion made from a stale
view lose instead of overwriting the one that won (threads and processes alike).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import orjson

from shared.local.sqlite import ThreadConnections
from shared.ports import Promotion

_SCHEMA = """
CREATE TABLE IF NOT EXISTS production_models (
    sequence INTEGER PRIMARY KEY,
    run_id TEXT NOT NULL,
    promoted_at TEXT NOT NULL,
    doc BLOB NOT NULL
);
"""


class SqliteProductionStore:
    """The `ProductionStore` port on one SQLite file (safe across threads and processes)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._db = ThreadConnections(self.path, _SCHEMA)

    def close(self) -> None:
        self._db.close()

    def current(self) -> Promotion | None:
        row = (
            self._db.get()
            .execute("SELECT doc FROM production_models ORDER BY sequence DESC LIMIT 1")
            .fetchone()
        )
        return None if row is None else Promotion.from_dict(orjson.loads(row[0]))

    def get(self, sequence: int) -> Promotion | None:
        row = (
            self._db.get()
            .execute("SELECT doc FROM production_models WHERE sequence = ?", (sequence,))
            .fetchone()
        )
        return None if row is None else Promotion.from_dict(orjson.loads(row[0]))

    def promote(self, promotion: Promotion, *, expected_current: int | None) -> Promotion | None:
        with self._db.write() as conn:
            row = conn.execute("SELECT MAX(sequence) FROM production_models").fetchone()
            newest = row[0] if row is not None else None
            if newest != expected_current:
                return None
            stored = replace(promotion, sequence=(expected_current or 0) + 1)
            conn.execute(
                "INSERT INTO production_models(sequence, run_id, promoted_at, doc) "
                "VALUES (?, ?, ?, ?)",
                (
                    stored.sequence,
                    stored.run_id,
                    stored.promoted_at,
                    orjson.dumps(stored.to_dict()),
                ),
            )
        return stored

    def history(self, *, limit: int = 10) -> list[Promotion]:
        rows = (
            self._db.get()
            .execute(
                "SELECT doc FROM production_models ORDER BY sequence DESC LIMIT ?",
                (max(0, limit),),
            )
            .fetchall()
        )
        return [Promotion.from_dict(orjson.loads(r[0])) for r in rows]
