"""report.html: the evaluation as one self-contained page a person reads.

From top to bottom: the verdict (PASSED, FAILED or NOT GATED, which is grey: never green) and
whether the models were simulated; the share of the test set found in training and the
evaluation's cost; the summary table (every metric for both models with its 95% interval, the
delta with its interval, the scores on the unleaked part, each gate and whether it passed); what
was scored and why the rest was not; one inline SVG histogram per metric of the per-example
scores; and the worst regressions with both answers side by side.

No external asset (no script, stylesheet, font or image URL): the page opens the same from a
bucket, a laptop or an e-mail attachment. Chinese renders with the system's CJK fonts (the font
stack names the common ones) and every text is HTML-escaped.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

from shared.charts import CURVE_COLORS, line_chart
from shared.evaluation.report import EvaluationReport
from shared.runs import verdict_of

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI","Noto Sans CJK SC","Noto Sans SC",
"PingFang SC","Microsoft YaHei","Source Han Sans SC",sans-serif;margin:2rem auto;max-width:72rem;
padding:0 1rem;color:#1b1b1b;line-height:1.45}
h1{font-size:1.6rem;margin:.2rem 0}.verdict{padding:1rem 1.2rem;border-radius:.4rem}
.pass{background:#e6f4ea;border:1px solid #1e8e3e}.fail{background:#fce8e6;border:1px solid #d93025}
.grey{background:#f1f3f4;border:1px solid #80868b}.lead{display:flex;flex-wrap:wrap;gap:1rem;
margin:.8rem 0}.lead div{flex:1 1 14rem;border:1px solid #ccc;border-radius:.4rem;padding:.6rem}
.lead b{font-size:1.3rem;display:block}.lead span{display:block}
.warn{background:#fef7e0;border-color:#f9ab00!important}
.sim{display:inline-block;background:#fef7e0;border:1px solid #f9ab00;padding:0 .4rem;
border-radius:.3rem;font-size:.85rem}
table{border-collapse:collapse;margin:.6rem 0;width:100%}th,td{border:1px solid #ccc;
padding:.3rem .5rem;text-align:left;vertical-align:top}th{background:#f1f3f4}
td.num{font-variant-numeric:tabular-nums;white-space:nowrap}.ok{color:#1e8e3e;font-weight:600}
.bad{color:#d93025;font-weight:600}.charts{display:flex;flex-wrap:wrap;gap:1rem}
figure{margin:0}figcaption{font-size:.9rem}.small{font-size:.85rem;color:#555}
"""
_TUNED_COLOR, _BASE_COLOR = "#1a73e8", "#9aa0a6"


def _e(x: Any) -> str:
    return html.escape("" if x is None else str(x))


def _num(x: Any) -> str:
    return "–" if not isinstance(x, int | float) else f"{x:.3f}"


def _signed(x: Any) -> str:
    return "–" if not isinstance(x, int | float) else f"{x:+.3f}"


def _iv(pair: Any, signed: bool = False) -> str:
    if not isinstance(pair, Sequence) or len(pair) != 2:
        return ""
    f = _signed if signed else _num
    return f' <span class="small">[{f(pair[0])}, {f(pair[1])}]</span>'


def _gate_cell(outcome: Mapping[str, Any] | None) -> tuple[str, str]:
    if outcome is None:
        return "–", ""
    parts = []
    if outcome.get("min") is not None:
        parts.append(f"≥ {_num(outcome['min'])}")
    if outcome.get("min_delta") is not None:
        parts.append(f"delta ≥ {_signed(outcome['min_delta'])}")
    rule = ", ".join(parts) + (" (95% lower bound)" if outcome.get("use_lower_bound") else "")
    mark = '<span class="ok">pass</span>' if outcome["passed"] else '<span class="bad">FAIL</span>'
    return _e(rule), f"{mark}<br><span class='small'>{_e(outcome.get('reason'))}</span>"


