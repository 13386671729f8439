"""Small inline SVG line charts for the status page and report.html: no script, no external
asset, every label escaped, so the pages stay self-contained and open anywhere.

A chart people read has axes with ticks and units, and marks what was decided on it: the
chosen checkpoint is a dashed vertical line with its label (`marker`), so "which checkpoint is
served and why" is visible on the curve, not only in a table.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence

#: The training metrics people look at, in the colours both pages use.
CURVE_COLORS = {"train_total_loss": "#1f6feb", "eval_total_loss": "#d1242f"}

_LEFT, _RIGHT, _TOP, _BOTTOM = 56, 12, 12, 40
_TICKS = 4


def _ticks(lo: float, hi: float, n: int = _TICKS, whole: bool = False) -> list[float]:
    """`n + 1` evenly spaced ticks; `whole`: on whole numbers (steps, epochs), no repeats."""
    if hi <= lo:
        return [lo]
    ticks = [lo + (hi - lo) * i / n for i in range(n + 1)]
    return sorted({float(round(t)) for t in ticks}) if whole else ticks


def _fmt(v: float) -> str:
    return f"{v:g}" if float(v).is_integer() and abs(v) < 1e6 else f"{v:.3g}"


def line_chart(
    series: Mapping[str, Sequence[Sequence[float]]],
    colors: Mapping[str, str],
    *,
    element_id: str,
    y_label: str,
    x_label: str = "training step",
    marker: tuple[float, str] | None = None,
    w: int = 520,
    h: int = 220,
) -> str:
    """One polyline per series named in `colors` (points are `[x, y]`), with labelled axes and
    an optional `marker` `(x, label)`; "" when no series has data."""
    shown = {k: v for k, v in series.items() if k in colors and v}
    if not shown:
        return ""
    xs = [p[0] for pts in shown.values() for p in pts]
    ys = [p[1] for pts in shown.values() for p in pts]
    x0, x1, low, high = min(xs), max(xs), min(ys), max(ys)
    y0, y1 = (low, high) if high > low else (low - 0.5, high + 0.5)
    span_x, span_y = (x1 - x0) or 1.0, y1 - y0
    plot_w, plot_h = w - _LEFT - _RIGHT, h - _TOP - _BOTTOM

    def px(x: float) -> float:
        return _LEFT + (x - x0) / span_x * plot_w

    def py(y: float) -> float:
        return _TOP + (y1 - y) / span_y * plot_h

    axes = (
        f"<line x1='{_LEFT}' y1='{_TOP}' x2='{_LEFT}' y2='{_TOP + plot_h}' stroke='#555'/>"
        f"<line x1='{_LEFT}' y1='{_TOP + plot_h}' x2='{_LEFT + plot_w}' y2='{_TOP + plot_h}' "
        "stroke='#555'/>"
    )
    for t in _ticks(y0, y1):
        y = py(t)
        axes += (
            f"<line x1='{_LEFT - 4}' y1='{y:.1f}' x2='{_LEFT + plot_w}' y2='{y:.1f}' "
            f"stroke='#e3e3e3'/><text x='{_LEFT - 6}' y='{y + 4:.1f}' font-size='11' "
            f"text-anchor='end'>{_fmt(t)}</text>"
        )
    whole = all(float(x).is_integer() for x in xs)
    for t in _ticks(x0, x1, whole=whole):
        x = px(t)
        axes += (
            f"<line x1='{x:.1f}' y1='{_TOP + plot_h}' x2='{x:.1f}' y2='{_TOP + plot_h + 4}' "
            f"stroke='#555'/><text x='{x:.1f}' y='{_TOP + plot_h + 16}' font-size='11' "
            f"text-anchor='middle'>{_fmt(t)}</text>"
        )
    axes += (
        f"<text x='{_LEFT + plot_w / 2:.1f}' y='{h - 4}' font-size='12' text-anchor='middle'>"
        f"{html.escape(x_label)}</text><text x='12' y='{_TOP + plot_h / 2:.1f}' font-size='12' "
        f"text-anchor='middle' transform='rotate(-90 12 {_TOP + plot_h / 2:.1f})'>"
        f"{html.escape(y_label)}</text>"
    )
    lines = "".join(
        f"<polyline fill='none' stroke='{colors[k]}' stroke-width='2' "
        f"points='{' '.join(f'{px(p[0]):.1f},{py(p[1]):.1f}' for p in pts)}'>"
        f"<title>{html.escape(k)}</title></polyline>"
        for k, pts in shown.items()
    )
    mark = ""
    if marker is not None and x0 <= marker[0] <= x1:
        mx = px(marker[0])
        anchor = "end" if mx > _LEFT + plot_w * 0.7 else "start"
        dx = -4 if anchor == "end" else 4
        mark = (
            f"<line class='marker' x1='{mx:.1f}' y1='{_TOP}' x2='{mx:.1f}' y2='{_TOP + plot_h}' "
            "stroke='#111' stroke-dasharray='4 3'/>"
            f"<text x='{mx + dx:.1f}' y='{_TOP + 12}' font-size='11' text-anchor='{anchor}'>"
            f"{html.escape(marker[1])}</text>"
        )
    legend = " · ".join(f"<span style='color:{colors[k]}'>{html.escape(k)}</span>" for k in shown)
    return (
        f"<figure id='{element_id}'><svg width='{w}' height='{h}' role='img' "
        f"aria-label='{html.escape(y_label)} by {html.escape(x_label)}'>{axes}{lines}{mark}</svg>"
        f"<figcaption>{legend} ({html.escape(y_label)} {low:.3f} to {high:.3f}, "
        f"{html.escape(x_label)} {x0:g} to {x1:g})</figcaption></figure>"
    )
