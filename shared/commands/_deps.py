"""How CLI commands pick the deployment they talk to: `--root DIR` (local) or the environment.

The CLI is an edge: it reads the process environment here and hands explicit settings to the
composition root, so nothing below it reads `os.environ`.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from shared import composition
from shared.settings import Settings

DEFAULT_LOCAL_ROOT = "local-pipeline"


def add_root_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--root",
        metavar="DIR",
        help="local backend root (default: $LOCAL_ROOT or ./local-pipeline); "
        "with BACKEND=gcp in the environment the cloud backend is used instead",
    )


def local_root(args: argparse.Namespace) -> Path:
    return Path(args.root or os.environ.get("LOCAL_ROOT") or DEFAULT_LOCAL_ROOT).resolve()


def existing_deps(args: argparse.Namespace) -> composition.LazyDeps | None:
    """`deps_for`, or None (the reason printed) when a local root holds no pipeline: a typo in
    --root must not quietly create an empty store there."""
    deps = deps_for(args)
    if deps.settings.backend != "local" or deps.layout.runs_db.is_file():
        return deps
    print(
        f"error: no local pipeline at {deps.layout.root}; pass the --root of "
        "`gemini-tuning local`, or set BACKEND=gcp for the cloud",
        file=sys.stderr,
    )
    return None


def report(error: BaseException, doing: str) -> int:
    """Print a step's error as one line and return the exit code: 1 for a refusal the person
    can act on (`PermanentError`), 2 for a store or network problem (the deployment)."""
    from shared.errors import PermanentError, PipelineError

    if isinstance(error, PermanentError):
        print(f"error: {error.message}", file=sys.stderr)
        return 1
    msg = error.message if isinstance(error, PipelineError) else str(error)
    print(f"error: could not {doing}: {msg}", file=sys.stderr)
    return 2


def deps_for(args: argparse.Namespace) -> composition.LazyDeps:
    """The deployment a command talks to: local unless BACKEND=gcp and no --root was given."""
    if os.environ.get("BACKEND") == "gcp" and not getattr(args, "root", None):
        return composition.LazyDeps(Settings.from_env(os.environ))
    return composition.local_deps(local_root(args), env=os.environ)
