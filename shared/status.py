"""What people see about runs: the JSON view, the terminal table and the status web page.

One view (`run_view`) feeds all three, so the CLI, the HTTP status function and anything reading
the JSON agree. Simulated runs say so in every rendering.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from shared.clock import age_seconds, parse_time
from shared.runs import Run
from shared.tuning_config import EVAL_METRICS


def stage_seconds(run: Run, now: datetime | None = None) -> dict[str, float]:
    """Seconds spent in each status, from the history (the current one up to now)."""
    now = now or datetime.now(UTC)
    out: dict[str, float] = {}
    hist = run.history
    for i, h in enumerate(hist):
        end = (
            parse_time(hist[i + 1].at) if i + 1 < len(hist) else (None if run.is_terminal else now)
        )
        if end is None:
            continue
        out[str(h.status)] = out.get(str(h.status), 0.0) + (end - parse_time(h.at)).total_seconds()
    return {k: round(v, 3) for k, v in out.items()}


def run_view(run: Run, now: datetime | None = None) -> dict[str, Any]:
    """The run document plus derived fields (`age_seconds`, `stage_seconds`)."""
    now = now or datetime.now(UTC)
    doc = run.to_dict()
    doc["age_seconds"] = round(age_seconds(run.created_at, now) or 0.0, 3)
    doc["stage_seconds"] = stage_seconds(run, now)
    return doc


def _fmt_age(seconds: float) -> str:
    s = int(seconds)
    if s < 120:
        return f"{s}s"
    if s < 7200:
        return f"{s // 60}m"
    if s < 172800:
        return f"{s // 3600}h"
    return f"{s // 86400}d"


def summary_line(run: Run) -> str:
    """One line about where the run is: error, evaluation verdict or job state."""
    if run.error is not None:
        return f"{run.error.stage}: {run.error.message}"
    ev = run.evaluation
    if ev.passed is not None or ev.metrics:
        metrics = ", ".join(
            f"{m} {v.get('tuned', 0) or 0:.2f} (base {v.get('base', 0) or 0:.2f})"
            for m, v in sorted(ev.metrics.items(), key=lambda kv: _metric_key(kv[0]))
        )
        verdict = {True: "PASSED", False: "FAILED", None: "-"}[ev.passed]
        if ev.passed is False and ev.reason:  # name the gate that failed, not only the metrics
            return f"gates FAILED ({ev.reason.removeprefix('failed: ')}): {metrics}"
        return f"gates {verdict}: {metrics}"
    if ev.reason and ev.passed is None:
        return f"evaluation skipped: {ev.reason}"
    if run.job.state:
        return f"job {run.job.state}"
    if run.dry_run and str(run.status) == "VALIDATED":
        return "dry run: validated only"
    return run.history[-1].note if run.history else ""


def _metric_key(name: str) -> int:
    return EVAL_METRICS.index(name) if name in EVAL_METRICS else len(EVAL_METRICS)


def render_table(runs: Sequence[Run]) -> Any:
    """A rich Table for the terminal (rich is imported here only: functions never need it)."""
    from rich.table import Table
    from rich.text import Text

    table = Table(title="Tuning runs", expand=False, caption="detail of one run: status RUN_ID")
    table.add_column("run", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("age", no_wrap=True, justify="right")
    table.add_column("time per stage")
    table.add_column("detail", overflow="fold", max_width=100)
    for run in runs:
        status = str(run.status) + (" [sim]" if run.simulated else "")
        age = _fmt_age(age_seconds(run.created_at) or 0.0)
        # Text, not markup: "[sim]" and brackets in error messages must print as they are.
        cells = (run.run_id, status, age, _stage_summary(run), _shorten(summary_line(run), 140))
        table.add_row(*(Text(c) for c in cells))
    return table


def _stage_summary(run: Run) -> str:
    """The stages a person waits on (>= 1 s), e.g. `TRAINING 4m, EVALUATING 12s`."""
    slow = [(k, v) for k, v in stage_seconds(run).items() if v >= 1.0]
    return ", ".join(f"{k} {_fmt_age(v)}" for k, v in slow) or "-"


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def render_run_detail(run: Run) -> str:
    """Plain-text detail of one run: history, findings, metrics, where the reports are."""
    lines = [
        f"run       {run.run_id}" + ("   (SIMULATED backend)" if run.simulated else ""),
        f"status    {run.status}",
        f"dataset   {run.dataset.uri}",
    ]
    if run.job.name:
        lines.append(f"job       {run.job.name} ({run.job.state})")
        if run.job.console_url:
            lines.append(f"console   {run.job.console_url}")
    if run.error:
        lines.append(f"error     [{run.error.stage}/{run.error.code}] {run.error.message}")
    vs = run.validation.summary
    if vs.get("examples") is not None and "billable_tokens" in vs:
        cost = vs.get("cost_usd")
        lines.append(
            f"dataset   {vs['examples']} examples, ~{vs.get('estimated_tokens', 0):,} tokens; "
            f"billable ~{vs['billable_tokens']:,} tokens"
            + (f", ~${cost:,.2f} (estimate)" if cost is not None else "")
        )
    if run.validation.report_uri:
        lines.append(f"report    {run.validation.report_uri}")
    if run.validation.findings:
        lines.append("findings:")
        for f in run.validation.findings:
            where = f"{f.get('file')}:{f.get('line')}" if f.get("line") else str(f.get("file"))
            lines.append(f"  {f.get('code')}  {where}  {f.get('path') or ''}  {f.get('message')}")
    ev = run.evaluation
    if ev.metrics:
        lines.append("evaluation" + (" (SIMULATED models)" if ev.simulated else "") + ":")
        for m, v in sorted(ev.metrics.items(), key=lambda kv: _metric_key(kv[0])):
            lines.append(
                f"  {m:12} tuned {v.get('tuned') or 0:.3f}   base {v.get('base') or 0:.3f}"
            )
        lines.append(f"  gates: {'PASSED' if ev.passed else 'FAILED'} - {ev.reason}")
        lines.append(f"  report {ev.report_uri}")
    lines.append("history:")
    for h in run.history:
        lines.append(f"  {h.at}  {h.status:10}  {h.note}")
    return "\n".join(lines)


def render_html(runs: Sequence[Run], *, refresh_seconds: int = 15) -> str:
    """The status page: a self-refreshing table, no scripts, every value escaped."""
    rows = []
    for run in runs:
        stages = _stage_summary(run)
        link = html.escape(run.job.console_url or "")
        job = f'<a href="{link}">job</a>' if link.startswith("https://") else ""
        rows.append(
            "<tr class='s-{cls}'><td><code>{rid}</code></td><td>{st}</td><td>{age}</td>"
            "<td>{stages}</td><td>{detail}</td><td>{job}</td></tr>".format(
                cls=html.escape(str(run.status).lower()),
                rid=html.escape(run.run_id),
                st=html.escape(str(run.status))
                + (" <em>(simulated)</em>" if run.simulated else ""),
                age=_fmt_age(age_seconds(run.created_at) or 0.0),
                stages=html.escape(stages),
                detail=html.escape(summary_line(run)),
                job=job,
            )
        )
    body = (
        "\n".join(rows) or "<tr><td colspan=6>No runs yet: drop a dataset into incoming/.</td></tr>"
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Gemini tuning runs</title>
<meta http-equiv="refresh" content="{refresh_seconds}">
<style>body{{font-family:system-ui,sans-serif;margin:2em}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}}
.s-rejected,.s-failed{{background:#fde8e8}}.s-succeeded{{background:#e8f8ec}}</style></head>
<body><h1>Gemini tuning runs</h1>
<table><tr><th>run</th><th>status</th><th>age</th><th>time per stage</th><th>detail</th>
<th></th></tr>
{body}
</table><p>JSON: add <code>?format=json</code>; one run: <code>?run_id=ID</code>.</p></body></html>
"""
