"""What `validate`, `submit` and `start` check of a configuration beyond its schema: the
pipeline's own checks (`shared/pipeline/config_checks.py`: the model's lifecycle and region,
`continue_from`, the budget against the catalog's price) against the deployment the dataset goes
to, so a file the pipeline would refuse exits 1 here, before any upload, with its message."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from shared import composition
from shared.commands._deps import DEFAULT_LOCAL_ROOT
from shared.errors import ConfigError
from shared.local.paths import LocalLayout
from shared.pipeline import config_checks
from shared.ports import RunStore
from shared.settings import Settings
from shared.tuning_config import TuningConfig


@dataclass
class Checked:
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def print(self, prog: str) -> int:
        """Each problem on stderr; 1 when one of them is an error the pipeline would refuse."""
        for w in self.warnings:
            print(f"{prog}: warning: {w}", file=sys.stderr)
        for e in self.errors:
            print(f"{prog}: error: {e}", file=sys.stderr)
        return 1 if self.errors else 0


def deployment(dest: str | None = None) -> composition.LazyDeps | None:
    """The deployment a dataset goes to: the cloud for `gs://…` (or BACKEND=gcp without a
    folder); the local pipeline whose bucket folder `dest` is; else $LOCAL_ROOT or
    ./local-pipeline when a pipeline is there. None when there is none to ask."""
    if (dest or "").startswith("gs://") or (dest is None and os.environ.get("BACKEND") == "gcp"):
        return composition.LazyDeps(Settings.from_env(os.environ))
    roots = [Path(dest).parent] if dest else []
    roots.append(Path(os.environ.get("LOCAL_ROOT") or DEFAULT_LOCAL_ROOT))
    for root in roots:
        if LocalLayout(root).runs_db.is_file():
            return composition.local_deps(root.resolve(), env=os.environ)
    return None


def check(
    config: TuningConfig, *, dest: str | None = None, billable_tokens: int | None = None
) -> Checked:
    """The pipeline's checks of `config` for the deployment `dest` names (see `deployment`)."""
    out = Checked()
    try:
        deps = deployment(dest)
        settings = deps.settings if deps is not None else Settings.from_env(os.environ)
    except ConfigError as e:
        out.errors.append(e.message)
        return out
    for p in config_checks.model_problems(settings, config):
        (out.errors if p.severity == "error" else out.warnings).append(p.message)
    if config.continue_from is not None and config.continue_from.run is not None:
        _continue_from(out, config, deps.store if deps is not None else None)
    problem = config_checks.budget_problem(settings, config, billable_tokens)
    if problem is not None:
        out.errors.append(problem)
    return out


def _continue_from(out: Checked, config: TuningConfig, store: RunStore | None) -> None:
    run = config.continue_from.run if config.continue_from else None
    if store is None:
        out.warnings.append(
            f"continue_from.run: run {run!r} not checked here: no pipeline to ask (no local one "
            "at the destination, $LOCAL_ROOT or ./local-pipeline, and BACKEND is not gcp); the "
            "pipeline checks it when the dataset arrives"
        )
        return
    try:
        config_checks.resolve_continue_from(store, config)
    except ConfigError as e:
        out.errors.append(e.message)
    except Exception as e:  # the cloud store: credentials, network
        out.warnings.append(f"continue_from.run: could not look up run {run!r}: {e}")
