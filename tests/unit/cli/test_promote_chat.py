"""`gemini-tuning promote` and `gemini-tuning chat` on a local root whose runs the simulator
trained through the pipeline: one-line errors with exit codes, never a traceback."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from shared.cli import main
from shared.pipeline import validation
from tests.unit.pipeline.conftest import ZH_EXAMPLES, World, make_world
from tests.unit.pipeline.trained import trained as succeeded

Capsys = pytest.CaptureFixture[str]


@pytest.fixture
def world(tmp_path: Path) -> World:
    return make_world(tmp_path / "w", max_jobs=2)


def trained(world: World, folder: str) -> str:
    return succeeded(world, world.drop_dataset(folder))


def cli(world: World, *args: str) -> int:
    return main([*args, "--root", str(world.root)])


def test_promote_show_and_rollback(world: World, capsys: Capsys) -> None:
    a, b = trained(world, "a"), trained(world, "b")
    assert cli(world, "promote", "--show") == 0
    assert "no production model yet" in capsys.readouterr().out
    assert cli(world, "promote", a, "--reason", "first bot", "--by", "carol") == 0
    assert f"promoted: run {a} is the production model" in capsys.readouterr().out
    assert cli(world, "promote", b, "--by", "carol") == 0
    assert f"(replacing {a})" in capsys.readouterr().out
    assert cli(world, "promote", "--show") == 0
    out = capsys.readouterr().out
    assert f"production model: run {b}" in out and "SIMULATED" in out
    assert "#1 " in out and "first bot" in out and "#2 " in out
    assert cli(world, "promote", "--rollback", "--reason", "complaints", "--by", "dan") == 0
    assert f"run {a} is the production model again (was {b})" in capsys.readouterr().out
    assert cli(world, "promote", "--show", "--json") == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["current"]["run_id"] == a and doc["current"]["rolled_back"] is True
    assert [h["sequence"] for h in doc["history"]] == [3, 2, 1]
    assert doc["current"]["promoted_by"] == "dan"


def test_promote_names_the_os_user_by_default(
    world: World, capsys: Capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("getpass.getuser", lambda: "erin")
    a = trained(world, "a")
    assert cli(world, "promote", a) == 0
    assert "by erin" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "code", "needle"),
    [
        (("promote", "nope"), 1, "no run 'nope'"),
        (("promote",), 2, "name the RUN_ID to promote"),
        (("promote", "x", "--rollback"), 2, "--rollback takes no RUN_ID"),
        (("promote", "--show", "--checkpoint", "1"), 2, "--show takes no --checkpoint"),
        (("promote", "--rollback"), 1, "no production model yet"),
        (("chat", "nope", "--prompt", "hi"), 1, "no run 'nope'"),
        (("chat", "nope", "--prompt", " "), 2, "--prompt is empty"),
    ],
)
def test_refusals_are_one_line(
    world: World, capsys: Capsys, args: tuple[str, ...], code: int, needle: str
) -> None:
    assert cli(world, *args) == code
    err = capsys.readouterr().err
    assert needle in err and "Traceback" not in err and err.count("\n") == 1


def test_refusals_for_runs_that_have_no_model(world: World, capsys: Capsys) -> None:
    out = validation.handle_upload(world.deps, world.drop_dataset("t"))
    assert out.run_id
    world.pump()
    assert cli(world, "promote", out.run_id) == 1
    assert "is TRAINING: only a SUCCEEDED run can be promoted" in capsys.readouterr().err
    assert cli(world, "chat", out.run_id, "--prompt", "hi") == 1
    assert "has no tuned model on record yet" in capsys.readouterr().err


def test_commands_refuse_a_root_without_a_pipeline(tmp_path: Path, capsys: Capsys) -> None:
    empty = tmp_path / "typo"
    assert main(["promote", "--show", "--root", str(empty)]) == 2
    assert "no local pipeline at" in capsys.readouterr().err
    assert main(["chat", "r", "--prompt", "hi", "--root", str(empty)]) == 2
    assert "no local pipeline at" in capsys.readouterr().err
    assert not empty.exists()


def test_chat_once_says_simulated_and_shows_the_base_answer(world: World, capsys: Capsys) -> None:
    rid = trained(world, "a")
    q, a = ZH_EXAMPLES[2]
    assert cli(world, "chat", rid, "--prompt", q, "--compare", "base") == 0
    out = capsys.readouterr().out
    assert out.startswith("SIMULATED: local mode")
    lines = out.splitlines()
    assert f"[tuned ({rid})] (simulated) {a}" in lines
    [base] = [line for line in lines if line.startswith("[base (")]
    assert a not in base


def test_chat_reads_questions_from_stdin_until_eof(
    world: World, capsys: Capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    rid, other = trained(world, "a"), trained(world, "b")
    assert cli(world, "promote", other) == 0
    capsys.readouterr()
    questions = [ZH_EXAMPLES[0][0], "", ZH_EXAMPLES[1][0]]
    monkeypatch.setattr("sys.stdin", io.StringIO("\n".join(questions) + "\n"))
    assert cli(world, "chat", rid, "--compare", "production") == 0
    lines = capsys.readouterr().out.splitlines()
    tuned = [line for line in lines if line.startswith(f"[tuned ({rid})]")]
    assert tuned == [f"[tuned ({rid})] (simulated) {ZH_EXAMPLES[i][1]}" for i in (0, 1)]
    assert len([line for line in lines if line.startswith(f"[production ({other})]")]) == 2
