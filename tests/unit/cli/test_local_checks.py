"""One set of checks (issue 17): `validate --config`, `submit` and `start` refuse what the
pipeline would refuse after the upload — a retired model, a `continue_from` naming no run, a
budget for a model without a known price — with exit 1 and the pipeline's own message."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.cli import main
from shared.pipeline import launch, validation
from shared.runs import RunStatus
from tests.unit.pipeline.conftest import World, dataset_bytes, make_world

S = RunStatus
Capsys = pytest.CaptureFixture[str]
PAIRS = [("你好", "您好，请问有什么可以帮您？"), ("退款", "请提供订单号。")] * 6

RETIRED = "source_model_name: gemini-2.5-flash\n"
NO_SUCH_RUN = "continue_from: {run: nope}\n"
#: A model the catalog knows no training price for, under a budget: the guard cannot check it.
UNPRICED = "source_model_name: gemini-3.5-flash-lite\nbudget: {max_run_usd: 5}\n"


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> World:
    w = make_world(tmp_path)
    for name in ("BACKEND", "MAX_RUN_USD", "MAX_MONTH_USD", "MODEL_CATALOG_OVERRIDES"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LOCAL_ROOT", str(w.root))  # the pipeline `validate` asks
    return w


def _folder(tmp_path: Path, tuning_yaml: str) -> Path:
    folder = tmp_path / "ds"
    folder.mkdir(exist_ok=True)
    (folder / "train.jsonl").write_bytes(dataset_bytes(PAIRS))
    (folder / "tuning.yaml").write_text(tuning_yaml, encoding="utf-8")
    return folder


def _pipeline_says(world: World, tuning_yaml: str) -> tuple[RunStatus, str]:
    """What the pipeline makes of the same folder: the run's status and error message."""
    rid = validation.handle_upload(
        world.deps, world.drop_dataset("p", train=dataset_bytes(PAIRS), tuning_yaml=tuning_yaml)
    ).run_id
    assert rid is not None
    if world.run(rid).status == S.VALIDATED:
        launch.handle_validated(world.deps, rid)
    run = world.run(rid)
    assert run.error is not None, run.status
    return run.status, run.error.message


def _errors(err: str, prog: str) -> list[str]:
    return [
        line.removeprefix(f"{prog}: error: ") for line in err.splitlines() if ": error: " in line
    ]


@pytest.mark.parametrize(
    "tuning_yaml", [RETIRED, NO_SUCH_RUN, UNPRICED], ids=["retired", "no-run", "unpriced"]
)
def test_validate_config_refuses_what_the_pipeline_refuses_with_its_message(
    tuning_yaml: str, world: World, tmp_path: Path, capsys: Capsys
) -> None:
    status, message = _pipeline_says(world, tuning_yaml)
    assert status in (S.REJECTED, S.FAILED)
    folder = _folder(tmp_path, tuning_yaml)
    capsys.readouterr()
    code = main(["validate", str(folder / "train.jsonl"), "--config", str(folder / "tuning.yaml")])
    said = _errors(capsys.readouterr().err, "gemini-tuning validate")
    assert code == 1
    assert len(said) == 1
    # The launcher adds how to retry the run; the check itself is word for word the same.
    assert message.startswith(said[0].removesuffix(".")), (said, message)


@pytest.mark.parametrize(
    "tuning_yaml", [RETIRED, NO_SUCH_RUN, UNPRICED], ids=["retired", "no-run", "unpriced"]
)
def test_submit_refuses_it_before_uploading_anything(
    tuning_yaml: str, world: World, tmp_path: Path, capsys: Capsys
) -> None:
    folder = _folder(tmp_path, tuning_yaml)
    bucket = world.root / "bucket"
    assert main(["submit", str(folder), "--to", str(bucket), "--name", "s"]) == 1
    err = capsys.readouterr().err
    assert "nothing was uploaded" in err
    assert not (bucket / "incoming" / "s").exists()


def test_start_refuses_a_retired_model_before_copying(
    world: World, tmp_path: Path, capsys: Capsys
) -> None:
    (tmp_path / "train.jsonl").write_bytes(dataset_bytes(PAIRS))
    config = tmp_path / "config.yaml"
    config.write_text("train_dataset: train.jsonl\n" + RETIRED, encoding="utf-8")
    assert main(["start", "--config", str(config), "--root", str(world.root)]) == 1
    assert "was retired" in capsys.readouterr().err
    assert not (world.root / "bucket" / "incoming").exists() or not any(
        (world.root / "bucket" / "incoming").iterdir()
    )


def test_a_continue_from_that_names_a_succeeded_run_passes(
    world: World, tmp_path: Path, capsys: Capsys
) -> None:
    from tests.unit.pipeline.trained import trained

    rid = trained(world, world.drop_dataset("a"))  # SUCCEEDED, from the default model
    folder = _folder(tmp_path, f"continue_from: {{run: {rid}}}\n")
    code = main(["validate", str(folder / "train.jsonl"), "--config", str(folder / "tuning.yaml")])
    assert code == 0, capsys.readouterr().err


def test_start_from_gs_paths_runs_the_same_checks_before_any_copy(
    world: World, tmp_path: Path, capsys: Capsys
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("train_dataset: gs://theirs/train.jsonl\n" + RETIRED, encoding="utf-8")
    assert main(["start", "--config", str(config), "--root", str(world.root)]) == 1
    err = capsys.readouterr().err
    assert "gemini-tuning start: error: gemini-2.5-flash was retired" in err
    assert "copied" not in err
