"""Times from every source are written one way, so they sort together as text."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from google.api_core.datetime_helpers import DatetimeWithNanoseconds

from shared.clock import parse_time, to_iso, utcnow


def test_every_kind_of_datetime_is_written_as_the_run_record_writes_times() -> None:
    plus8 = timezone(timedelta(hours=8))
    cases = {
        # what proto-plus returns for a Timestamp field (tuning job create/start/end times)
        DatetimeWithNanoseconds(
            2026, 12, 3, 8, 0, 1, 123456, tzinfo=UTC
        ): "2026-12-03T08:00:01.123Z",
        datetime(2026, 12, 3, 16, 0, 1, 5000, tzinfo=plus8): "2026-12-03T08:00:01.005Z",
        datetime(2026, 12, 3, 8, 0, 1): "2026-12-03T08:00:01.000Z",  # naive means UTC
    }
    for value, want in cases.items():
        assert to_iso(value) == want
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)
        assert abs(parse_time(want) - aware) < timedelta(milliseconds=1)
    now = utcnow()
    assert len(now) == len("2026-12-03T08:00:01.123Z") and now.endswith("Z")
    assert sorted([to_iso(v) for v in cases] + [now])[-1] == now  # text order is time order
