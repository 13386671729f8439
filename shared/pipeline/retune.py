"""`gemini-tuning retune RUN_ID [--model M]`: tune a run's data again on another base model.

A tuned model retires with its base model, so before that date the team needs the same model on
the replacement. The retune is a new run (linked both ways: `retune_of` on the new run,
`retuned_by` on the old one) that uses exactly the dataset files and `tuning.yaml` the old run
validated (pinned to their generations), validated again against the new model's limits (which
can differ), with the hyperparameters unset (Vertex AI's recommendation for the new model and
data) unless given. It is evaluated against the current production model under the old run's
`production_gates` and auto-promoted only when they pass. A dataset file that is gone stops it
before any run or job exists, naming the file.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from shared.errors import ConfigError, NotFound, PermanentError
from shared.events import StorageObject
from shared.pipeline import layout
from shared.ports import Deps
from shared.runs import Run, RunStatus, retune_run_id
from shared.tuning_config import TuningConfig, check_adapter_size

from .promote import base_model_of
from .validation import validate_new_run


@dataclass(frozen=True)
class RetuneResult:
    run_id: str  #: the new run
    model: str  #: its base model
    created: bool  #: False: an earlier `retune` on this model made it
    status: str
    detail: str = ""
    auto_promote: bool = False  #: it will be promoted if it passes the production gates


@dataclass(frozen=True)
class Hyperparameters:
    """What the user sets on the command line; None leaves it to Vertex AI."""

    epoch: int | None = None
    learning_rate_multiplier: float | None = None
    adapter_size: int | None = None


def target_model(deps: Deps, run: Run, model: str | None) -> str:
    """`--model`, else the catalog's replacement for the run's base model."""
    catalog = deps.settings.catalog
    if model:
        return catalog.normalize(model)
    base = catalog.normalize(base_model_of(run))
    info = catalog.get(base)
    if info is None or not info.lifecycle.replacement:
        raise PermanentError(
            f"the catalog names no replacement for {base} (run {run.run_id}'s base model); "
            "choose one with `gemini-tuning models` and pass --model",
            code="no_replacement",
        )
    return info.lifecycle.replacement


def pinned_files(deps: Deps, run: Run) -> dict[str, tuple[str, str]]:
    """role -> (object name, generation) of every file `run` validated, each checked to be
    still there at that generation; a `PermanentError` naming the first that is not."""
    d = run.dataset
    files = {
        "train": (d.name, d.generation),
        "validation": (d.validation_name, d.validation_generation),
        "test": (d.test_name, d.test_generation),
        "config": (d.config_name, d.config_generation),
    }
    out: dict[str, tuple[str, str]] = {}
    for role, (name, generation) in files.items():
        if name is None or generation is None:
            continue
        info = deps.blobs.stat(d.bucket, name)
        if info is None or info.generation != generation:
            what = "is gone" if info is None else "was replaced by a newer upload"
            raise PermanentError(
                f"{d.bucket}/{name} {what} since run {run.run_id} validated it, so the retune "
                "cannot use the same data; no run or tuning job was created. Upload the dataset "
                "again (with tuning.yaml naming the new source_model_name) to start a new run.",
                code="dataset_file_gone",
            )
        out[role] = (name, generation)
    return out


def retune_config(
    config: TuningConfig, model: str, hp: Hyperparameters, deps: Deps
) -> TuningConfig:
    """The old run's configuration on `model`: hyperparameters unset unless given (the old
    ones were chosen for the old model), no `continue_from` (a tuned model continues only on
    its own base model), evaluated and compared with production, auto-promoted on its gates."""
    ev = config.evaluation
    out = replace(
        config,
        source_model_name=model,
        epoch=hp.epoch,
        learning_rate_multiplier=hp.learning_rate_multiplier,
        adapter_size=hp.adapter_size,
        continue_from=None,
        tuned_model_display_name=None,
        dry_run=False,
        evaluation=replace(
            ev,
            enabled=True,
            compare_production=True,
            auto_promote=bool(ev.production_gates) and bool(ev.gates),
        ),
    )
    check_adapter_size(out, deps.settings.catalog)
    return out


def retune_run(
    deps: Deps, run_id: str, *, model: str | None = None, hp: Hyperparameters | None = None
) -> RetuneResult:
    """Start (or find) the retune of `run_id` on `model` (default: the catalog replacement)."""
    src = deps.store.get(run_id)
    if src is None:
        raise NotFound(f"no run {run_id!r}; list runs with `gemini-tuning status`")
    if src.status != RunStatus.SUCCEEDED or src.config is None:
        raise PermanentError(
            f"run {run_id} is {src.status}: only a SUCCEEDED run (its dataset validated and its "
            "model evaluated) can be retuned; `gemini-tuning retry` starts a failed one again",
            code="not_succeeded",
        )
    target = target_model(deps, src, model)
    if deps.settings.catalog.normalize(base_model_of(src)) == target:
        raise PermanentError(
            f"run {run_id} is already tuned on {target}; pass another --model",
            code="same_model",
        )
    hp = hp or Hyperparameters()
    if hp.adapter_size is not None:  # a flag, not tuning.yaml: say so before any run exists
        try:
            check_adapter_size(
                TuningConfig(source_model_name=target, adapter_size=hp.adapter_size),
                deps.settings.catalog,
            )
        except ConfigError as e:
            raise PermanentError(f"--adapter-size: {e.message}", code="invalid_flag") from None
    new_id = retune_run_id(src.run_id, target)
    ev = src.config.evaluation
    auto = bool(ev.production_gates) and bool(ev.gates)
    existing = deps.store.get(new_id)
    if existing is not None:
        _link(deps, src.run_id, new_id)
        return RetuneResult(new_id, target, False, str(existing.status), "retuned before", auto)
    objects = layout.trigger_objects(src.dataset.name)
    if objects is None:
        raise PermanentError(
            f"run {run_id} has no dataset training file ({src.dataset.name}) to retune from"
        )
    pinned = pinned_files(deps, src)
    d = src.dataset
    obj = StorageObject(d.bucket, d.name, d.generation, d.size, d.md5)
    siblings = {role: file for role, file in pinned.items() if role != "train"}
    _link(deps, src.run_id, new_id)
    outcome = validate_new_run(
        deps, new_id, obj, objects, retune_of=src.run_id, pinned=siblings,
        adjust=lambda c: retune_config(c, target, hp, deps),
    )  # fmt: skip
    now = deps.store.get(new_id)
    status = str(now.status) if now is not None else "unknown"
    return RetuneResult(new_id, target, True, status, outcome.detail, auto)


def _link(deps: Deps, old: str, new: str) -> None:
    def change(r: Run) -> None:
        r.retuned_by = new

    deps.store.update(old, change)
