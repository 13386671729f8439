"""Simulated tuning jobs: the stored record and the state it is in at a given instant.

A job's state is a pure function of its record and the wall clock, so nothing runs in the
background: any process that opens the same SQLite file sees the same job move
QUEUED -> RUNNING -> SUCCEEDED (or FAILED) as time passes, even across restarts.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from shared.clock import to_iso
from shared.local.sqlite import ThreadConnections

#: google.rpc codes Vertex puts in `TuningJob.error`.
CODE_CANCELLED = 1
CODE_INTERNAL = 13

END_STATES = frozenset({"SUCCEEDED", "FAILED", "CANCELLED"})


@dataclass(frozen=True)
class JobRecord:
    """One row of the `jobs` table. Times are epoch seconds."""

    id: int
    name: str
    run_id: str
    display_name: str
    labels: Mapping[str, str]
    spec: Mapping[str, Any]
    created_at: float
    queued_seconds: float
    training_seconds: float
    fail_message: str | None
    cancel_seconds: float
    cancel_requested_at: float | None
    forced_state: str | None
    forced_message: str | None
    forced_at: float | None


@dataclass(frozen=True)
class JobStatus:
    state: str
    end_time: float | None = None
    error_code: int | None = None
    error_message: str | None = None


def status_at(job: JobRecord, now: float) -> JobStatus:
    """Where `job` is at `now`. A forced end (the control API) beats cancellation, which beats
    the natural schedule; both are only accepted while the job is still active."""
    if job.forced_state is not None:
        code = CODE_INTERNAL if job.forced_state == "FAILED" else None
        if job.forced_state == "CANCELLED":
            code = CODE_CANCELLED
        return JobStatus(job.forced_state, job.forced_at, code, job.forced_message)
    if job.cancel_requested_at is not None:
        done = job.cancel_requested_at + job.cancel_seconds
        if now < done:
            return JobStatus("CANCELLING")
        return JobStatus("CANCELLED", done, CODE_CANCELLED, "CANCELED")
    if now < job.created_at + job.queued_seconds:
        return JobStatus("QUEUED")
    end = job.created_at + job.training_seconds
    if now < end:
        return JobStatus("RUNNING")
    if job.fail_message is not None:
        return JobStatus("FAILED", end, CODE_INTERNAL, job.fail_message)
    return JobStatus("SUCCEEDED", end)


def rfc3339(ts: float | None) -> str | None:
    if ts is None:
        return None
    return to_iso(datetime.fromtimestamp(ts, UTC), "microseconds")


_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT UNIQUE,
    run_id TEXT NOT NULL,
    display_name TEXT NOT NULL,
    labels TEXT NOT NULL,
    spec TEXT NOT NULL,
    created_at REAL NOT NULL,
    queued_seconds REAL NOT NULL,
    training_seconds REAL NOT NULL,
    fail_message TEXT,
    cancel_seconds REAL NOT NULL,
    cancel_requested_at REAL,
    forced_state TEXT,
    forced_message TEXT,
    forced_at REAL
);
CREATE INDEX IF NOT EXISTS jobs_run_id ON jobs(run_id);
CREATE TABLE IF NOT EXISTS default_checkpoints (
    job_name TEXT PRIMARY KEY,
    checkpoint_id TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS fault_budgets (
    key TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    remaining INTEGER NOT NULL
);
"""

_COLUMNS = (
    "id, name, run_id, display_name, labels, spec, created_at, queued_seconds, training_seconds,"
    " fail_message, cancel_seconds, cancel_requested_at, forced_state, forced_message, forced_at"
)


def _record(row: tuple[Any, ...]) -> JobRecord:
    r = list(row)
    r[4] = json.loads(r[4])
    r[5] = json.loads(r[5])
    return JobRecord(*r)