def _summary_table(report: EvaluationReport) -> str:
    metrics = report.metrics
    intervals = report.intervals
    gates = {g["metric"]: g for g in report.gates}
    unleaked = report.unleaked_metrics
    leak = report.leakage if (report.leakage or {}).get("leaked") else {}
    rows = []
    for m, v in metrics.items():
        iv = intervals.get(m, {})
        rule, result = _gate_cell(gates.get(m))
        clean = unleaked.get(m)
        rows.append(
            f"<tr><th>{_e(m)}</th>"
            f"<td class='num'>{_num(v.get('tuned'))}{_iv(iv.get('tuned'))}</td>"
            f"<td class='num'>{_num(v.get('base'))}{_iv(iv.get('base'))}</td>"
            f"<td class='num'>{_signed(v['tuned'] - v['base'])}{_iv(iv.get('delta'), True)}</td>"
            + (
                f"<td class='num'>{_num(clean.get('tuned'))} / {_num(clean.get('base'))}</td>"
                if leak and clean
                else ("<td class='num'>–</td>" if leak else "")
            )
            + f"<td>{rule}</td><td>{result}</td></tr>"
        )
    share = f" ({_pct(leak.get('share'))} leaked)" if leak else ""
    return (
        "<table id='summary'><tr><th>metric</th><th>tuned [95% CI]</th><th>base [95% CI]</th>"
        "<th>delta [95% CI]</th>"
        + (f"<th>unleaked tuned / base{share}</th>" if leak else "")
        + "<th>gate</th><th>result</th></tr>"
        + "".join(rows)
        + "</table>"
    )


def _pct(x: Any) -> str:
    return "–" if not isinstance(x, int | float) else f"{x:.0%}"


def _cost_text(report: EvaluationReport) -> str:
    cost = report.cost or {}
    spent = cost.get("actual") or cost.get("estimate")
    if not spent:
        return "not recorded"
    usd = spent.get("usd")
    money = f"${usd:,.4f}" if isinstance(usd, int | float) else "price unknown"
    return (
        f"{money} · {spent.get('prediction_calls')} prediction calls, "
        f"{spent.get('input_tokens', 0):,} + {spent.get('output_tokens', 0):,} tokens, "
        f"{spent.get('judge_calls')} judge calls ({spent.get('basis')})"
    )


def _lead(report: EvaluationReport) -> str:
    """The three facts a reader needs first: the verdict, how much of the test set the model
    saw in training, and what the evaluation cost."""
    leak = report.leakage or {}
    s = report.summary
    leak_text = (
        f"{_pct(leak.get('share'))} of {leak.get('checked')} "
        f"({leak.get('exact')} exact, {leak.get('near_duplicate')} near-duplicate)"
        if leak
        else "not checked (no training file given)"
    )
    warn = " warn" if leak.get("warning") else ""
    return (
        "<div class='lead'>"
        f"<div><span class='small'>verdict</span><b>{_e(report.verdict)}</b>"
        f"<span class='small'>{_e(s.get('scored'))} examples scored</span></div>"
        f"<div class='{warn.strip()}' id='leakage'><span class='small'>test examples also in "
        f"training</span><b>{_pct(leak.get('share')) if leak else '–'}</b>"
        f"<span class='small'>{_e(leak_text)}</span></div>"
        f"<div id='cost'><span class='small'>evaluation cost</span>"
        f"<span>{_e(_cost_text(report))}</span></div>"
        "</div>"
        + (f"<p class='small'><b>Leakage warning:</b> {_e(leak['warning'])}</p>" if warn else "")
    )


def _counts(report: EvaluationReport) -> str:
    s = report.summary
    reasons = report.skip_reasons
    not_scored = report.not_scored
    items = "".join(
        f"<li>{n} — {_e(reasons.get(code, code))}</li>" for code, n in not_scored.items()
    )
    judge = s.get("judge", {}).get("pairwise") if isinstance(s.get("judge"), Mapping) else None
    judged = ""
    if judge:
        who = s["judge"].get("judge") or {}
        judged = (
            f"<p id='judge'>Pairwise judge, asked in both orders: tuned wins "
            f"{judge['candidate_wins']}, base wins {judge['baseline_wins']}, ties "
            f"{judge['ties']} of {judge['judged']} (win rate {_num(judge['win_rate'])}; "
            f"position flips {judge.get('position_flips', 0)}, counted as ties, flip rate "
            f"{_pct(judge.get('flip_rate'))}). <span class='small'>{_e(who.get('metric'))}, "
            f"template {_e(who.get('template_version'))} ({_e(who.get('sha256'))})</span></p>"
        )
    return (
        f"<p><strong>{_e(s.get('scored'))}</strong> examples scored of {_e(s.get('sampled'))} "
        f"sampled ({_e(s.get('examples_seen'))} read). "
        f"{_e(report.interval_method)}.</p>"
        + (f"<p>Not scored:</p><ul>{items}</ul>" if items else "")
        + judged
    )


