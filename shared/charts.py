"""Small inline SVG line charts for the status page and report.html: no script, no external
asset, every label escaped, so the pages stay self-contained and open anywhere."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence

#: The training metrics people look at, in the colours both pages use.
CURVE_COLORS = {"train_total_loss": "#1f6feb", "eval_total_loss": "#d1242f"}


def line_chart(
    series: Mapping[str, Sequence[Sequence[float]]],
    colors: Mapping[str, str],
    *,
    element_id: str,
    y_label: str,
    w: int = 480,
    h: int = 160,
) -> str:
    """One polyline per series named in `colors` (points are `[x, y]`); "" when none has data."""
    shown = {k: v for k, v in series.items() if k in colors and v}
    if not shown:
        return ""
    xs = [p[0] for pts in shown.values() for p in pts]
    ys = [p[1] for pts in shown.values() for p in pts]
    x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
    span_x, span_y = (x1 - x0) or 1.0, (y1 - y0) or 1.0

    def xy(p: Sequence[float]) -> str:
        x = 20 + (p[0] - x0) / span_x * (w - 30)
        y = 10 + (y1 - p[1]) / span_y * (h - 30)
        return f"{x:.1f},{y:.1f}"

    lines = "".join(
        f"<polyline fill='none' stroke='{colors[k]}' stroke-width='2' "
        f"points='{' '.join(xy(p) for p in pts)}'><title>{html.escape(k)}</title></polyline>"
        for k, pts in shown.items()
    )
    legend = " · ".join(f"<span style='color:{colors[k]}'>{html.escape(k)}</span>" for k in shown)
    return (
        f"<figure id='{element_id}'><svg width='{w}' height='{h}' role='img' "
        f"aria-label='{html.escape(y_label)}'>{lines}</svg><figcaption>{legend} "
        f"({html.escape(y_label)} {y0:.3f} to {y1:.3f}, x {x0:g} to {x1:g})</figcaption></figure>"
    )
