"""What a careless user types gets a clear word, not a surprise (issue 17): an unknown run to
cancel, a retry that would pay for a second job, a watch that never ends, log lines in a
command's output, two runtimes on one root."""

from __future__ import annotations

import fcntl
from pathlib import Path

import pytest

from shared import logs
from shared.cli import main
from shared.local.paths import LocalLayout
from tests.unit.pipeline.conftest import World, make_world
from tests.unit.pipeline.trained import trained

Capsys = pytest.CaptureFixture[str]


@pytest.fixture
def world(tmp_path: Path) -> World:
    return make_world(tmp_path / "w", max_jobs=2)


def cli(world: World, *args: str) -> int:
    return main([*args, "--root", str(world.root)])


def test_cancel_of_an_unknown_run_says_there_is_no_such_run(world: World, capsys: Capsys) -> None:
    assert cli(world, "cancel", "nope") == 1
    err = capsys.readouterr().err
    assert "no run 'nope'" in err and "message" not in err


def test_retry_of_a_succeeded_run_asks_for_yes_before_paying_again(
    world: World, capsys: Capsys
) -> None:
    rid = trained(world, world.drop_dataset("a"))
    before = len(world.store.list_recent())
    assert cli(world, "retry", rid) == 1
    assert "--yes" in capsys.readouterr().err
    assert len(world.store.list_recent()) == before  # no new run, no job
    assert cli(world, "retry", rid, "--yes") == 0
    assert len(world.store.list_recent()) == before + 1


def test_status_watch_without_a_run_says_how_it_ends(
    world: World, capsys: Capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupt(_: float) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("time.sleep", interrupt)
    assert cli(world, "status", "--watch") == 0
    assert "Ctrl-C" in capsys.readouterr().err


def test_promote_prints_no_log_lines(
    world: World, capsys: Capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    rid = trained(world, world.drop_dataset("a"))
    capsys.readouterr()
    monkeypatch.setattr(logs, "_level", None)  # as in a fresh process
    assert cli(world, "promote", rid) == 0
    captured = capsys.readouterr()
    assert "[info" not in captured.out + captured.err
    assert f"run {rid} is the production model" in captured.out


def test_a_second_local_on_one_root_is_refused(tmp_path: Path, capsys: Capsys) -> None:
    root = tmp_path / "root"
    layout = LocalLayout(root).create()
    with layout.runtime_lock.open("a") as held:  # what a running `local` holds
        fcntl.flock(held.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        assert main(["local", "--root", str(root)]) == 2
    assert "already running" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("command", "value", "said"),
    [
        ("local", "0", "0 workers would do nothing: use a whole number from 1 to 8"),
        ("local", "9", "9 is out of range"),
        ("validate", "0", "0 workers would do nothing: use a whole number from 1 to 64 or auto"),
        ("validate", "-2", "-2 is out of range"),
        ("validate", "many", "'many' is not a whole number"),
    ],
)
def test_workers_0_or_out_of_range_is_refused_with_what_to_write(
    command: str, value: str, said: str, tmp_path: Path, capsys: Capsys
) -> None:
    target = ["--root", str(tmp_path)] if command == "local" else [str(tmp_path / "t.jsonl")]
    with pytest.raises(SystemExit) as exit_:
        main([command, *target, "--workers", value])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert f"argument --workers: {said}" in err and "Traceback" not in err


def test_validate_workers_auto_is_one_per_core_at_most_8() -> None:
    import os

    from shared.commands._workers import workers_type

    assert workers_type(64, auto=True)("auto") == min(8, os.cpu_count() or 1)
    assert workers_type(64, auto=True)("3") == 3
