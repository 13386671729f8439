"""Issue 21 end to end, as a user runs it: `gemini-tuning local` trains and auto-promotes a model
on gemini-3.5-flash; restarted with a catalog in which that base model retires in 20 days and a
simulated Vertex AI that lacks one catalog model and lists an extra one, it posts one 30-day
warning and both catalog differences to the chat (not once per tick, not again after another
restart), shows them on the status page and in `status`; `retune` then trains the replacement,
evaluates it against production and promotes it."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from shared.local.paths import LocalLayout
from shared.local.production import SqliteProductionStore
from shared.local.store import SqliteRunStore
from tests.fakes.webhook import webhook
from tests.unit.pipeline.conftest import ZH_EXAMPLES, dataset_bytes
from tests.unit.pipeline.test_promote import TEST_SET

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow
YAML = (
    "evaluation: {auto_promote: true, gates: {chrf: {min_delta: 0.05}}, "
    "production_gates: {chrf: {min_delta: -0.9}}}\n"
)
SIM = {"SIM_CATALOG_GONE": "gemini-3.5-flash-lite", "SIM_CATALOG_NEW": "gemini-3.9-flash"}


def _env(root: Path, **extra: str) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "LOG_LEVEL": "WARNING", "BACKEND": "local"}
    env.update({"LOCAL_ROOT": str(root), "SIM_TRAINING_SECONDS": "1", **extra})
    return env


def _local(root: Path, env: dict[str, str], *args: str) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "shared.cli", "local", "--root", str(root), "--tick", "0.3"]
    return subprocess.Popen(
        [*cmd, *args], env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )


def _stop(proc: subprocess.Popen[bytes]) -> bytes:
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    return err


def _until(pred: Callable[[], Any], timeout: float = 90.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = pred()
        if got:
            return got
        time.sleep(0.2)
    raise AssertionError("timed out")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_retirement_watch_catalog_check_and_retune_in_local_mode(tmp_path: Path) -> None:
    root = tmp_path / "root"
    folder = root / "bucket" / "incoming" / "bot"
    folder.mkdir(parents=True)
    (root / "artifacts").mkdir()
    production = SqliteProductionStore(LocalLayout(root).runs_db)
    with webhook() as hook:
        # 1. A production model on gemini-3.5-flash (the catalog as shipped); the simulated
        # Vertex AI lacks a catalog model and lists an extra one (the weekly check's first run).
        proc = _local(root, _env(root, **SIM), "--notify", hook.url)
        try:
            (folder / "tuning.yaml").write_text(YAML)
            (folder / "test.jsonl").write_bytes(TEST_SET)
            (folder / "train.jsonl").write_bytes(dataset_bytes(ZH_EXAMPLES))
            first = _until(lambda: production.current())
        finally:
            err = _stop(proc)
        assert b"Traceback" not in err, err.decode()
        old = first.run_id
        # 2. Google moves the date: the base model retires in 20 days.
        retires = (datetime.now(UTC).date() + timedelta(days=20)).isoformat()
        over = {"gemini-3.5-flash": {"lifecycle": {"retires": retires,
                "replacement": "gemini-3.1-flash-lite"}}}  # fmt: skip
        env = _env(root, MODEL_CATALOG_OVERRIDES=json.dumps(over), **SIM)
        port = _free_port()
        proc = _local(root, env, "--notify", hook.url, "--port", str(port))
        try:
            _until(lambda: any("retires on" in p["text"] for p in hook.posts))
            time.sleep(3)  # ten more ticks
            page = _until(lambda: _get(f"http://127.0.0.1:{port}/"))
        finally:
            err = _stop(proc)
        assert b"Traceback" not in err, err.decode()
        texts = [p["text"] for p in hook.posts]
        lifecycle = [t for t in texts if "retires on" in t]
        assert len(lifecycle) == 1, texts
        assert "in 20 days" in lifecycle[0]
        assert f"gemini-tuning retune {old} --model gemini-3.1-flash-lite" in lifecycle[0]
        catalog = [t for t in texts if "models changed" in t]
        assert len(catalog) == 2, texts
        assert "gemini-3.9-flash" in " ".join(catalog)
        assert "gemini-3.5-flash-lite" in " ".join(catalog)
        assert "retires on " + retires in page and "CATALOG (" in page
        status = subprocess.run(
            [sys.executable, "-m", "shared.cli", "status", "--root", str(root)],
            env=env, cwd=REPO, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert f"LIFECYCLE: gemini-3.5-flash retires on {retires}" in status.stdout
        # 3. Restarted: the warnings were sent, nothing is posted again; retune the model.
        before = len(hook.posts)
        proc = _local(root, env, "--notify", hook.url)
        try:
            done = subprocess.run(
                [sys.executable, "-m", "shared.cli", "retune", old, "--root", str(root)],
                env=env, cwd=REPO, capture_output=True, text=True, timeout=120,
            )  # fmt: skip
            assert done.returncode == 0, done.stderr
            assert "on gemini-3.1-flash-lite" in done.stdout
            new = _until(lambda: _promoted_other_than(production, old), timeout=120)
        finally:
            err = _stop(proc)
        assert b"Traceback" not in err, err.decode()
        later = [p["text"] for p in hook.posts[before:]]
        assert not [t for t in later if "retires on" in t or "models changed" in t], later
    run = SqliteRunStore(LocalLayout(root).runs_db).get(new)
    assert run is not None and run.retune_of == old and run.config is not None
    assert run.config.source_model_name == "gemini-3.1-flash-lite"
    vs = run.evaluation.vs_production
    assert vs is not None and vs["production_run"] == old and vs["passed"] is True


def _get(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return str(resp.read().decode())
    except OSError:
        return None


def _promoted_other_than(production: SqliteProductionStore, old: str) -> str | None:
    current = production.current()
    return current.run_id if current is not None and current.run_id != old else None