def histogram_svg(metric: str, bins: Mapping[str, Sequence[int]]) -> str:
    """Two bar series (tuned, base) over score tenths 0..1, as an inline SVG."""
    width, height, pad = 320, 160, 24
    n = max((len(v) for v in bins.values()), default=0)
    top = max((max(v, default=0) for v in bins.values()), default=0) or 1
    if n == 0:
        return ""
    slot = (width - pad) / n
    bars = []
    for i in range(n):
        for j, (role, color) in enumerate((("tuned", _TUNED_COLOR), ("base", _BASE_COLOR))):
            count = bins.get(role, [0] * n)[i]
            h = (height - 2 * pad) * count / top
            x = pad + i * slot + j * slot / 2
            y = height - pad - h
            bars.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{slot / 2 - 1:.1f}" height="{h:.1f}" '
                f'fill="{color}"><title>{role} {i / n:.1f}–{(i + 1) / n:.1f}: {count}</title>'
                "</rect>"
            )
    axis = (
        f'<line x1="{pad}" y1="{height - pad}" x2="{width}" y2="{height - pad}" stroke="#555"/>'
        f'<text x="{pad}" y="{height - 6}" font-size="10">0</text>'
        f'<text x="{width - 10}" y="{height - 6}" font-size="10">1</text>'
        f'<text x="{pad}" y="12" font-size="10">max {top}</text>'
    )
    return (
        f'<figure><svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'role="img" aria-label="{_e(metric)} per-example scores">{axis}{"".join(bars)}</svg>'
        f"<figcaption>{_e(metric)}: per-example scores "
        f'(<span style="color:{_TUNED_COLOR}">tuned</span>, '
        f'<span style="color:{_BASE_COLOR}">base</span>)</figcaption></figure>'
    )


def _highlights(report: EvaluationReport) -> str:
    rows = report.highlights
    if not rows:
        return ""
    key = "chrf" if "chrf" in report.metrics else next(iter(report.metrics), "")
    out = []
    for r in rows:
        scores = r.get("scores") or {}
        t, b = (scores.get("tuned") or {}).get(key), (scores.get("base") or {}).get(key)
        delta = t - b if isinstance(t, float | int) and isinstance(b, float | int) else None
        out.append(
            f"<tr><td class='num'>{_e(r.get('index'))}</td><td class='num'>{_signed(delta)}</td>"
            f"<td>{_e(r.get('prompt'))}</td><td>{_e(r.get('reference'))}</td>"
            f"<td>{_e(r.get('tuned'))}</td><td>{_e(r.get('base'))}</td></tr>"
        )
    return (
        f"<h2>Per-example answers, worst regressions first ({_e(key)} tuned − base)</h2>"
        "<table id='examples'><tr><th>#</th><th>delta</th><th>prompt</th><th>reference</th>"
        "<th>tuned</th><th>base</th></tr>" + "".join(out) + "</table>"
    )


