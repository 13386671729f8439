"""An SQLite file on disk that holds an export while it is being prepared.

Sessions may be spread over a whole 1 GB export (a chat system writes messages as they happen),
so grouping them needs every row; holding them would need gigabytes. The rows go into a
temporary SQLite database instead and come back sorted by session, time and row number
(SQLite's sorter spills to temporary files past its small cache), then the examples built
from them wait there for duplicate detection and the split. Memory stays at the cache size
plus one session.
"""

from __future__ import annotations

import sqlite3
from array import array
from collections.abc import Iterator
from pathlib import Path
from typing import Any

#: SQLite page cache and sorter memory, in KiB (negative = KiB for `cache_size`).
CACHE_KIB = 32 * 1024

_SCHEMA = """
CREATE TABLE rows (session TEXT NOT NULL, time TEXT NOT NULL, seq INTEGER NOT NULL,
                   role TEXT NOT NULL, text TEXT NOT NULL);
CREATE TABLE convs (id INTEGER PRIMARY KEY, session TEXT NOT NULL, piece INTEGER NOT NULL,
                    body BLOB NOT NULL, digest BLOB NOT NULL, answer_digest BLOB NOT NULL,
                    sketch BLOB NOT NULL, q BLOB NOT NULL, a BLOB NOT NULL,
                    final_q TEXT NOT NULL, final_a TEXT NOT NULL, tokens INTEGER NOT NULL,
                    dropped TEXT, grp INTEGER, split TEXT);
CREATE TABLE bands (kind INTEGER NOT NULL, h INTEGER NOT NULL, id INTEGER NOT NULL);
"""

#: `bands.kind`: whole-conversation sketch (duplicates) or final-exchange answer (the split).
WHOLE, FINAL = 0, 1


def pack(sk: frozenset[int]) -> bytes:
    return array("q", sorted(sk)).tobytes()


def unpack(blob: bytes) -> frozenset[int]:
    a = array("q")
    a.frombytes(blob)
    return frozenset(a)


class Spill:
    """The temporary database of one `prepare` run (deleted with its folder)."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / "prepare.sqlite"
        self.db = sqlite3.connect(self.path, isolation_level=None)
        for pragma in (
            "journal_mode=OFF",
            "synchronous=OFF",
            "temp_store=FILE",
            f"cache_size=-{CACHE_KIB}",
            "locking_mode=EXCLUSIVE",
        ):
            self.db.execute(f"PRAGMA {pragma}")
        self.db.executescript(_SCHEMA)
        self.db.execute("BEGIN")
        self._rows: list[tuple[str, str, int, str, str]] = []
        self.row_count = 0
        self._convs: list[tuple[Any, ...]] = []
        self._bands: list[tuple[int, int, int]] = []
        self._next_id = 0

    def add_row(self, session: str, time: str, seq: int, role: str, text: str) -> None:
        self._rows.append((session, time, seq, role, text))
        if len(self._rows) >= 10_000:
            self.flush_rows()

    def flush_rows(self) -> None:
        self.db.executemany("INSERT INTO rows VALUES (?, ?, ?, ?, ?)", self._rows)
        self.row_count += len(self._rows)
        self._rows.clear()

    def sessions(self) -> Iterator[tuple[str, list[tuple[str, str]]]]:
        """(session, [(role, text), ...]) in session order, messages by time then row."""
        self.flush_rows()
        cur = self.db.execute("SELECT session, role, text FROM rows ORDER BY session, time, seq")
        current: str | None = None
        messages: list[tuple[str, str]] = []
        for session, role, text in cur:
            if session != current:
                if current is not None:
                    yield current, messages
                current, messages = session, []
            messages.append((role, text))
        if current is not None:
            yield current, messages

    def drop_rows(self) -> None:
        """The rows are built into examples: free their pages, write the queued examples."""
        self.db.execute("DELETE FROM rows")
        self.flush_convs()

    def add_conv(self, values: tuple[Any, ...], bands: list[tuple[int, int]]) -> int:
        """Queue one example and its lookup keys; returns its id. Written in batches (one
        statement per row was a round-trip each); `flush_convs` before reading `convs`."""
        self._next_id += 1
        conv_id = self._next_id
        self._convs.append((conv_id, *values))
        self._bands.extend((kind, h, conv_id) for kind, h in bands)
        if len(self._convs) >= 2_000:
            self.flush_convs()
        return conv_id

    def flush_convs(self) -> None:
        self.db.executemany(
            "INSERT INTO convs (id, session, piece, body, digest, answer_digest, sketch, q, a, "
            "final_q, final_a, tokens) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            self._convs,
        )
        self.db.executemany("INSERT INTO bands VALUES (?, ?, ?)", self._bands)
        self._convs.clear()
        self._bands.clear()

    def close(self) -> None:
        self.db.execute("COMMIT")
        self.db.close()
