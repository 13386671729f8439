"""The status views: one run view for JSON, the web page escapes everything it shows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from shared.runs import DatasetInfo, HistoryEntry, Run, RunError, RunStatus
from shared.status import render_html, render_run_detail, run_view, stage_seconds

S = RunStatus


def _run() -> Run:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)

    def at(s: int) -> str:
        return (t0 + timedelta(seconds=s)).isoformat().replace("+00:00", "Z")

    run = Run.new(
        "evil-1", DatasetInfo("b", "incoming/x/train.jsonl", "1", "gs://b/x"), simulated=True
    )
    run.created_at = at(0)
    run.history = [
        HistoryEntry(S.RECEIVED, at(0)),
        HistoryEntry(S.VALIDATING, at(2)),
        HistoryEntry(S.REJECTED, at(5), "dataset rejected"),
    ]
    run.status = S.REJECTED
    run.error = RunError("validation", "invalid_json", '<script>alert("x")</script> line 3')
    return run


def test_stage_seconds_come_from_the_history() -> None:
    assert stage_seconds(_run()) == {"RECEIVED": 2.0, "VALIDATING": 3.0}


def test_run_view_adds_ages_to_the_document() -> None:
    view = run_view(_run(), now=datetime(2026, 1, 1, 0, 1, tzinfo=UTC))
    assert view["age_seconds"] == 60.0
    assert view["status"] == "REJECTED" and view["error"]["code"] == "invalid_json"


def test_the_page_escapes_error_text_and_says_simulated() -> None:
    page = render_html([_run()])
    assert "<script>" not in page
    assert "&lt;script&gt;" in page
    assert "(simulated)" in page


def test_the_empty_page_says_what_to_do() -> None:
    assert "drop a dataset into incoming/" in render_html([])


def test_detail_lists_the_error_and_history() -> None:
    text = render_run_detail(_run())
    assert "SIMULATED" in text and "[validation/invalid_json]" in text
    assert text.count("\n  2026-01-01T") == 3


def test_a_stuck_run_shows_on_the_table_and_its_page_and_retries_link_both_ways() -> None:
    from shared.runs import StuckWarning
    from shared.status import render_run_html

    run = Run.new("slow-1", DatasetInfo("b", "incoming/s/train.jsonl", "1", "gs://b/s"))
    run.status = S.VALIDATED
    run.history.append(HistoryEntry(S.VALIDATED, "2026-01-01T00:00:00.000Z", "dataset valid"))
    assert "STUCK" not in render_html([run])
    run.stuck = StuckWarning(S.VALIDATED, "2026-01-01T00:00:00.000Z", "t", "VALIDATED for 5 min")
    run.retry_of = "slow-0"
    assert "STUCK: VALIDATED for 5 min" in render_html([run])
    page = render_run_html(run)
    assert "STUCK: VALIDATED for 5 min" in page and "?run_id=slow-0&amp;format=html" in page
    assert "retry of  slow-0" in render_run_detail(run)
    run.status = S.QUEUED  # it moved on: the warning no longer applies
    assert "STUCK" not in render_html([run])


def test_the_run_page_shows_the_cost_range_when_epochs_are_left_to_vertex() -> None:
    from shared.status.html_page import render_run_html

    run = _run()
    run.validation.valid = True
    run.validation.summary = {
        "examples": 196,
        "billable_tokens": 596340,
        "cost_usd": 5.9634,
        "epochs_range": [1, 10],
        "billable_tokens_range": [59634, 596340],
        "cost_usd_range": [0.5963, 5.9634],
    }
    page = render_run_html(run)
    assert "billable tokens 59,634-596,340 (epochs left to Vertex AI: 1-10 assumed)" in page
    assert "cost $0.60-$5.96 (estimate)" in page
    run.validation.summary = {"examples": 196, "billable_tokens": 178902, "cost_usd": 1.789}
    page = render_run_html(run)
    assert "billable tokens 178,902" in page and "cost $1.79 (estimate)" in page
