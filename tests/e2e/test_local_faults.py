"""Reliability cases of the issue, through the real in-process runtime and the real functions.

Faults are injected with the simulator's control file (`<root>/state/simulator.json`), the way a
person would switch them on during a demo; the assertions read the run store, the simulator's
jobs and the bus, never the calls the pipeline made.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from shared.cli import main as cli_main
from shared.host.runtime import LocalRuntime, RuntimeOptions
from shared.local.bus import SubscriptionPolicy
from shared.local.store import SqliteRunStore
from shared.runs import Run
from shared.simulator.tuner import SimulatedTuner, control_file
from tests.e2e.test_local_runtime import EXAMPLE, REPO, _drop

BROKEN = REPO / "examples" / "broken"
MAX_ATTEMPTS = 3
OPTIONS = RuntimeOptions(
    tick=0.3,
    settle=0.1,
    rescan=0.5,
    policy=SubscriptionPolicy(
        ack_deadline=30, max_attempts=MAX_ATTEMPTS, min_backoff=0.05, max_backoff=0.2
    ),
)
PIPELINE_SUBS = ("local-validator", "local-launcher", "local-evaluator")

StartStack = Callable[..., LocalRuntime]


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[StartStack]:
    """Start the real-pipeline runtime on a temp root with simulator settings; always stop it.
    The host configures the functions explicitly: it must not touch the process environment."""
    saved = dict(os.environ)
    started: list[LocalRuntime] = []

    def start(**sim: Any) -> LocalRuntime:
        root = tmp_path / "root"
        control = control_file(root)
        control.parent.mkdir(parents=True, exist_ok=True)
        control.write_text(json.dumps({"training_seconds": 0.5, "queued_fraction": 0, **sim}))
        before = dict(os.environ)
        runtime = LocalRuntime(root, options=OPTIONS)
        started.append(runtime.start())
        assert dict(os.environ) == before, "the local host wrote to os.environ"
        return runtime

    try:
        yield start
    finally:
        for rt in started:
            rt.stop()
        os.environ.clear()
        os.environ.update(saved)


def wait_for_run(runtime: LocalRuntime, pred: Callable[[Run], bool], timeout: float = 20) -> Run:
    """The only run, once `pred` holds for it (the store is polled, as `status --watch` does)."""
    store = SqliteRunStore(runtime.layout.runs_db)
    deadline = time.monotonic() + timeout
    runs: list[Run] = []
    while time.monotonic() < deadline:
        runs = store.list_recent(limit=10)
        if runs and pred(runs[0]):
            assert len(runs) == 1, [r.run_id for r in runs]
            return runs[0]
        time.sleep(0.05)
    raise AssertionError(f"timed out; runs: {[(r.status, r.history) for r in runs]}")


def settled(runtime: LocalRuntime) -> bool:
    """Every pipeline message acked or dead-lettered (ticks aside) and the dead letters told."""
    assert runtime.run_until_idle(10)
    return runtime.bus.pending(PIPELINE_SUBS) == 0


def test_transient_503s_from_vertex_are_retried_to_one_successful_job(
    stack: StartStack, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="gemini_tuning.local")
    runtime = stack(transient_errors=2)
    _drop(runtime.layout.root, EXAMPLE, "zh")
    run = wait_for_run(runtime, lambda r: r.is_terminal)
    assert run.status == "SUCCEEDED", run.history
    tuner = SimulatedTuner.from_root(runtime.layout.root)
    assert len(tuner.find_jobs(run.run_id)) == 1
    assert settled(runtime)
    # The 503s really happened: the launcher needed three deliveries (the last one succeeded).
    retries = [r.getMessage() for r in caplog.records if r.getMessage().startswith("retry")]
    assert len(retries) == 2, retries
    assert all("launcher" in m and "503" in m for m in retries), retries
    assert runtime.bus.dead_letters() == []


def test_permanent_400_on_create_fails_the_run_with_the_message_and_acks(
    stack: StartStack,
) -> None:
    runtime = stack(permanent_error="Base model gemini-9 is not supported for tuning.")
    _drop(runtime.layout.root, EXAMPLE, "zh")
    run = wait_for_run(runtime, lambda r: r.is_terminal)
    assert run.status == "FAILED", run.history
    assert run.error is not None
    assert run.error.stage == "launch"
    assert "400 Base model gemini-9 is not supported for tuning." in run.error.message
    assert settled(runtime)
    assert runtime.bus.dead_letters() == []  # acknowledged, not retried to death
    assert SimulatedTuner.from_root(runtime.layout.root).find_jobs(run.run_id) == []


def test_a_message_that_always_fails_is_dead_lettered_and_the_run_says_why(
    stack: StartStack,
) -> None:
    runtime = stack(transient_errors=1000)
    _drop(runtime.layout.root, EXAMPLE, "zh")
    run = wait_for_run(runtime, lambda r: r.is_terminal)
    assert run.status == "FAILED", run.history
    assert run.error is not None
    assert run.error.code == "dead_lettered"
    assert run.error.stage == "launcher"
    assert f"dead-lettered after {MAX_ATTEMPTS} attempts" in run.error.message
    assert "503" in run.error.message  # and why: the last error
    assert settled(runtime)
    dead = runtime.bus.dead_letters("local-launcher")
    assert len(dead) == 1 and dead[0].attempts == MAX_ATTEMPTS
    assert runtime.bus.dead_letters("local-validator") == []


@pytest.mark.parametrize(
    ("folder", "code", "line"),
    [("json-error-line-3", "invalid_json", 3), ("legacy-messages", "legacy_messages_format", 1)],
)
def test_a_malformed_dataset_is_rejected_with_findings_and_left_untouched(
    stack: StartStack, capsys: pytest.CaptureFixture[str], folder: str, code: str, line: int
) -> None:
    runtime = stack()
    _drop(runtime.layout.root, BROKEN / folder, folder)
    uploaded = runtime.layout.incoming / folder / "train.jsonl"
    before = uploaded.stat().st_mtime_ns
    run = wait_for_run(runtime, lambda r: r.is_terminal)
    assert run.status == "REJECTED", run.history
    assert settled(runtime)

    capsys.readouterr()
    assert cli_main(["status", run.run_id, "--root", str(runtime.layout.root), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["run_id"] == run.run_id and doc["status"] == "REJECTED"
    assert doc["error"]["stage"] == "validation"
    findings = doc["validation"]["findings"]
    assert findings and all({"code", "line", "message", "file", "path"} <= set(f) for f in findings)
    hit = [f for f in findings if f["code"] == code]
    assert hit, findings
    assert hit[0]["line"] == line
    assert hit[0]["file"].endswith(f"incoming/{folder}/train.jsonl")
    assert hit[0]["message"]

    assert uploaded.read_bytes() == (BROKEN / folder / "train.jsonl").read_bytes()
    assert uploaded.stat().st_mtime_ns == before
