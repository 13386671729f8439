"""The status web page as HTML: the runs table and one run's page, UTF-8, inline style, no
script and no external asset. Simulated runs say so."""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from shared.bounds import MAX_UNEXPECTED_FAILURES
from shared.charts import CURVE_COLORS, line_chart
from shared.clock import age_seconds
from shared.runs import Run
from shared.status.view import (
    batch_line,
    evaluation_notes,
    fmt_age,
    job_lines,
    metric_rows,
    stage_seconds,
    stage_summary,
    step_failure_line,
    summary_line,
    verdict,
    waiting_line,
)
from shared.tuning_config import EVAL_METRICS

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


#: Seconds between reloads while something is still moving (a finished page stays still).
REFRESH_SECONDS = 5


def escape(value: object) -> str:
    """HTML-escaped text; `None` shows as nothing."""
    return html.escape("" if value is None else str(value))


def _a(href: str | None, text: str) -> str:
    return f'<a href="{escape(href)}">{escape(text)}</a>' if href else escape(text)


def document(title: str, body: str, *, refresh: bool = False) -> str:
    """A whole page: UTF-8 (Chinese renders), inline style, no script, no external asset."""
    meta = f'<meta http-equiv="refresh" content="{REFRESH_SECONDS}">' if refresh else ""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>{meta}