class JobTable:
    """The simulator's SQLite file: jobs plus fault budgets, shared by threads and processes.

    WAL mode and `BEGIN IMMEDIATE` make every read-check-write (quota, cancel, fault budget)
    atomic across processes; a committed create survives the creating process dying.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db = ThreadConnections(path, _SCHEMA)

    def _conn(self) -> sqlite3.Connection:
        return self._db.get()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """`BEGIN IMMEDIATE` through the shared helper (a busy file is a `TransientError`)."""
        with self._db.write() as conn:
            yield conn

    def close(self) -> None:
        self._db.close()

    def insert(self, db: sqlite3.Connection, values: Mapping[str, Any]) -> int:
        cols = ", ".join(values)
        marks = ", ".join("?" for _ in values)
        row = [json.dumps(v) if k in ("labels", "spec") else v for k, v in values.items()]
        cur = db.execute(f"INSERT INTO jobs ({cols}) VALUES ({marks})", row)
        assert cur.lastrowid is not None
        return cur.lastrowid

    def set(self, db: sqlite3.Connection, job_id: int, **values: Any) -> None:
        sets = ", ".join(f"{k} = ?" for k in values)
        db.execute(f"UPDATE jobs SET {sets} WHERE id = ?", [*values.values(), job_id])

    def get(self, name: str, db: sqlite3.Connection | None = None) -> JobRecord | None:
        row = (
            (db or self._conn())
            .execute(f"SELECT {_COLUMNS} FROM jobs WHERE name = ?", (name,))
            .fetchone()
        )
        return None if row is None else _record(row)

    def by_run_id(self, run_id: str) -> list[JobRecord]:
        rows = self._conn().execute(
            f"SELECT {_COLUMNS} FROM jobs WHERE run_id = ? ORDER BY id", (run_id,)
        )
        return [_record(r) for r in rows]

    def unfinished(self, db: sqlite3.Connection, now: float) -> list[JobRecord]:
        """Jobs that may still be active at `now` (a cheap superset; callers use status_at)."""
        rows = db.execute(
            f"SELECT {_COLUMNS} FROM jobs WHERE forced_state IS NULL"
            " AND (cancel_requested_at IS NULL OR cancel_requested_at + cancel_seconds > ?)"
            " AND created_at + training_seconds > ?",
            (now, now),
        )
        return [_record(r) for r in rows]

    def set_default_checkpoint(self, job_name: str, checkpoint_id: str) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT INTO default_checkpoints (job_name, checkpoint_id) VALUES (?, ?)"
                " ON CONFLICT(job_name) DO UPDATE SET checkpoint_id = excluded.checkpoint_id",
                (job_name, checkpoint_id),
            )

    def default_checkpoint(self, job_name: str) -> str | None:
        row = (
            self._conn()
            .execute(
                "SELECT checkpoint_id FROM default_checkpoints WHERE job_name = ?", (job_name,)
            )
            .fetchone()
        )
        return None if row is None else str(row[0])

    def take_fault(self, key: str, budget: int) -> bool:
        """Consume one error from the budget `key`; True if this call must fail.

        The budget re-arms whenever its configured size changes, so switching
        `transient_errors` 0 -> 3 during a demo yields three fresh errors.
        """
        source = str(budget)
        if budget <= 0:  # the common case: one read, and forget a spent budget so it re-arms
            conn = self._conn()
            if conn.execute("SELECT 1 FROM fault_budgets WHERE key = ?", (key,)).fetchone():
                conn.execute("DELETE FROM fault_budgets WHERE key = ?", (key,))
            return False
        with self.transaction() as db:
            row = db.execute(
                "SELECT source, remaining FROM fault_budgets WHERE key = ?", (key,)
            ).fetchone()
            remaining = budget if row is None or row[0] != source else int(row[1])
            fail = remaining > 0
            db.execute(
                "INSERT INTO fault_budgets (key, source, remaining) VALUES (?, ?, ?)"
                " ON CONFLICT(key) DO UPDATE SET source = excluded.source,"
                " remaining = excluded.remaining",
                (key, source, remaining - 1 if fail else remaining),
            )
        return fail
