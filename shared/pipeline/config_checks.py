"""The checks a resolved `tuning.yaml` must pass before a paid job, callable without a run.

The validator step (model and `continue_from`) and the launcher's budget guard (price) use them,
and so do `validate --config`, `submit` and `start`: a file the pipeline would refuse is refused
on the user's machine, before any upload, with the same message. Issue 17: a retired model, a
`continue_from` naming no run and a budget for a model without a known price used to be
accepted locally, uploaded, then REJECTED or FAILED in the pipeline.
"""

from __future__ import annotations

from dataclasses import replace

from shared.catalog import ModelProblem
from shared.clock import today
from shared.errors import ConfigError
from shared.ports import RunStore
from shared.runs import DatasetInfo, Run, RunStatus
from shared.settings import Settings
from shared.tuning_config import TuningConfig

from . import budget


def model_problems(settings: Settings, config: TuningConfig) -> list[ModelProblem]:
    """Can the configured model be tuned in this deployment's region today (retired, blocked,
    unknown, not offered there: errors naming the replacement; retiring soon: a warning)?"""
    return settings.catalog.problems(
        config.source_model_name, location=settings.location, today=today()
    )


def resolve_continue_from(store: RunStore, config: TuningConfig) -> TuningConfig:
    """`continue_from: {run: ID}` becomes that run's tuned model, after checking that it
    succeeded and was tuned from the same base model (Vertex requires it)."""
    cont = config.continue_from
    if cont is None or cont.run is None:
        return config
    prev = store.get(cont.run)
    if prev is None:
        raise ConfigError(f"continue_from.run: there is no run {cont.run!r}. Check the id.")
    if prev.status != RunStatus.SUCCEEDED or not prev.job.tuned_model_name:
        raise ConfigError(
            f"continue_from.run: run {cont.run} is {prev.status} and has no tuned model to "
            "continue from; name a run that SUCCEEDED."
        )
    base = prev.job.base_model or (prev.config.source_model_name if prev.config else None)
    if base != config.source_model_name:
        raise ConfigError(
            f"continue_from.run: run {cont.run} tuned {base}, but this dataset names "
            f"{config.source_model_name}. Continued tuning keeps the base model: write "
            f"source_model_name: {base}."
        )
    return replace(config, continue_from=replace(cont, model=prev.job.tuned_model_name))


def budget_problem(
    settings: Settings, config: TuningConfig, billable_tokens: int | None
) -> str | None:
    """Why the launcher's per-run budget guard will refuse this configuration, as far as it is
    known before the run exists (`billable_tokens`: the validator's estimate): a limit set for a
    model whose price the catalog does not know, or a training cost above the limit. None when
    it will pass (the month's limit and the evaluation's cost are the launcher's to add)."""
    run = Run.new("(local check)", DatasetInfo("", "", "", ""))
    run.config = config
    if billable_tokens is not None:
        run.validation.summary["billable_tokens"] = billable_tokens
    limit = budget.run_limit(run, settings)
    if limit is None:
        return None
    cost = budget.run_cost(run, settings)
    if cost.price is None:
        what = f"no training price is known for {config.source_model_name}"
        return budget.cannot_estimate(what) + "."
    if cost.usd is not None and cost.usd > limit:
        return budget.over_run_limit(cost.usd, limit, budget.figures(cost))
    return None
