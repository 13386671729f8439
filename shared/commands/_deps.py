"""How CLI commands pick the deployment they talk to: `--root DIR` (local) or the environment.

The CLI is an edge: it reads the process environment here and hands explicit settings to the
composition root, so nothing below it reads `os.environ`.
"""

from __future__ import annotations

import argparse
import os
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


def deps_for(args: argparse.Namespace) -> composition.LazyDeps:
    """The deployment a command talks to: local unless BACKEND=gcp and no --root was given."""
    if os.environ.get("BACKEND") == "gcp" and not getattr(args, "root", None):
        return composition.LazyDeps(Settings.from_env(os.environ))
    return composition.local_deps(local_root(args), env=os.environ)
