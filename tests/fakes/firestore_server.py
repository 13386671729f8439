"""The npm Firestore fake (`tests/fakes/firestore/`): install on first use, start on 127.0.0.1.

Limits of this fake (the adapter is designed within them; tests that need more are marked
`official_emulator`): transactions never conflict, no nested-field filters, cursors/offset,
collection groups, DELETE_FIELD, BulkWriter or list_documents.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tests.fakes.procs import Server, free_port, start

HERE = Path(__file__).parent / "firestore"
_INSTALLED = HERE / "node_modules" / "@firestore-emulator" / "server" / "package.json"


def ensure_installed() -> str | None:
    """Run `npm ci` once if node_modules is missing; return why it cannot run, or None."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        return "node/npm not found (needed for the Firestore fake; or set FIRESTORE_EMULATOR_HOST)"
    if _INSTALLED.exists():
        return None
    done = subprocess.run(
        ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=HERE,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if done.returncode != 0:
        return f"`npm ci` in {HERE} failed: {done.stderr.strip()[-500:]}"
    return None


def start_firestore() -> Server:
    port = free_port()
    return start(
        "firestore-fake", ["node", str(HERE / "start.mjs"), str(port)], port, cwd=str(HERE)
    )


@contextlib.contextmanager
def emulator_env(host: str) -> Iterator[None]:
    """Set FIRESTORE_EMULATOR_HOST only while a client is built (the client reads it then)."""
    old = os.environ.get("FIRESTORE_EMULATOR_HOST")
    os.environ["FIRESTORE_EMULATOR_HOST"] = host
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("FIRESTORE_EMULATOR_HOST", None)
        else:
            os.environ["FIRESTORE_EMULATOR_HOST"] = old


def firestore_client(host: str, project: str, database: str = "(default)") -> Any:
    from google.cloud import firestore

    with emulator_env(host):
        return firestore.Client(project=project, database=database)