<style>body{{font-family:system-ui,"Noto Sans CJK SC","Microsoft YaHei",sans-serif;margin:2em}}
table{{border-collapse:collapse;margin:.5em 0}}td,th{{border:1px solid #ccc;padding:4px 8px;
text-align:left;vertical-align:top}}.s-rejected,.s-failed,.s-cancelled{{background:#fde8e8}}
.s-succeeded{{background:#e8f8ec}}.why{{color:#a00}}
.verdict-pass{{background:#e8f8ec;padding:.3em}}.verdict-fail{{background:#fde8e8;padding:.3em}}
.verdict-grey{{background:#eee;color:#444;padding:.3em}}</style></head>
<body>{body}</body></html>
"""


def banner_html(banners: Sequence[str]) -> str:
    """Deployment-wide warnings above the runs (a base model retiring, the catalog changed)."""
    if not banners:
        return ""
    items = "".join(f"<li>{escape(b)}</li>" for b in banners)
    return f"<ul id='banners' class='why'>{items}</ul>\n"


def render_html(
    runs: Sequence[Run], *, refresh_seconds: int | None = None, banners: Sequence[str] = ()
) -> str:
    """The runs table: status, age, time per stage, why it stopped (error or failed gate);
    each run links to its page. Reloads itself only while a run is still moving. `banners`:
    warnings about the deployment, shown first."""
    rows = []
    for run in runs:
        rows.append(
            "<tr class='s-{cls}'><td>{rid}</td><td>{st}</td><td>{age}</td>"
            "<td>{stages}</td><td>{why}</td></tr>".format(
                cls=escape(str(run.status).lower()),
                rid=f'<a href="?run_id={escape(run.run_id)}&amp;format=html">'
                f"{escape(run.run_id)}</a>",
                st=escape(run.status) + (" <em>(simulated)</em>" if run.simulated else ""),
                age=fmt_age(age_seconds(run.created_at) or 0.0),
                stages=escape(stage_summary(run)),
                why=escape(summary_line(run)),
            )
        )
    body = (
        "\n".join(rows) or "<tr><td colspan=5>No runs yet: drop a dataset into incoming/.</td></tr>"
    )
    active = any(not r.is_terminal for r in runs)
    return document(
        "Gemini tuning runs",
        "<h1>Gemini tuning runs</h1>\n"
        + banner_html(banners)
        + "<table id='runs'><tr><th>run</th><th>status</th>"
        "<th>age</th><th>time per stage</th><th>why it stopped / where it is</th></tr>\n"
        f"{body}\n</table><p>Same data as JSON: "
        '<a href="?format=json">?format=json</a>'
        + (" · this page reloads while runs are active" if active else "")
        + "</p>",
        refresh=active if refresh_seconds is None else refresh_seconds > 0,
    )


def _curves_svg(run: Run) -> str:
    """Training and validation loss as inline SVG (no script, no external asset), with the
    checkpoint the evaluation chose marked at its step."""
    chosen = run.evaluation.chosen_checkpoint
    step = next((c.step for c in run.job.checkpoints if c.checkpoint_id == chosen), None)
    return line_chart(
        run.job.curves,
        CURVE_COLORS,
        element_id="curves",
        y_label="loss (Vertex AI total_loss)",
        marker=None if step is None else (float(step), f"chosen: checkpoint {chosen}"),
    )


def _checkpoint_table(rows: Sequence[Mapping[str, Any]], chosen: str | None) -> str:
    if not rows:
        return ""
    metric = next((k for k in rows[0] if k in EVAL_METRICS), "score")

    def row(r: Mapping[str, Any]) -> str:
        mine = r["checkpoint_id"] == chosen
        return (
            f"<tr{' class=chosen' if mine else ''}><td>{escape(r['checkpoint_id'])}</td>"
            f"<td>{escape(r.get('epoch'))}</td><td>{escape(r.get(metric))}</td>"
            f"<td>{'evaluated, served' if mine else ''}</td></tr>"
        )

    body = "".join(row(r) for r in rows)
    return (
        f"<table id='checkpoints'><tr><th>checkpoint</th><th>epoch</th><th>{escape(metric)} "
        f"(screening)</th><th></th></tr>{body}</table>"
    )


def render_run_html(run: Run, *, link: Link = public_link) -> str:
    """One run: why it stopped, timeline, validation (summary, findings with line numbers,
    report), the tuning job (console link), the evaluation (verdict, metrics, report)."""
    parts = [
        f"<h1>Run <code>{escape(run.run_id)}</code></h1>",
        f"<p>Status <b id='status'>{escape(run.status)}</b>"
        + (" <em>(simulated backend)</em>" if run.simulated else "")
        + f" · dataset {_a(link(run.dataset.uri), run.dataset.uri)}</p>",
    ]
    if run.error is not None:
        parts.append(
            f"<p class='why' id='why'>Stopped in {escape(run.error.stage)} "
            f"({escape(run.error.code)}): {escape(run.error.message)}</p>"
        )
    else:
        parts.append(f"<p id='why'>{escape(summary_line(run))}</p>")
    retrying, waiting = step_failure_line(run), waiting_line(run)
    if retrying is not None and run.step_failure is not None:
        sf = run.step_failure
        parts.append(
            "<table id='step-failure' class='why'><tr><th>step</th><th>attempts failed</th>"
            f"<th>last error</th><th>at</th></tr><tr><td>{escape(sf.stage)}</td>"
            f"<td>{sf.count} of {MAX_UNEXPECTED_FAILURES}</td><td>{escape(sf.type)}: "
            f"{escape(sf.message)}</td><td>{escape(sf.at)}</td></tr></table>"
        )
    if waiting is not None:
        parts.append(f"<p id='waiting'>{escape(waiting)}</p>")
    for label, other in (("A retry of", run.retry_of), ("Retried as", run.retried_by)):
        if other:
            parts.append(
                f"<p class='retry'>{label} {_a(f'?run_id={other}&format=html', other)}</p>"
            )
    parts += [
        _timeline_html(run),
        _validation_html(run, link),
        _job_html(run, link),
        _evaluation_html(run, link),
    ]
    said_batch = batch_line(run.evaluation)
    if said_batch:
        parts.append(f"<h2>Batch inference</h2><p id='batch'>{escape(said_batch)}</p>")
    parts.append(
        f'<p><a href="?">all runs</a> · <a href="?run_id={escape(run.run_id)}&amp;format=json">'
        "this run as JSON</a></p>"
    )
    return document(f"Run {run.run_id}", "\n".join(parts), refresh=not run.is_terminal)


def _timeline_html(run: Run) -> str:
    """The history table and the time spent per stage."""
    out: list[str] = []
    stages = stage_seconds(run)
    timeline = "".join(
        f"<tr><td>{escape(h.at)}</td><td>{escape(h.status)}</td><td>{escape(h.note)}</td></tr>"
        for h in run.history
    )
    out.append(
        "<h2>Timeline</h2><table id='timeline'><tr><th>at</th><th>status</th><th>note</th></tr>"
        f"{timeline}</table><p>time per stage: "
        + escape(", ".join(f"{k} {fmt_age(v)}" for k, v in stages.items()) or "-")
        + "</p>"
    )
    return "".join(out)


def _validation_facts(vs: Mapping[str, Any]) -> str:
    """Examples and tokens, and the billable tokens and cost: a range when the epochs are left
    to Vertex AI (`epochs_range`), one figure when they are set."""
    facts = [
        f"{k.replace('_', ' ')} {vs[k]:,}"
        for k in ("examples", "estimated_tokens")
        if isinstance(vs.get(k), int)
    ]
    tokens, cost, epochs = (
        vs.get("billable_tokens_range"),
        vs.get("cost_usd_range"),
        vs.get("epochs_range"),
    )
    if tokens and epochs:
        facts.append(
            f"billable tokens {tokens[0]:,}-{tokens[1]:,} "
            f"(epochs left to Vertex AI: {epochs[0]}-{epochs[1]} assumed)"
        )
        if cost:
            facts.append(f"cost ${cost[0]:,.2f}-${cost[1]:,.2f} (estimate)")
    else:
        if isinstance(vs.get("billable_tokens"), int):
            facts.append(f"billable tokens {vs['billable_tokens']:,}")
        if vs.get("cost_usd") is not None:
            facts.append(f"cost ${vs['cost_usd']:,.2f} (estimate)")
    return ", ".join(facts)


def _validation_html(run: Run, link: Link) -> str:
    """The validation verdict, its figures and its findings with file and line."""
    out: list[str] = []
    v = run.validation
    if v.valid is not None or v.findings:
        facts = _validation_facts(v.summary)
        rows = "".join(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>".format(
                escape(f.get("code")),
                escape(f.get("file")),
                escape(f.get("line") if f.get("line") is not None else "whole file"),
                escape(f.get("path")),
                escape(f.get("message")),
            )
            for f in v.findings
        )
        out.append(
            "<h2>Validation</h2><p>"
            + {True: "valid", False: "invalid", None: "-"}[v.valid]
            + (f" · {escape(facts)}" if facts else "")
            + (f" · {_a(link(v.report_uri), 'validation report')}" if v.report_uri else "")
            + "</p>"
            + (
                "<table id='findings'><tr><th>code</th><th>file</th><th>line</th><th>path</th>"
                f"<th>message</th></tr>{rows}</table>"
                if rows
                else ""
            )
        )
    return "".join(out)


def _job_html(run: Run, link: Link) -> str:
    """The tuning job: state, console link, tuned model, what the job reported, its curves."""
    out: list[str] = []
    j = run.job
    if j.name:
        console = public_link(j.console_url) or link(j.console_url or "")
        out.append(
            "<h2>Tuning job</h2><p>"
            + escape(j.name)
            + f" · {escape(j.state)}"
            + (f" · {_a(console, 'Vertex AI console')}" if console else "")
            + (f" · tuned model {escape(j.tuned_model_name)}" if j.tuned_model_name else "")
            + (f" · endpoint {escape(j.tuned_model_endpoint)}" if j.tuned_model_endpoint else "")
            + (f"<br>{escape(j.error_message)}" if j.error_message else "")
            + "</p>"
            + "".join(f"<p class='job'>{escape(line)}</p>" for line in job_lines(run))
            + _curves_svg(run)
        )
    return "".join(out)


def _evaluation_html(run: Run, link: Link) -> str:
    """The evaluation verdict, notes, metrics with intervals, checkpoints and reports."""
    out: list[str] = []
    ev = run.evaluation
    if ev.metrics or ev.reason:
        rows = "".join(
            "<tr>"
            + "".join(
                f"<td>{escape(r[k])}</td>"
                for k in ("metric", "tuned", "base", "delta", "delta_ci", "gate", "unleaked")
            )
            + "</tr>"
            for r in metric_rows(ev)
        )
        said = verdict(run) or "not evaluated"
        tone = {"PASSED": "pass", "FAILED": "fail"}.get(said, "grey")
        out.append(
            "<h2>Evaluation"
            + (" (simulated models)" if ev.simulated else "")
            + f"</h2><p id='verdict' class='verdict-{tone}'><b>{escape(said)}</b>: "
            f"{escape(ev.reason)}</p>"
            + "".join(f"<p class='note'>{escape(n)}</p>" for n in evaluation_notes(ev))
            + (
                "<table id='metrics'><tr><th>metric</th><th>tuned</th><th>base</th>"
                "<th>delta</th><th>delta 95% CI</th><th>gate</th><th>unleaked tuned</th></tr>"
                f"{rows}</table>"
                if rows
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
    return "".join(out)
