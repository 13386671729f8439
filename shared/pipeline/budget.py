"""The budget guard: a run whose estimated cost is over a limit never gets a tuning job.

Limits: per run (the lower of the deployment's `MAX_RUN_USD` and `tuning.yaml`
`budget.max_run_usd`: a team may tighten the platform's limit, never loosen it) and per UTC
calendar month (`MAX_MONTH_USD`, over the runs created this month that got a job).

A run's cost is its billable tokens times the catalog's training price for its model (the job's
own billable tokens once Vertex AI reports them, else the validator's estimate), plus its
evaluation's own estimated cost (`pipeline.evaluate.estimate_cost`: examples x models x tokens
at the catalog's online-prediction prices, or batch prices for a batch evaluation) when the run
has an eval set and the price is known.
With a limit set and no known training price the run is refused and the message says so (the
guard cannot promise a limit it cannot check); `MODEL_CATALOG_OVERRIDES` can supply the price.

The check runs before the launcher's claim, so it applies to the launcher and to queued runs the
poller starts. Two launches checked at the same moment may both pass the monthly limit; at most
`MAX_CONCURRENT_JOBS` runs can start at once, which bounds the overshoot.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from shared.clock import to_iso
from shared.ports import Deps
from shared.runs import Run
from shared.settings import Settings


@dataclass(frozen=True)
class Cost:
    usd: float | None  #: None: the price is unknown
    tokens: int | None
    basis: str  #: where the tokens come from, in words
    price: float | None  #: USD per million training tokens


@dataclass(frozen=True)
class Verdict:
    ok: bool
    message: str = ""


def usd(x: float) -> str:
    """$1,234.50, and small limits as written ($0.001), never rounded to $0.00."""
    return f"${x:,.2f}" if x >= 0.01 or x == 0 else f"${x:g}"


def run_cost(run: Run, settings: Settings) -> Cost:
    """The run's cost as best known now (see the module docstring)."""
    model = run.config.source_model_name if run.config is not None else None
    limits = settings.catalog.limits_for(model) if model else None
    price = limits.training_price_per_million_tokens if limits is not None else None
    stats = run.job.stats
    if stats is not None and stats.billable_tokens:
        tokens: int | None = stats.billable_tokens
        basis = "the job's billable tokens"
    else:
        raw = run.validation.summary.get("billable_tokens")
        tokens = raw if isinstance(raw, int) and not isinstance(raw, bool) else None
        basis = "the validator's estimate"
    usd = None if price is None or tokens is None else round(tokens / 1e6 * price, 4)
    return Cost(usd, tokens, basis, price)


def run_limit(run: Run, settings: Settings) -> float | None:
    """The per-run limit that applies: the lower of the deployment's and the dataset's."""
    own = run.config.budget.max_run_usd if run.config is not None else None
    limits = [x for x in (settings.max_run_usd, own) if x is not None]
    return min(limits) if limits else None


def month_start(now: datetime | None = None) -> str:
    """The first instant of the current UTC month, as the run record writes times."""
    t = now or datetime.now(UTC)
    return to_iso(datetime(t.year, t.month, 1, tzinfo=UTC))


def evaluation_usd(deps: Deps, run: Run) -> tuple[float, str]:
    """The evaluation's estimated USD (0 when the run has no eval set, evaluation is off or
    its price is unknown) and the words the guard's message shows for it."""
    from .evaluate import estimate_cost, eval_set

    if run.config is None or not run.config.evaluation.enabled or eval_set(run) is None:
        return 0.0, ""
    est = estimate_cost(deps, run)
    if est.usd is None:
        return 0.0, (
            f"; the evaluation's {est.prediction_calls} prediction calls are not counted "
            "(no online-prediction price in the catalog)"
        )
    return est.usd, f" + evaluation {usd(est.usd)} ({est.prediction_calls} prediction calls)"


def cannot_estimate(what: str) -> str:
    """The refusal of a limit the guard cannot check (the launcher adds how to retry)."""
    return (
        f"a budget is set but this run's cost cannot be estimated: {what}. Add the price "
        "to MODEL_CATALOG_OVERRIDES (price_per_million_training_tokens) or remove the limit"
    )


def figures(cost: Cost) -> str:
    """`178,902 tokens x $10/M = $1.79 (the validator's estimate)`: a priced cost's working."""
    return f"{cost.tokens:,} tokens x ${cost.price:g}/M = {usd(cost.usd or 0.0)} ({cost.basis})"


def over_run_limit(this: float, limit: float, working: str) -> str:
    return (
        f"estimated cost {usd(this)} is over the per-run limit {usd(limit)}: {working}. Use "
        "fewer examples or epochs, or raise budget.max_run_usd in tuning.yaml (up to the "
        "deployment's MAX_RUN_USD), then retry."
    )


def check(deps: Deps, run: Run) -> Verdict:
    """Whether `run` may start now, and if not, why, with the figures."""
    s = deps.settings
    per_run = run_limit(run, s)
    if per_run is None and s.max_month_usd is None:
        return Verdict(True)
    cost = run_cost(run, s)
    model = run.config.source_model_name if run.config is not None else "its model"
    if cost.usd is None:
        what = (
            f"no training price is known for {model}"
            if cost.price is None
            else "its token count is unknown"
        )
        return Verdict(False, cannot_estimate(what) + f", then `gemini-tuning retry {run.run_id}`.")
    eval_usd, eval_words = evaluation_usd(deps, run)
    this = round(cost.usd + eval_usd, 4)
    if per_run is not None and this > per_run:
        return Verdict(False, over_run_limit(this, per_run, figures(cost) + eval_words))
    working = figures(cost) + eval_words
    if s.max_month_usd is not None:
        since = month_start()
        spent, unknown = 0.0, 0
        for other in deps.store.list_created_since(since):
            if other.run_id == run.run_id or not other.job.claimed_at:
                continue
            c = run_cost(other, s)
            if c.usd is None:
                unknown += 1
            else:
                spent += c.usd
        total = spent + this
        if total > s.max_month_usd:
            also = f" ({unknown} earlier run(s) of unknown cost not counted)" if unknown else ""
            return Verdict(
                False,
                f"this run ({usd(this)}) would take the month's estimated spend to "
                f"{usd(total)}, over MAX_MONTH_USD {usd(s.max_month_usd)}: {usd(spent)} "
                f"already started since {since[:10]}{also}; {working}. Retry next month or "
                "after the limit is raised.",
            )
    return Verdict(True)
