"""What people see about runs: the JSON view, the terminal table and the status web page.

One view (`run_view`) feeds all three, so the CLI, the HTTP status function and anything reading
the JSON agree. Simulated runs say so in every rendering.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from shared.charts import CURVE_COLORS, line_chart
from shared.clock import age_seconds, parse_time
from shared.ports import RunStore
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


def is_stuck(run: Run) -> bool:
    """The poller warned that the run sits in its current status too long."""
    return run.stuck is not None and run.stuck.status == run.status and not run.is_terminal


def summary_line(run: Run) -> str:
    """One line about where the run is: error, evaluation verdict or job state."""
    if run.error is not None:
        return f"{run.error.stage}: {run.error.message}"
    if is_stuck(run) and run.stuck is not None:
        return f"STUCK: {run.stuck.message}"
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
        lines.extend(_job_lines(run))
    if run.error:
        lines.append(f"error     [{run.error.stage}/{run.error.code}] {run.error.message}")
    if is_stuck(run) and run.stuck is not None:
        lines.append(f"STUCK     {run.stuck.message}")
    if run.retry_of:
        lines.append(f"retry of  {run.retry_of}")
    if run.retried_by:
        lines.append(f"retried   as {run.retried_by}")
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
        if ev.checkpoints:
            metric = next((k for k in ev.checkpoints[0] if k in EVAL_METRICS), "score")
            scores = ", ".join(f"{c['checkpoint_id']}: {c.get(metric)}" for c in ev.checkpoints)
            lines.append(
                f"  checkpoints ({metric} on a screening sample): {scores}; "
                f"evaluated {ev.chosen_checkpoint}"
                + (f" ({ev.checkpoint_note})" if ev.checkpoint_note else "")
            )
        lines.append(f"  report {ev.report_uri}")
        if ev.report_html_uri:
            lines.append(f"  page   {ev.report_html_uri}")
    elif ev.progress and run.status == "EVALUATING":
        lines.append(f"evaluating: {ev.progress['done']} / {ev.progress['total']} examples")
    lines.append("history:")
    for h in run.history:
        lines.append(f"  {h.at}  {h.status:10}  {h.note}")
    return "\n".join(lines)


def _job_lines(run: Run) -> list[str]:
    """What the job reports: effective hyperparameters, its data statistics beside the
    validator's estimate, checkpoints, the training curve's ends, warnings."""
    j, out = run.job, []
    hp = j.hyperparameters
    if hp.epoch_count or hp.adapter_size or hp.learning_rate_multiplier:
        asked = run.config
        chosen = (
            "set in tuning.yaml"
            if asked and (asked.epoch or asked.adapter_size or asked.learning_rate_multiplier)
            else "Vertex AI's recommendation"
        )
        out.append(
            f"training  {hp.epoch_count} epochs, adapter size {hp.adapter_size}, learning-rate "
            f"multiplier {hp.learning_rate_multiplier} ({chosen})"
        )
    st = j.stats
    if st is not None and st.billable_tokens:
        est = (
            f" (validator's estimate {st.estimated_billable_tokens:,}, {st.estimate_error:+.1%})"
            if st.estimated_billable_tokens and st.estimate_error is not None
            else ""
        )
        out.append(
            f"job data  {st.examples} examples, {st.billable_tokens:,} billable tokens{est}, "
            f"{st.tuning_steps} steps"
        )
    if j.checkpoints:
        ids = ", ".join(f"{c.checkpoint_id} (epoch {c.epoch})" for c in j.checkpoints)
        out.append(f"checkpts  {ids}")
    for name in ("train_total_loss", "eval_total_loss"):
        pts = j.curves.get(name)
        if pts:
            lo = min(pts, key=lambda p: p[1])
            out.append(
                f"{name.split('_')[0]:9} loss {pts[0][1]:.3f} -> {pts[-1][1]:.3f} "
                f"(lowest {lo[1]:.3f} at step {int(lo[0])})"
            )
    out.extend(f"warning   {w}" for w in j.warnings)
    return out


Link = Callable[[str], "str | None"]


def public_link(uri: str | None) -> str | None:
    """A link a browser can open for a stored URI: https as is, gs:// through the Cloud
    console; anything else (file://, blocked from an http page) has none."""
    if not uri:
        return None
    if uri.startswith("https://"):
        return uri
    if uri.startswith("gs://"):
        return "https://console.cloud.google.com/storage/browser/_details/" + uri[len("gs://") :]
    return None


@dataclass(frozen=True)
class Page:
    """One HTTP answer of the status page, for any host (Cloud Function or local server)."""

    status: int
    content_type: str
    body: str


def respond(
    store: RunStore, params: Mapping[str, str], *, accept: str = "", link: Link = public_link
) -> Page:
    """The status page: `?run_id=ID` one run, else the runs table; `?format=json|html` or the
    Accept header chooses JSON or HTML (without either: the table as HTML, one run as JSON,
    as before)."""
    fmt = params.get("format", "")
    wants_html = fmt == "html" or (fmt != "json" and "text/html" in accept)
    wants_json = not wants_html and (fmt == "json" or "application/json" in accept)
    run_id = params.get("run_id")
    if run_id:
        run = store.get(run_id)
        if run is None:
            if wants_html:
                return Page(404, HTML, _document("No such run", f"<p>No run {_e(run_id)}.</p>"))
            return Page(404, JSON, json.dumps({"error": f"no run {run_id!r}"}))
        if wants_html:
            return Page(200, HTML, render_run_html(run, link=link))
        return Page(200, JSON, json.dumps(run_view(run), ensure_ascii=False))
    try:
        limit = max(1, min(int(params.get("limit", "50")), 500))
    except ValueError:
        limit = 50
    runs = store.list_recent(limit=limit)
    if wants_json:
        return Page(200, JSON, json.dumps([run_view(r) for r in runs], ensure_ascii=False))
    return Page(200, HTML, render_html(runs))


HTML = "text/html; charset=utf-8"
JSON = "application/json"
#: Seconds between reloads while something is still moving (a finished page stays still).
REFRESH_SECONDS = 5


def _e(value: object) -> str:
    return html.escape("" if value is None else str(value))


def _a(href: str | None, text: str) -> str:
    return f'<a href="{_e(href)}">{_e(text)}</a>' if href else _e(text)


def _document(title: str, body: str, *, refresh: bool = False) -> str:
    """A whole page: UTF-8 (Chinese renders), inline style, no script, no external asset."""
    meta = f'<meta http-equiv="refresh" content="{REFRESH_SECONDS}">' if refresh else ""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{_e(title)}</title>{meta}
<style>body{{font-family:system-ui,"Noto Sans CJK SC","Microsoft YaHei",sans-serif;margin:2em}}
table{{border-collapse:collapse;margin:.5em 0}}td,th{{border:1px solid #ccc;padding:4px 8px;
text-align:left;vertical-align:top}}.s-rejected,.s-failed,.s-cancelled{{background:#fde8e8}}
.s-succeeded{{background:#e8f8ec}}.why{{color:#a00}}</style></head>
<body>{body}</body></html>
"""


def render_html(runs: Sequence[Run], *, refresh_seconds: int | None = None) -> str:
    """The runs table: status, age, time per stage, why it stopped (error or failed gate);
    each run links to its page. Reloads itself only while a run is still moving."""
    rows = []
    for run in runs:
        rows.append(
            "<tr class='s-{cls}'><td>{rid}</td><td>{st}</td><td>{age}</td>"
            "<td>{stages}</td><td>{why}</td></tr>".format(
                cls=_e(str(run.status).lower()),
                rid=f'<a href="?run_id={_e(run.run_id)}&amp;format=html">{_e(run.run_id)}</a>',
                st=_e(run.status) + (" <em>(simulated)</em>" if run.simulated else ""),
                age=_fmt_age(age_seconds(run.created_at) or 0.0),
                stages=_e(_stage_summary(run)),
                why=_e(summary_line(run)),
            )
        )
    body = (
        "\n".join(rows) or "<tr><td colspan=5>No runs yet: drop a dataset into incoming/.</td></tr>"
    )
    active = any(not r.is_terminal for r in runs)
    return _document(
        "Gemini tuning runs",
        "<h1>Gemini tuning runs</h1>\n<table id='runs'><tr><th>run</th><th>status</th>"
        "<th>age</th><th>time per stage</th><th>why it stopped / where it is</th></tr>\n"
        f"{body}\n</table><p>Same data as JSON: "
        '<a href="?format=json">?format=json</a>'
        + (" · this page reloads while runs are active" if active else "")
        + "</p>",
        refresh=active if refresh_seconds is None else refresh_seconds > 0,
    )


def _curves_svg(curves: Mapping[str, list[list[float]]]) -> str:
    """Training and validation loss as inline SVG (no script, no external asset)."""
    return line_chart(curves, CURVE_COLORS, element_id="curves", y_label="loss")


def _checkpoint_table(rows: Sequence[Mapping[str, Any]], chosen: str | None) -> str:
    if not rows:
        return ""
    metric = next((k for k in rows[0] if k in EVAL_METRICS), "score")

    def row(r: Mapping[str, Any]) -> str:
        mine = r["checkpoint_id"] == chosen
        return (
            f"<tr{' class=chosen' if mine else ''}><td>{_e(r['checkpoint_id'])}</td>"
            f"<td>{_e(r.get('epoch'))}</td><td>{_e(r.get(metric))}</td>"
            f"<td>{'evaluated, served' if mine else ''}</td></tr>"
        )

    body = "".join(row(r) for r in rows)
    return (
        f"<table id='checkpoints'><tr><th>checkpoint</th><th>epoch</th><th>{_e(metric)} "
        f"(screening)</th><th></th></tr>{body}</table>"
    )


def render_run_html(run: Run, *, link: Link = public_link) -> str:
    """One run: why it stopped, timeline, validation (summary, findings with line numbers,
    report), the tuning job (console link), the evaluation (verdict, metrics, report)."""
    parts = [
        f"<h1>Run <code>{_e(run.run_id)}</code></h1>",
        f"<p>Status <b id='status'>{_e(run.status)}</b>"
        + (" <em>(simulated backend)</em>" if run.simulated else "")
        + f" · dataset {_a(link(run.dataset.uri), run.dataset.uri)}</p>",
    ]
    if run.error is not None:
        parts.append(
            f"<p class='why' id='why'>Stopped in {_e(run.error.stage)} "
            f"({_e(run.error.code)}): {_e(run.error.message)}</p>"
        )
    else:
        parts.append(f"<p id='why'>{_e(summary_line(run))}</p>")
    for label, other in (("A retry of", run.retry_of), ("Retried as", run.retried_by)):
        if other:
            parts.append(
                f"<p class='retry'>{label} {_a(f'?run_id={other}&format=html', other)}</p>"
            )
    stages = stage_seconds(run)
    timeline = "".join(
        f"<tr><td>{_e(h.at)}</td><td>{_e(h.status)}</td><td>{_e(h.note)}</td></tr>"
        for h in run.history
    )
    parts.append(
        "<h2>Timeline</h2><table id='timeline'><tr><th>at</th><th>status</th><th>note</th></tr>"
        f"{timeline}</table><p>time per stage: "
        + _e(", ".join(f"{k} {_fmt_age(v)}" for k, v in stages.items()) or "-")
        + "</p>"
    )
    v = run.validation
    if v.valid is not None or v.findings:
        vs = v.summary
        facts = ", ".join(
            f"{k.replace('_', ' ')} {vs[k]:,}" if isinstance(vs[k], int) else f"{k} {vs[k]}"
            for k in ("examples", "estimated_tokens", "billable_tokens", "cost_usd")
            if vs.get(k) is not None
        )
        rows = "".join(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>".format(
                _e(f.get("code")),
                _e(f.get("file")),
                _e(f.get("line") if f.get("line") is not None else "whole file"),
                _e(f.get("path")),
                _e(f.get("message")),
            )
            for f in v.findings
        )
        parts.append(
            "<h2>Validation</h2><p>"
            + {True: "valid", False: "invalid", None: "-"}[v.valid]
            + (f" · {_e(facts)}" if facts else "")
            + (f" · {_a(link(v.report_uri), 'validation report')}" if v.report_uri else "")
            + "</p>"
            + (
                "<table id='findings'><tr><th>code</th><th>file</th><th>line</th><th>path</th>"
                f"<th>message</th></tr>{rows}</table>"
                if rows
                else ""
            )
        )
    j = run.job
    if j.name:
        console = public_link(j.console_url) or link(j.console_url or "")
        parts.append(
            "<h2>Tuning job</h2><p>"
            + _e(j.name)
            + f" · {_e(j.state)}"
            + (f" · {_a(console, 'Vertex AI console')}" if console else "")
            + (f" · tuned model {_e(j.tuned_model_name)}" if j.tuned_model_name else "")
            + (f" · endpoint {_e(j.tuned_model_endpoint)}" if j.tuned_model_endpoint else "")
            + (f"<br>{_e(j.error_message)}" if j.error_message else "")
            + "</p>"
            + "".join(f"<p class='job'>{_e(line)}</p>" for line in _job_lines(run))
            + _curves_svg(j.curves)
        )
    ev = run.evaluation
    if ev.metrics or ev.reason:
        metric_rows = "".join(
            f"<tr><td>{_e(m)}</td><td>{(m_v.get('tuned') or 0):.3f}</td>"
            f"<td>{(m_v.get('base') or 0):.3f}</td></tr>"
            for m, m_v in sorted(ev.metrics.items(), key=lambda kv: _metric_key(kv[0]))
        )
        verdict = {True: "gates PASSED", False: "gates FAILED", None: "not gated"}[ev.passed]
        parts.append(
            "<h2>Evaluation"
            + (" (simulated models)" if ev.simulated else "")
            + f"</h2><p id='verdict'>{verdict}: {_e(ev.reason)}</p>"
            + (
                f"<table id='metrics'><tr><th>metric</th><th>tuned</th><th>base</th></tr>"
                f"{metric_rows}</table>"
                if metric_rows
                else ""
            )
            + _checkpoint_table(ev.checkpoints, ev.chosen_checkpoint)
            + (
                f"<p id='progress'>evaluating: {ev.progress.get('done')} / "
                f"{ev.progress.get('total')} examples</p>"
                if ev.progress and ev.passed is None and str(run.status) == "EVALUATING"
                else ""
            )
            + "<p>"
            + (_a(link(ev.report_html_uri), "report (page)") + " · " if ev.report_html_uri else "")
            + (_a(link(ev.report_uri), "evaluation report") if ev.report_uri else "")
            + (" · " + _a(link(ev.predictions_uri), "predictions") if ev.predictions_uri else "")
            + "</p>"
        )
    parts.append(
        f'<p><a href="?">all runs</a> · <a href="?run_id={_e(run.run_id)}&amp;format=json">'
        "this run as JSON</a></p>"
    )
    return _document(f"Run {run.run_id}", "\n".join(parts), refresh=not run.is_terminal)
