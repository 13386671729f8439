"""The runs as the terminal shows them: a rich table of runs and the plain-text detail of one."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from shared.clock import age_seconds
from shared.runs import Run
from shared.status.view import (
    batch_line,
    evaluation_notes,
    fmt_age,
    is_stuck,
    job_lines,
    metric_line,
    metric_rows,
    stage_summary,
    step_failure_line,
    summary_line,
    verdict,
    waiting_line,
)
from shared.tuning_config import EVAL_METRICS


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
        age = fmt_age(age_seconds(run.created_at) or 0.0)
        # Text, not markup: "[sim]" and brackets in error messages must print as they are.
        cells = (run.run_id, status, age, stage_summary(run), _shorten(summary_line(run), 140))
        table.add_row(*(Text(c) for c in cells))
    return table


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
        lines.extend(job_lines(run))
    if run.error:
        lines.append(f"error     [{run.error.stage}/{run.error.code}] {run.error.message}")
    retrying = step_failure_line(run)
    if retrying is not None and run.step_failure is not None:
        lines.append(f"delivery  {retrying} (last failure at {run.step_failure.at})")
    if is_stuck(run) and run.stuck is not None:
        lines.append(f"STUCK     {run.stuck.message}")
    waiting = waiting_line(run)
    if waiting is not None:
        lines.append(f"waiting   {waiting}")
    if run.retry_of:
        lines.append(f"retry of  {run.retry_of}")
    if run.retried_by:
        lines.append(f"retried   as {run.retried_by}")
    if run.retune_of:
        lines.append(f"retune of {run.retune_of} (same data, another base model)")
    if run.retuned_by:
        lines.append(f"retuned   as {run.retuned_by}")
    vs = run.validation.summary
    if vs.get("examples") is not None and "billable_tokens" in vs:
        cost = vs.get("cost_usd")
        span, costs = vs.get("billable_tokens_range"), vs.get("cost_usd_range")
        billable = (
            f"billable ~{span[0]:,} to ~{span[1]:,} tokens (epochs "
            f"{vs['epochs_range'][0]} to {vs['epochs_range'][1]}: left to Vertex AI)"
            + (f", ~${costs[0]:,.2f} to ~${costs[1]:,.2f} (estimate)" if costs else "")
            if span and vs.get("epochs_range")
            else f"billable ~{vs['billable_tokens']:,} tokens"
            + (f", ~${cost:,.2f} (estimate)" if cost is not None else "")
        )
        real = run.job.stats.billable_tokens if run.job.stats is not None else None
        if real:
            billable += f"; the job's real billable tokens: {real:,}"
        lines.append(
            f"dataset   {vs['examples']} examples, ~{vs.get('estimated_tokens', 0):,} tokens; "
            + billable
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
        lines.append(f"  verdict: {verdict(run)} - {ev.reason}")
        lines.extend(f"  {metric_line(row)}" for row in metric_rows(ev))
        lines.extend(f"  {note}" for note in evaluation_notes(ev))
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
    if batch_line(ev):
        lines.append(str(batch_line(ev)))
    lines.append("history:")
    for h in run.history:
        lines.append(f"  {h.at}  {h.status:10}  {h.note}")
    return "\n".join(lines)
