"""Time as the run record and the events carry it: ISO-8601 UTC text, and ages in seconds.

One home for the conversions so the event-age check, leases, the poller's staleness rules and
the status views agree, in particular on a missing or unreadable time (`age_seconds` -> None;
each caller says what None means for it).
"""

from __future__ import annotations

from datetime import UTC, date, datetime


def utcnow() -> str:
    """ISO-8601 UTC with milliseconds: sorts as text, reads in the console."""
    return to_iso(datetime.now(UTC))


def to_iso(t: datetime, timespec: str = "milliseconds") -> str:
    """`t` as the run record writes times: UTC, `Z`, fixed precision (naive means UTC), so
    times from Google's clients, the stores and the simulator sort together as text."""
    t = t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)
    return t.isoformat(timespec=timespec).replace("+00:00", "Z")


def today() -> date:
    """The UTC date (model lifecycle checks: retirement dates are days)."""
    return datetime.now(UTC).date()


def parse_time(iso: str) -> datetime:
    """The inverse of `utcnow()` (also accepts any ISO-8601 with an offset; naive means UTC)."""
    t = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def age_seconds(iso: str | None, now: datetime | None = None) -> float | None:
    """Seconds since `iso`, or None when there is no time or it cannot be read."""
    if not iso:
        return None
    try:
        then = parse_time(iso)
    except ValueError:
        return None
    return ((now or datetime.now(UTC)) - then).total_seconds()


def older_than(iso: str | None, seconds: float, *, missing: bool) -> bool:
    """True when `iso` is more than `seconds` ago; `missing` is the answer without a time."""
    age = age_seconds(iso)
    return missing if age is None else age > seconds
