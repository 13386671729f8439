"""`SqliteBus`: a durable message bus on one SQLite file, playing Pub/Sub for the local backend.

What the runtime needs, and Pub/Sub gives: `publish` returns only after the message is
committed (fsync'd; `synchronous=FULL`); each subscription of a topic gets its own copy
(fan-out, fixed at publish time like Pub/Sub); `pull` leases a message for an ack deadline;
`ack` removes it; `nack` makes it visible again after exponential backoff with jitter; after
`max_attempts` deliveries it moves to a dead-letter table that the runtime reads to tell the run
why. A lease that is neither acked nor nacked (a crash, a restart) expires and the message is
delivered again. Every operation is one `BEGIN IMMEDIATE` transaction, so several threads and
processes can share the file.

Why not a library: persist-queue's `SQLiteAckQueue` and litequeue were evaluated. Both are a
single FIFO per table: no per-message delay (a nack is visible again at once, so no backoff),
no delivery-attempt count or dead-letter, no fan-out to several subscriptions, and no lease
expiry (persist-queue instead resets every un-acked item at start-up, which steals messages
still leased by another live process). Adding those on top would mean rewriting their tables;
the queue below is ~200 lines of SQL we can test directly.
"""

from __future__ import annotations

import random
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import orjson

from shared.clock import utcnow
from shared.local.sqlite import ThreadConnections

_SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    topic TEXT NOT NULL,
    data BLOB NOT NULL,
    attributes BLOB NOT NULL,
    publish_time TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS subscriptions (
    name TEXT PRIMARY KEY,
    topic TEXT NOT NULL,
    ack_deadline REAL NOT NULL,
    max_attempts INTEGER NOT NULL,
    min_backoff REAL NOT NULL,
    max_backoff REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS subscriptions_by_topic ON subscriptions(topic);
CREATE TABLE IF NOT EXISTS deliveries (
    subscription TEXT NOT NULL,
    seq INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    visible_at REAL NOT NULL,
    lease TEXT,
    last_error TEXT,
    PRIMARY KEY (subscription, seq)
);
CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries(subscription, visible_at);
CREATE TABLE IF NOT EXISTS dead_letters (
    subscription TEXT NOT NULL,
    seq INTEGER NOT NULL,
    attempts INTEGER NOT NULL,
    last_error TEXT,
    dead_at TEXT NOT NULL,
    reported INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (subscription, seq)
);
CREATE TABLE IF NOT EXISTS dedupe (key TEXT PRIMARY KEY, seq INTEGER NOT NULL);
"""

_EXPIRED_ERROR = (
    "not acknowledged within the ack deadline (the handler crashed, hung or the runtime "
    "stopped) on the last attempt"
)

_wakeups: dict[str, threading.Condition] = {}
_wakeups_lock = threading.Lock()


def _wakeup(path: Path) -> threading.Condition:
    key = str(path.resolve())
    with _wakeups_lock:
        return _wakeups.setdefault(key, threading.Condition())


@dataclass(frozen=True)
class SubscriptionPolicy:
    """Retry policy of one subscription (Pub/Sub's ack deadline, retry policy, dead-letter)."""

    ack_deadline: float = 60.0
    max_attempts: int = 5
    min_backoff: float = 1.0
    max_backoff: float = 60.0

    def backoff(self, attempt: int) -> float:
        """Exponential backoff with "equal jitter": half fixed, half random, so retries of
        many messages that failed together spread out instead of hammering in lockstep."""
        delay: float = min(self.max_backoff, self.min_backoff * 2 ** max(0, attempt - 1))
        return delay / 2 + random.uniform(0, delay / 2)


@dataclass(frozen=True)
class Leased:
    """A message handed to one consumer until `deadline` (epoch seconds)."""

    subscription: str
    message_id: str
    topic: str
    data: bytes
    attributes: dict[str, str]
    publish_time: str
    attempt: int
    lease: str
    deadline: float


@dataclass(frozen=True)
class DeadLetter:
    subscription: str
    message_id: str
    topic: str
    data: bytes
    attributes: dict[str, str]
    attempts: int
    last_error: str
    dead_at: str


@dataclass(frozen=True)
class NackResult:
    dead: bool  #: True when this nack moved the message to the dead-letter table
    delay: float  #: seconds until the next attempt (0 when dead)


class SqliteBus:
    """The `Bus` port plus subscriptions, leases, retry and dead-letter (module docstring)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._db = ThreadConnections(self.path, _SCHEMA, synchronous="FULL")
        self._cond = _wakeup(self.path)

    def close(self) -> None:
        self._db.close()

    # ---- publishing -----------------------------------------------------------------------

    def publish(self, topic: str, data: bytes, attributes: Mapping[str, str]) -> str:
        msg_id = self._publish(None, topic, data, attributes)
        assert msg_id is not None
        return msg_id

    def publish_once(
        self, key: str, topic: str, data: bytes, attributes: Mapping[str, str]
    ) -> str | None:
        """Publish unless a message with this idempotency key was published before (ever).
        Returns the new id, or None for a duplicate."""
        return self._publish(key, topic, data, attributes)

    def seen(self, key: str) -> bool:
        row = self._db.get().execute("SELECT 1 FROM dedupe WHERE key = ?", (key,)).fetchone()
        return row is not None

    def _publish(
        self, key: str | None, topic: str, data: bytes, attributes: Mapping[str, str]
    ) -> str | None:
        if not isinstance(topic, str) or not topic:
            raise ValueError("topic must be a non-empty string")
        if not isinstance(data, bytes | bytearray):
            raise TypeError(f"message data must be bytes, not {type(data).__name__}")
        attrs = dict(attributes)
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in attrs.items()):
            raise TypeError("message attributes must map str to str")
        now = time.time()
        with self._db.write() as conn:
            if (
                key is not None
                and conn.execute("SELECT 1 FROM dedupe WHERE key = ?", (key,)).fetchone()
            ):
                return None
            cur = conn.execute(
                "INSERT INTO messages(topic, data, attributes, publish_time) VALUES (?, ?, ?, ?)",
                (topic, bytes(data), orjson.dumps(attrs), utcnow()),
            )
            seq = cur.lastrowid
            fanout = conn.execute(
                "INSERT INTO deliveries(subscription, seq, visible_at) "
                "SELECT name, ?, ? FROM subscriptions WHERE topic = ?",
                (seq, now, topic),
            ).rowcount
            if fanout == 0:  # nobody subscribed: accepted and dropped, like Pub/Sub
                conn.execute("DELETE FROM messages WHERE seq = ?", (seq,))
            if key is not None:
                conn.execute("INSERT INTO dedupe(key, seq) VALUES (?, ?)", (key, seq))
        self.notify()
        return str(seq)

    def notify(self) -> None:
        """Wake every `wait()` on this file in this process."""
        with self._cond:
            self._cond.notify_all()

    def wait(self, timeout: float) -> None:
        """Sleep until something is published or nacked in this process, or `timeout`."""
        with self._cond:
            self._cond.wait(timeout)

    # ---- subscribing ----------------------------------------------------------------------

    def subscribe(
        self, topic: str, subscription: str, policy: SubscriptionPolicy | None = None
    ) -> None:
        """Create (or update the policy of) a subscription. Only messages published after it
        exists are delivered to it, as in Pub/Sub."""
        p = policy or SubscriptionPolicy()
        if p.max_attempts < 1 or p.ack_deadline <= 0 or p.min_backoff < 0:
            raise ValueError(f"invalid subscription policy {p}")
        with self._db.write() as conn:
            row = conn.execute(
                "SELECT topic FROM subscriptions WHERE name = ?", (subscription,)
            ).fetchone()
            if row is not None and row[0] != topic:
                raise ValueError(
                    f"subscription {subscription!r} already exists on topic {row[0]!r}"
                )
            conn.execute(
                "INSERT OR REPLACE INTO subscriptions VALUES (?, ?, ?, ?, ?, ?)",
                (subscription, topic, p.ack_deadline, p.max_attempts, p.min_backoff, p.max_backoff),
            )

    def _policy(self, subscription: str) -> tuple[str, SubscriptionPolicy]:
        row = (
            self._db.get()
            .execute(
                "SELECT topic, ack_deadline, max_attempts, min_backoff, max_backoff "
                "FROM subscriptions WHERE name = ?",
                (subscription,),
            )
            .fetchone()
        )
        if row is None:
            raise KeyError(f"no subscription {subscription!r}; call subscribe() first")
        return row[0], SubscriptionPolicy(row[1], row[2], row[3], row[4])

    def pull(self, subscription: str, max_messages: int = 1) -> list[Leased]:
        """Lease up to `max_messages` due messages for the subscription's ack deadline."""
        topic, policy = self._policy(subscription)
        now = time.time()
        out: list[Leased] = []
        with self._db.write() as conn:
            rows = conn.execute(
                "SELECT d.seq, d.attempts, d.lease, d.last_error, m.data, m.attributes, "
                "m.publish_time FROM deliveries d JOIN messages m ON m.seq = d.seq "
                "WHERE d.subscription = ? AND d.visible_at <= ? "
                "ORDER BY d.visible_at, d.seq LIMIT ?",
                (subscription, now, max_messages),
            ).fetchall()
            for seq, attempts, lease, last_error, data, attrs, ptime in rows:
                if lease is not None and attempts >= policy.max_attempts:
                    self._bury(conn, subscription, seq, attempts, last_error or _EXPIRED_ERROR)
                    continue
                token = uuid.uuid4().hex
                deadline = now + policy.ack_deadline
                conn.execute(
                    "UPDATE deliveries SET attempts = attempts + 1, visible_at = ?, lease = ? "
                    "WHERE subscription = ? AND seq = ?",
                    (deadline, token, subscription, seq),
                )
                out.append(
                    Leased(
                        subscription=subscription,
                        message_id=str(seq),
                        topic=topic,
                        data=bytes(data),
                        attributes=orjson.loads(attrs),
                        publish_time=ptime,
                        attempt=attempts + 1,
                        lease=token,
                        deadline=deadline,
                    )
                )
        return out

    def ack(self, msg: Leased) -> bool:
        """Done with it. False when the lease had expired and someone else holds it now."""
        with self._db.write() as conn:
            n = conn.execute(
                "DELETE FROM deliveries WHERE subscription = ? AND seq = ? AND lease = ?",
                (msg.subscription, int(msg.message_id), msg.lease),
            ).rowcount
            if n:
                self._collect(conn, int(msg.message_id))
        return n == 1

    def nack(self, msg: Leased, error: str) -> NackResult:
        """The handler failed: retry after backoff, or dead-letter after the last attempt."""
        _, policy = self._policy(msg.subscription)
        seq = int(msg.message_id)
        with self._db.write() as conn:
            row = conn.execute(
                "SELECT attempts FROM deliveries WHERE subscription = ? AND seq = ? AND lease = ?",
                (msg.subscription, seq, msg.lease),
            ).fetchone()
            if row is None:  # lease lost: the current holder decides
                return NackResult(dead=False, delay=0.0)
            attempts = int(row[0])
            if attempts >= policy.max_attempts:
                self._bury(conn, msg.subscription, seq, attempts, error)
                result = NackResult(dead=True, delay=0.0)
            else:
                delay = policy.backoff(attempts)
                conn.execute(
                    "UPDATE deliveries SET visible_at = ?, lease = NULL, last_error = ? "
                    "WHERE subscription = ? AND seq = ?",
                    (time.time() + delay, error, msg.subscription, seq),
                )
                result = NackResult(dead=False, delay=delay)
        self.notify()
        return result

    @staticmethod
    def _bury(
        conn: sqlite3.Connection, subscription: str, seq: int, attempts: int, error: str
    ) -> None:
        conn.execute(
            "INSERT OR REPLACE INTO dead_letters(subscription, seq, attempts, last_error, dead_at)"
            " VALUES (?, ?, ?, ?, ?)",
            (subscription, seq, attempts, error, utcnow()),
        )
        conn.execute(
            "DELETE FROM deliveries WHERE subscription = ? AND seq = ?", (subscription, seq)
        )

    @staticmethod
    def _collect(conn: sqlite3.Connection, seq: int) -> None:
        """Drop a message body once no subscription still needs it."""
        conn.execute(
            "DELETE FROM messages WHERE seq = ? "
            "AND NOT EXISTS (SELECT 1 FROM deliveries WHERE seq = ?) "
            "AND NOT EXISTS (SELECT 1 FROM dead_letters WHERE seq = ?)",
            (seq, seq, seq),
        )

    # ---- inspection -----------------------------------------------------------------------

    def release_leases(self, subscriptions: Iterable[str]) -> int:
        """Make every leased message of these subscriptions deliverable now; the number released.

        Only for a caller that knows the holders are gone (the runtime, holding the root's
        runtime lock, at start): a lease of a process killed with -9 would otherwise hide its
        message for the whole ack deadline. The delivery attempt it used still counts."""
        subs = list(subscriptions)
        if not subs:
            return 0
        marks = ",".join("?" * len(subs))
        with self._db.write() as conn:
            n = conn.execute(
                f"UPDATE deliveries SET visible_at = ?, lease = NULL "
                f"WHERE lease IS NOT NULL AND subscription IN ({marks})",
                [time.time(), *subs],
            ).rowcount
        if n:
            self.notify()
        return int(n)

    def pending(self, subscriptions: Iterable[str]) -> int:
        """Messages not yet acked or dead-lettered (due, leased or waiting for a retry)."""
        subs = list(subscriptions)
        if not subs:
            return 0
        marks = ",".join("?" * len(subs))
        row = (
            self._db.get()
            .execute(f"SELECT COUNT(*) FROM deliveries WHERE subscription IN ({marks})", subs)
            .fetchone()
        )
        return int(row[0])

    def next_due(self, subscriptions: Iterable[str]) -> float | None:
        """Epoch seconds when the next message of these subscriptions becomes visible."""
        subs = list(subscriptions)
        if not subs:
            return None
        marks = ",".join("?" * len(subs))
        row = (
            self._db.get()
            .execute(
                f"SELECT MIN(visible_at) FROM deliveries WHERE subscription IN ({marks})", subs
            )
            .fetchone()
        )
        return None if row[0] is None else float(row[0])

    def dead_letters(
        self, subscription: str | None = None, *, unreported_only: bool = False
    ) -> list[DeadLetter]:
        sql = (
            "SELECT x.subscription, x.seq, m.topic, m.data, m.attributes, x.attempts, "
            "x.last_error, x.dead_at FROM dead_letters x JOIN messages m ON m.seq = x.seq"
        )
        where: list[str] = []
        params: list[object] = []
        if subscription is not None:
            where.append("x.subscription = ?")
            params.append(subscription)
        if unreported_only:
            where.append("x.reported = 0")
        if where:
            sql += " WHERE " + " AND ".join(where)
        rows = self._db.get().execute(sql + " ORDER BY x.dead_at, x.seq", params).fetchall()
        return [
            DeadLetter(
                subscription=r[0],
                message_id=str(r[1]),
                topic=r[2],
                data=bytes(r[3]),
                attributes=orjson.loads(r[4]),
                attempts=int(r[5]),
                last_error=r[6] or "",
                dead_at=r[7],
            )
            for r in rows
        ]

    def mark_reported(self, dead: DeadLetter) -> None:
        """Remember that the run was told about this dead letter (so it is told once)."""
        with self._db.write() as conn:
            conn.execute(
                "UPDATE dead_letters SET reported = 1 WHERE subscription = ? AND seq = ?",
                (dead.subscription, int(dead.message_id)),
            )
