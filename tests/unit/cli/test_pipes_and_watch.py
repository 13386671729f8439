"""Output that goes somewhere else than a terminal: pipes closed early, `--watch` into a file,
the width of piped tables, and the note when nothing advances the runs."""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from shared.cli import main
from shared.local.paths import LocalLayout
from shared.runs import RunStatus

from .runs import _new, _walk, rejected_run, store_for, succeeded_run

Cap = pytest.CaptureFixture[str]
REPO = Path(__file__).resolve().parents[3]


def _piped_into_head(*args: str) -> tuple[int, str]:
    """Run the CLI with stdout into a pipe whose reader leaves after 10 bytes (`| head -c 10`)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "shared.cli", *args],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.read(10)
    proc.stdout.close()
    err = proc.stderr.read().decode()
    return proc.wait(60), err


def test_status_and_validate_json_piped_into_head_end_quietly(tmp_path: Path) -> None:
    root = tmp_path / "root"
    store = store_for(root)
    for i in range(300):  # more than a pipe buffer of JSON
        succeeded_run(store, f"ds{i}")
    code, err = _piped_into_head("status", "--root", str(root), "--json", "--limit", "300")
    assert (code, err) == (0, "")
    big = tmp_path / "train.jsonl"
    big.write_text('{"contents": [}\n' * 3000)  # thousands of findings in the JSON
    code, err = _piped_into_head("validate", str(big), "--json", "--max-errors", "3000")
    assert (code, err) == (0, "")


def test_watch_into_a_pipe_writes_json_lines_and_ends_with_the_run(root: Path, capsys: Cap) -> None:
    run = rejected_run(store_for(root))
    code = main(["status", run.run_id, "--root", str(root), "--watch", "--json"])
    out = capsys.readouterr().out
    assert code == 0
    assert "\033[" not in out
    assert [json.loads(line)["status"] for line in out.splitlines()] == ["REJECTED"]


def test_a_piped_table_is_not_squeezed_to_80_columns(
    root: Path, capsys: Cap, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("COLUMNS", raising=False)  # as in a plain shell pipe
    rejected_run(store_for(root))
    assert main(["status", "--root", str(root)]) == 0
    out = capsys.readouterr().out
    assert max(len(line) for line in out.splitlines()) > 100, out


def test_status_says_when_no_runtime_advances_unfinished_runs(root: Path, capsys: Cap) -> None:
    store = store_for(root)
    _walk(store, _new(store, "waiting"), [(RunStatus.VALIDATING, None)])
    assert main(["status", "--root", str(root)]) == 0
    assert "no `gemini-tuning local` is running" in capsys.readouterr().err
    layout = LocalLayout(root)
    with layout.runtime_lock.open("a") as held:  # what a running `gemini-tuning local` holds
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        assert main(["status", "--root", str(root)]) == 0
        assert "no `gemini-tuning local`" not in capsys.readouterr().err


def test_a_finished_run_needs_no_runtime_note(root: Path, capsys: Cap) -> None:
    succeeded_run(store_for(root))
    assert main(["status", "--root", str(root)]) == 0
    assert capsys.readouterr().err == ""


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "root"
