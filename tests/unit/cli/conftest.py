"""CLI tests run `shared.cli.main([...])` in-process on temp folders only.

Commands read and write process-wide state (the environment, the functions' cached backend, the
current directory for the default root), so every test gets a clean copy and leaves none behind.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from shared.composition import install as install_deps


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    saved = dict(os.environ)
    for var in list(os.environ):
        if var in ("BACKEND", "LOCAL_ROOT") or var.startswith("SIM_"):
            monkeypatch.delenv(var)
    monkeypatch.setenv("COLUMNS", "200")  # rich tables on one line each, whatever the terminal
    monkeypatch.chdir(tmp_path)
    install_deps(None)
    try:
        yield
    finally:
        install_deps(None)
        os.environ.clear()
        os.environ.update(saved)