def _checkpoints(report: EvaluationReport) -> str:
    """Every checkpoint's screening score and the one this report evaluated (and serves)."""
    rows = report.checkpoints
    if not rows:
        return ""
    chosen = report.chosen_checkpoint
    metric = next((k for k in rows[0] if k not in ("checkpoint_id", "epoch", "endpoint",
                                                  "scored", "errors")), "score")  # fmt: skip
    body = "".join(
        f"<tr><td>{_e(r.get('checkpoint_id'))}</td><td>{_e(r.get('epoch'))}</td>"
        f"<td>{_num(r.get(metric))}</td><td>{_e(r.get('scored'))}</td>"
        f"<td>{'<b>evaluated above, served</b>' if r.get('checkpoint_id') == chosen else ''}</td>"
        "</tr>"
        for r in rows
    )
    by_epoch = [
        [float(r["epoch"]), float(r[metric])]
        for r in rows
        if r.get("epoch") is not None and r.get(metric) is not None
    ]
    chosen_epoch = next(
        (float(r["epoch"]) for r in rows if r.get("checkpoint_id") == chosen and r.get("epoch")),
        None,
    )
    curve = line_chart(
        {metric: by_epoch},
        {metric: "#1a7f37"},
        element_id="checkpoint-curve",
        y_label=f"{metric} (0..1)",
        x_label="epoch",
        marker=None if chosen_epoch is None else (chosen_epoch, f"chosen: checkpoint {chosen}"),
    )
    return (
        "<h2>Checkpoints</h2><p class='small'>Each checkpoint screened on the same small "
        "sample; the best was evaluated in full and made the model's default.</p>"
        f"<table id='checkpoints'><tr><th>checkpoint</th><th>epoch</th><th>{_e(metric)}</th>"
        f"<th>examples</th><th></th></tr>{body}</table>{curve}" + _training_curves(report)
    )


def _training_curves(report: EvaluationReport) -> str:
    curves = report.training_curves
    chosen = report.chosen_checkpoint
    step = report.checkpoint_steps.get(chosen) if chosen else None
    chart = line_chart(
        curves,
        CURVE_COLORS,
        element_id="training-curves",
        y_label="loss (Vertex AI total_loss)",
        marker=None if step is None else (float(step), f"chosen: checkpoint {chosen}"),
    )
    return f"<p class='small'>Training and validation loss by step:</p>{chart}" if chart else ""


def _rubric(report: EvaluationReport) -> str:
    rubric = report.rubric or {}
    scores = rubric.get("scores") or {}
    dims = [d for d in (rubric.get("criteria") or {}) if isinstance(scores.get(d), Mapping)]
    if not dims:
        return ""
    body = "".join(
        f"<tr><td>{_e(d)}</td><td>{_num(scores[d].get('tuned'))}</td>"
        f"<td>{_num(scores[d].get('base'))}</td><td class='small'>"
        f"{_e(rubric['criteria'][d])}</td></tr>"
        for d in dims
    )
    return (
        f"<h2>Customer-service rubric ({_e(rubric.get('scale', '1..5'))})</h2>"
        "<table id='rubric'><tr><th>dimension</th><th>tuned</th><th>base</th>"
        f"<th>criterion</th></tr>{body}</table>"
    )


def render(report: EvaluationReport) -> str:
    """The whole page for one report.json document."""
    said = report.verdict or verdict_of(report.passed)
    simulated = report.simulated
    models = report.models
    verdict, tone = {
        "PASSED": ("PASSED: the tuned model meets every gate", "pass"),
        "FAILED": ("FAILED: a gate was missed", "fail"),
    }.get(said, ("NOT GATED: no gate was configured, so nothing was checked", "grey"))
    sim = (
        ' <span class="sim">SIMULATED: local Vertex AI simulator, not a real model</span>'
        if simulated
        else ""
    )
    charts = "".join(histogram_svg(m, bins) for m, bins in report.histograms.items())
    return (
        "<!doctype html><html lang='zh-CN'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width,initial-scale=1'>"
        f"<title>Evaluation {_e(report.run_id)}: {_e(said)}"
        f"</title><style>{_CSS}</style></head><body>"
        f"<div class='verdict {tone}' id='verdict'><h1>{_e(verdict)}</h1>"
        f"<p>{_e(report.reason)}</p>{sim}</div>"
        + _lead(report)
        + f"<p class='small'>run {_e(report.run_id)} · tuned "
        f"<code>{_e(models.get('tuned'))}</code> vs base <code>{_e(models.get('base'))}</code>"
        f" · eval set {_e(report.eval_set)}</p>"
        "<h2>Summary</h2>"
        + _summary_table(report)
        + _counts(report)
        + _rubric(report)
        + _checkpoints(report)
        + "<h2>Score distributions</h2><div class='charts'>"
        + charts
        + "</div>"
        + _highlights(report)
        + "<p class='small'>Files: report.json (every number on this page), "
        "predictions.jsonl (every example).</p></body></html>\n"
    )
