"""The facts people read about a run, for every rendering: the JSON view, stage times, the
one-line summary and the tuning job's lines.

The terminal table (`terminal`) and the web page (`html_page`) both read from here, so the CLI, the
HTTP status function and anything reading the JSON agree.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from shared.bounds import MAX_UNEXPECTED_FAILURES, VALIDATION_LEASE_SECONDS
from shared.clock import age_seconds, parse_time
from shared.runs import FAILED, NOT_GATED, EvaluationInfo, Run, RunStatus, verdict_of
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


def fmt_age(seconds: float) -> str:
    """A duration the way a person glances at it: `45s`, `12m`, `3h`, `2d`."""
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


def step_failure_line(run: Run) -> str | None:
    """The unexpected failure a working run's delivery is being retried after: which step,
    which attempt of how many, the last error. None when there is none, when the run has moved
    to another status since (it recovered), or when it ended (its error says why)."""
    sf = run.step_failure
    if sf is None or run.is_terminal or _before(sf.at, run.entered_status_at):
        return None
    return (
        f"retrying the {sf.stage} step: attempt {sf.count} of {MAX_UNEXPECTED_FAILURES} failed "
        f"with {sf.type}: {sf.message}. The message is delivered again; failure "
        f"{MAX_UNEXPECTED_FAILURES} ends the run FAILED"
    )


def _before(a: str, b: str) -> bool:
    try:
        return parse_time(a) < parse_time(b)
    except ValueError:
        return False


def waiting_line(run: Run, now: datetime | None = None) -> str | None:
    """Why a QUEUED run waits for a training slot (the concurrency limit, or Vertex AI's quota
    refusal with its message: the note it entered QUEUED with) and since when; for a VALIDATING
    run, until when its lease holds off a redelivery (the lease of a validator that died is
    only taken over then); else None."""
    if run.status == RunStatus.VALIDATING and run.validation.started_at:
        return _lease_line(run.validation.started_at)
    if run.status != RunStatus.QUEUED:
        return None
    since = run.entered_status_at
    why = next((h.note for h in reversed(run.history) if h.status == run.status and h.note), "")
    age = age_seconds(since, now)
    return (
        f"QUEUED since {since}" + (f" ({fmt_age(age)})" if age is not None else "")
        + f": {why or 'waiting for a tuning slot'}. The poller starts queued runs, oldest "
        "first, as slots free"
    )  # fmt: skip


def _lease_line(started: str) -> str | None:
    try:
        until = parse_time(started) + timedelta(seconds=VALIDATION_LEASE_SECONDS)
    except ValueError:
        return None
    shown = until.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return (
        f"validating since {started}; a redelivery waits for the validation lease until "
        f"{shown} (if the validator died, the next delivery takes over then)"
    )


def summary_line(run: Run) -> str:
    """One line about where the run is: error, a step being retried, evaluation verdict, why
    it waits or the job state."""
    if run.error is not None:
        return f"{run.error.stage}: {run.error.message}"
    retrying = step_failure_line(run)
    if retrying is not None:
        return retrying
    if is_stuck(run) and run.stuck is not None:
        return f"STUCK: {run.stuck.message}"
    waiting = waiting_line(run)
    if waiting is not None:
        return waiting
    ev = run.evaluation
    said = verdict(run)
    if said is not None:
        metrics = ", ".join(
            f"{m} {v.get('tuned', 0) or 0:.2f} (base {v.get('base', 0) or 0:.2f})"
            for m, v in sorted(ev.metrics.items(), key=lambda kv: metric_key(kv[0]))
        )
        leak = (ev.leakage or {}).get("share")
        leaked = f"; {leak:.0%} of the test set is in training" if leak else ""
        if said == FAILED and ev.reason:  # name the gate that failed, not only the metrics
            return f"gates FAILED ({ev.reason.removeprefix('failed: ')}): {metrics}{leaked}"
        return f"{verdict_words(said)}: {metrics}{leaked}"
    if ev.reason and ev.passed is None:
        return f"evaluation skipped: {ev.reason}"
    if run.job.state:
        return f"job {run.job.state}"
    if run.dry_run and str(run.status) == "VALIDATED":
        return "dry run: validated only"
    return run.history[-1].note if run.history else ""


def metric_key(name: str) -> int:
    """Sort key: metrics in `EVAL_METRICS` order, anything else after them."""
    return EVAL_METRICS.index(name) if name in EVAL_METRICS else len(EVAL_METRICS)


def stage_summary(run: Run) -> str:
    """The stages a person waits on (>= 1 s), e.g. `TRAINING 4m, EVALUATING 12s`."""
    slow = [(k, v) for k, v in stage_seconds(run).items() if v >= 1.0]
    return ", ".join(f"{k} {fmt_age(v)}" for k, v in slow) or "-"


def job_lines(run: Run) -> list[str]:
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


def verdict(run: Run) -> str | None:
    """PASSED / FAILED / NOT GATED (None: not evaluated). Runs recorded before the verdict was
    stored derive it from `passed` (None with metrics was "no gates": NOT GATED)."""
    ev = run.evaluation
    if ev.verdict:
        return ev.verdict
    if ev.passed is None and not ev.metrics:
        return None
    return verdict_of(ev.passed)


def verdict_words(said: str) -> str:
    """ "gates PASSED", "gates FAILED", or "NOT GATED" (no gate: nothing was passed)."""
    return said if said == NOT_GATED else f"gates {said}"


def _ci(pair: Any) -> str:
    if not isinstance(pair, list | tuple) or len(pair) != 2:
        return ""
    return f"[{pair[0]:+.3f}, {pair[1]:+.3f}]"


def metric_rows(ev: EvaluationInfo) -> list[dict[str, str]]:
    """Per metric, the strings every view shows: tuned, base, delta with its 95% interval,
    the gate's outcome and the score on the unleaked part."""
    out = []
    for m, v in sorted(ev.metrics.items(), key=lambda kv: metric_key(kv[0])):
        pm = ev.per_metric.get(m) or {}
        tuned, base = v.get("tuned") or 0.0, v.get("base") or 0.0
        leaked = (ev.leakage or {}).get("leaked")
        unleaked = (pm.get("unleaked") or ev.unleaked_metrics.get(m)) if leaked else None
        out.append(
            {
                "metric": m,
                "tuned": f"{tuned:.3f}",
                "base": f"{base:.3f}",
                "delta": f"{tuned - base:+.3f}",
                "delta_ci": _ci(pm.get("delta_ci")),
                "gate": pm.get("gate") or "-",
                "unleaked": f"{unleaked['tuned']:.3f}" if unleaked else "",
            }
        )
    for m, pm in sorted(ev.per_metric.items()):  # judge gates (win_rate, rubric_*)
        if m not in ev.metrics and pm.get("gate"):
            out.append(
                {"metric": m, "tuned": f"{pm.get('tuned') or 0:.3f}", "base": "", "delta": "",
                 "delta_ci": "", "gate": str(pm["gate"]), "unleaked": ""}
            )  # fmt: skip
    return out


