"""Hostile and careless drops into the local bucket, through the real in-process runtime:
every one ends as at most one run that says why, logged once, never a traceback loop."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import pytest

from shared.host.runtime import LocalRuntime, RuntimeOptions
from shared.host.sources import open_for_writing
from shared.local.store import SqliteRunStore
from shared.runs import Run
from tests.e2e.test_local_faults import StartStack, stack, wait_for_run
from tests.e2e.test_local_runtime import EXAMPLE

__all__ = ["stack"]  # the fixture, imported so pytest finds it here

LINES = (EXAMPLE / "train.jsonl").read_bytes().splitlines(keepends=True)


def _runs(runtime: LocalRuntime) -> list[Run]:
    return SqliteRunStore(runtime.layout.runs_db).list_recent(limit=50)


@pytest.mark.parametrize("kind", ["symlink-out", "dangling-symlink", "backslash-folder"])
def test_an_unsafe_name_is_one_rejected_run_logged_once(
    stack: StartStack, tmp_path: Path, caplog: pytest.LogCaptureFixture, kind: str
) -> None:
    caplog.set_level(logging.INFO, logger="gemini_tuning")
    rt = stack()
    outside = tmp_path / "outside.jsonl"
    outside.write_bytes(b"".join(LINES))
    if kind == "backslash-folder":
        folder = rt.layout.incoming / "a\\b"
        folder.mkdir(parents=True)
        (folder / "train.jsonl").write_bytes(b"".join(LINES))
    else:
        folder = rt.layout.incoming / "evil"
        folder.mkdir(parents=True)
        target = outside if kind == "symlink-out" else tmp_path / "missing"
        (folder / "train.jsonl").symlink_to(target)
    run = wait_for_run(rt, lambda r: r.is_terminal)
    time.sleep(1.2)  # two more rescans: nothing new may happen
    assert rt.run_until_idle(10)
    assert [r.run_id for r in _runs(rt)] == [run.run_id]
    assert run.status == "REJECTED"
    assert run.error is not None and run.error.code == "unsafe_object_name"
    assert run.validation.findings[0]["code"] == "unsafe_object_name"
    assert "rename" in run.error.message.lower() or "remove the link" in run.error.message
    refused = [r for r in caplog.records if "refused" in r.getMessage()]
    assert len(refused) == 1, [r.getMessage() for r in caplog.records]
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"


def test_a_slowly_written_train_file_starts_exactly_one_run(stack: StartStack) -> None:
    rt = stack()
    folder = rt.layout.incoming / "slow"
    folder.mkdir(parents=True)
    half = len(LINES) // 2
    with (folder / "train.jsonl").open("wb") as f:
        for chunk in (LINES[:3], LINES[3:half], [LINES[half][:10]]):
            f.writelines(chunk)
            f.flush()
            time.sleep(0.6)  # longer than settle (0.1 s) and than a rescan
            assert _runs(rt) == [], "a file still open for writing started a run"
        f.write(LINES[half][10:])
        f.writelines(LINES[half + 1 :])
    run = wait_for_run(rt, lambda r: r.status not in ("RECEIVED", "VALIDATING"))
    assert run.status in ("VALIDATED", "QUEUED", "TRAINING"), run.error
    assert run.validation.summary["examples"] == len(LINES)


def test_a_line_cut_off_without_an_open_writer_waits_for_the_rest(tmp_path: Path) -> None:
    """A writer that closes mid-line (e.g. `dd` in blocks, an scp that resumes) is not done."""
    rt = LocalRuntime(
        tmp_path / "root",
        routes=[],
        options=RuntimeOptions(tick=0, settle=0.05, rescan=0.2, use_watchdog=False),
    )
    folder = rt.layout.incoming / "cut"
    folder.mkdir(parents=True)
    path = folder / "train.jsonl"
    path.write_bytes(LINES[0] + LINES[1][:7])
    rt.watcher.scan()
    deadline = time.monotonic() + 0.5  # 10 settle times: still waiting
    while time.monotonic() < deadline:
        rt.watcher._check_pending()
        time.sleep(0.02)
    assert rt.watcher._pending, "a cut-off line fired before the long grace"
    with path.open("ab") as f:
        f.write(LINES[1][7:])
    deadline = time.monotonic() + 2
    while rt.watcher._pending and time.monotonic() < deadline:
        rt.watcher._check_pending()
        time.sleep(0.02)
    assert not rt.watcher._pending
    rt.bus.close()


def test_open_for_writing_sees_a_writer_and_not_a_reader(tmp_path: Path) -> None:
    path = tmp_path / "f.jsonl"
    path.write_bytes(b"{}\n")
    assert not open_for_writing(path)
    with path.open("rb"):
        assert not open_for_writing(path)
    with path.open("ab"):
        assert open_for_writing(path)
    fd = os.open(path, os.O_RDWR)
    try:
        assert open_for_writing(path)
    finally:
        os.close(fd)
    assert not open_for_writing(path)


def test_hidden_folders_and_a_folder_named_train_jsonl_start_nothing_and_log_once(
    stack: StartStack, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="gemini_tuning.local")
    rt = stack()
    (rt.layout.incoming / ".draft").mkdir(parents=True)
    (rt.layout.incoming / ".draft" / "train.jsonl").write_bytes(b"".join(LINES))
    (rt.layout.incoming / "odd" / "train.jsonl").mkdir(parents=True)
    time.sleep(1.3)  # a few rescans
    assert rt.run_until_idle(10)
    assert _runs(rt) == []
    ignored = [r.getMessage() for r in caplog.records if r.getMessage().startswith("ignored")]
    assert sum(".draft" in m for m in ignored) == 1, ignored
    named = "odd/train.jsonl: a folder named like a dataset file"
    assert sum(m.endswith(named) for m in ignored) == 1, ignored


def test_a_deleted_state_database_stops_the_runtime_with_the_reason(stack: StartStack) -> None:
    rt = stack()
    rt.layout.runs_db.unlink()
    assert rt.stopped.wait(5), "the runtime did not notice its run store was deleted"
    assert rt.failure is not None and str(rt.layout.runs_db) in rt.failure
    assert "start `gemini-tuning local` again" in rt.failure


def test_a_full_disk_is_one_line_when_it_starts_and_one_when_it_clears(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sqlite3

    from shared.host.sources import Ticker
    from shared.local.bus import SqliteBus

    caplog.set_level(logging.INFO, logger="gemini_tuning.local")
    bus = SqliteBus(tmp_path / "bus.sqlite")
    full = True

    def publish(*args: object, **kw: object) -> None:
        if full:
            raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(bus, "publish", publish)
    ticker = Ticker(bus, "local-poller", 0.01)
    ticker.start()
    time.sleep(0.3)  # ~30 failing ticks
    full = False
    time.sleep(0.1)
    ticker.stop()
    bus.close()
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2, lines
    assert "the disk is full" in lines[0] and "Free some space" in lines[0]
    assert "working again" in lines[1]
    assert not [r for r in caplog.records if r.exc_info]
