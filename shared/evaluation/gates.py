"""Pass/fail gates: `min` on the tuned score, `min_delta` on tuned minus base.

With `use_lower_bound`, a gate compares the lower end of the 95% paired bootstrap interval
(`shared.evaluation.stats`) instead of the point estimate: "the tuned model is better by at least
0.05, and we are sure of it", not "it happened to score 0.05 more on this sample".

The reason is written for the person reading the status page: every gate with its numbers, and
for a failed one by how much it missed, e.g. "failed: chrf 0.250 < 0.300 (short by 0.050)".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shared.evaluation.stats import MetricIntervals
from shared.tuning_config import Gate

#: Float noise allowance, so 0.35 - 0.30 still meets a 0.05 delta gate.
EPSILON = 1e-9


@dataclass(frozen=True)
class GateOutcome:
    metric: str
    min: float | None
    min_delta: float | None
    tuned: float | None
    base: float | None
    passed: bool
    reason: str
    use_lower_bound: bool = False
    tuned_low: float | None = None
    delta_low: float | None = None

    @property
    def delta(self) -> float | None:
        return None if self.tuned is None or self.base is None else self.tuned - self.base

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "min": self.min,
            "min_delta": self.min_delta,
            "tuned": self.tuned,
            "base": self.base,
            "delta": self.delta,
            "use_lower_bound": self.use_lower_bound,
            "tuned_low": self.tuned_low,
            "delta_low": self.delta_low,
            "passed": self.passed,
            "reason": self.reason,
        }


def _pair(value: float, threshold: float, *, signed: bool) -> tuple[str, str]:
    """Both numbers with just enough decimals to show they differ (0.2999 vs 0.300)."""
    spec = "+.{}f" if signed else ".{}f"
    for digits in range(3, 9):
        a, b = format(value, spec.format(digits)), format(threshold, spec.format(digits))
        if a != b or abs(value - threshold) <= EPSILON:
            return a, b
    return a, b


def _check(metric: str, label: str, value: float, threshold: float, signed: bool) -> str | None:
    """None when met, else the failure text; the pass text is built by the caller."""
    v, t = _pair(value, threshold, signed=signed)
    if value + EPSILON >= threshold:
        return None
    short = threshold - value
    by = f"{short:.3f}" if short >= 0.0005 else f"{short:.1e}"
    return f"{metric} {label}{v} < {t} (short by {by})"


def check_gate(
    metric: str,
    gate: Gate,
    scores: Mapping[str, float] | None,
    interval: MetricIntervals | None = None,
) -> GateOutcome:
    if scores is None:
        return GateOutcome(
            metric, gate.min, gate.min_delta, None, None, False,
            f"{metric} was not computed; add it to evaluation.metrics or remove its gate",
        )  # fmt: skip
    tuned, base = scores["tuned"], scores["base"]
    lows: dict[str, float | None] = {"tuned_low": None, "delta_low": None}
    if interval is not None:
        lows = {"tuned_low": interval.tuned.low, "delta_low": interval.delta.low}
    if gate.use_lower_bound and interval is None:
        return GateOutcome(
            metric, gate.min, gate.min_delta, tuned, base, False,
            f"{metric}: the gate asks for the confidence interval's lower bound, but no "
            "interval was computed",
            True, None, None,
        )  # fmt: skip
    checks: list[tuple[str, float, float | None, bool]] = [
        ("", tuned, gate.min, False),
        ("delta ", tuned - base, gate.min_delta, True),
    ]
    if gate.use_lower_bound and interval is not None:
        checks = [
            ("95% lower bound ", interval.tuned.low, gate.min, False),
            ("delta 95% lower bound ", interval.delta.low, gate.min_delta, True),
        ]
    passes: list[str] = []
    fails: list[str] = []
    for label, value, threshold, signed in checks:
        if threshold is None:
            continue
        failure = _check(metric, label, value, threshold, signed)
        if failure is None:
            v, t = _pair(value, threshold, signed=signed)
            passes.append(f"{metric} {label}{v} >= {t}")
        else:
            fails.append(failure)
    if not passes and not fails:
        passes.append(f"{metric}: no threshold set")
    return GateOutcome(
        metric,
        gate.min,
        gate.min_delta,
        tuned,
        base,
        not fails,
        "; ".join(fails or passes),
        gate.use_lower_bound,
        **lows,
    )


#: The reason when nothing is gated: it says what to do, and the verdict is NOT GATED (never
#: a pass: a model nobody set a bar for has not met one).
NO_GATES = (
    "no gates configured: nothing was checked. Add evaluation.gates to tuning.yaml "
    "(for example chrf: {min_delta: 0.05}) to get a PASSED or FAILED verdict"
)


def check_gates(
    gates: Mapping[str, Gate],
    metrics: Mapping[str, Mapping[str, float]],
    intervals: Mapping[str, MetricIntervals] | None = None,
) -> tuple[bool | None, str, list[GateOutcome]]:
    """Overall verdict (True passed, False failed, None: no gate configured), its reason in
    plain words, and one outcome per gate."""
    if not gates:
        return None, NO_GATES, []
    ivs = intervals or {}
    outcomes = [
        check_gate(name, gate, metrics.get(name), ivs.get(name)) for name, gate in gates.items()
    ]
    failed = [o.reason for o in outcomes if not o.passed]
    passed = [o.reason for o in outcomes if o.passed]
    if not failed:
        return True, "; ".join(passed), outcomes
    reason = "failed: " + "; ".join(failed)
    if passed:
        reason += "; passed: " + "; ".join(passed)
    return False, reason, outcomes