def metric_line(row: dict[str, str], baseline: str = "base") -> str:
    """One `metric_rows` row as a terminal line."""
    return (
        f"{row['metric']:18} tuned {row['tuned']:>6}   {baseline} {row['base']:>6}   "
        f"delta {row['delta']:>6} {row['delta_ci']:18}  gate {row['gate']}"
        + (f"   unleaked tuned {row['unleaked']}" if row["unleaked"] else "")
    )


def batch_line(ev: EvaluationInfo) -> str | None:
    """A batch evaluation's jobs in one sentence (None: the models were asked online)."""
    b = ev.batch
    if not b:
        return None
    jobs = b.get("jobs") or {}
    each = ", ".join(
        f"{role} {j.get('state')}"
        + (
            f" ({j['succeeded']} answered, {j.get('failed') or 0} failed)"
            if j.get("succeeded") is not None
            else ""
        )
        for role, j in jobs.items()
    )
    simulated = any(j.get("simulated") for j in jobs.values())
    return (
        f"batch inference{' (simulated)' if simulated else ''}: {b.get('state')} - {each}; "
        f"{b.get('requests')} requests for {b.get('examples')} examples, at batch prices"
    )


def evaluation_notes(ev: EvaluationInfo) -> list[str]:
    """Leakage, judge, rubric and cost, one plain sentence each (what is there)."""
    notes: list[str] = []
    leak = ev.leakage
    if leak:
        notes.append(
            f"leakage: {leak.get('share', 0):.0%} of {leak.get('checked')} evaluated examples "
            f"are in the training data ({leak.get('exact')} exact, "
            f"{leak.get('near_duplicate')} near-duplicate)"
            + (" - WARNING: scores overstate quality" if leak.get("warning") else "")
        )
    pw = (ev.judge or {}).get("pairwise") or {}
    if pw:
        who = (ev.judge or {}).get("judge") or {}
        rate = pw.get("win_rate")
        notes.append(
            "judge: win rate "
            + ("n/a" if rate is None else f"{rate:.3f}")
            + f" over {pw.get('judged')} pairs ({pw.get('candidate_wins')} wins, "
            f"{pw.get('baseline_wins')} losses, {pw.get('ties')} ties; position flips "
            f"{pw.get('position_flips', 0)}"
            + (f" = {pw['flip_rate']:.0%}" if pw.get("flip_rate") is not None else "")
            + f"); {who.get('metric', 'pairwise')} {who.get('template_version', '')}".rstrip()
        )
    scores = (ev.rubric or {}).get("scores") or {}
    if scores:
        dims = ", ".join(
            f"{d} {s.get('tuned', 0):.2f} (base {s.get('base', 0):.2f})"
            for d, s in scores.items()
            if isinstance(s, dict) and s.get("tuned") is not None and s.get("base") is not None
        )
        if dims:
            notes.append(f"rubric (1..5): {dims}")
    cost = ev.cost or {}
    spent = cost.get("actual") or cost.get("estimate") or (cost if cost.get("basis") else None)
    if spent:
        usd = spent.get("usd")
        notes.append(
            f"evaluation cost ({spent.get('basis')}): {spent.get('prediction_calls')} "
            f"prediction calls, {spent.get('input_tokens'):,} input + "
            f"{spent.get('output_tokens'):,} output tokens, {spent.get('judge_calls')} judge "
            "calls, " + (f"${usd:,.4f}" if usd is not None else "price unknown")
        )
    return notes
