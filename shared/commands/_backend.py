"""How CLI commands pick the backend: `--root DIR` (local) or the deployment's environment."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from shared.backend import Backend
from shared.config import Settings

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


def backend_for(args: argparse.Namespace) -> Backend:
    """The backend a command talks to: local unless BACKEND=gcp and no --root was given."""
    if os.environ.get("BACKEND") == "gcp" and not getattr(args, "root", None):
        return Backend(Settings.from_env())
    env = dict(os.environ)
    env["BACKEND"] = "local"
    env["LOCAL_ROOT"] = str(local_root(args))
    return Backend(Settings.from_env(env))
