"""`gemini-tuning demo` on a broken dataset and `gemini-tuning local` refusing a bad root."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from urllib.parse import unquote

import pytest

from shared.cli import main

REPO = Path(__file__).resolve().parents[3]
BROKEN = REPO / "examples" / "broken" / "json-error-line-3"

Cap = pytest.CaptureFixture[str]


def test_demo_on_a_broken_dataset_exits_1_and_shows_why(tmp_path: Path, capsys: Cap) -> None:
    root = tmp_path / "demo-root"
    code = main(
        [
            "demo",
            "--dataset",
            str(BROKEN),
            "--training-seconds",
            "0.5",
            "--timeout",
            "30",
            "--root",
            str(root),
        ]
    )
    out = capsys.readouterr().out
    assert code == 1
    assert "REJECTED" in out
    assert "finished in" in out and "with status REJECTED" in out
    assert "invalid_json" in out and "train.jsonl:3" in out
    # --root keeps the files: the dropped copy is byte-for-byte the example.
    dropped = root / "bucket" / "incoming" / BROKEN.name / "train.jsonl"
    assert dropped.read_bytes() == (BROKEN / "train.jsonl").read_bytes()


def test_demo_without_root_keeps_its_temp_folder_so_every_printed_link_works(
    tmp_path: Path, capsys: Cap, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    code = main(["demo", "--dataset", str(BROKEN), "--training-seconds", "0.5"])
    out = capsys.readouterr().out
    assert code == 1 and "REJECTED" in out
    (kept,) = tmp_path.glob("gtp-demo-*")
    assert f"demo: files kept in {kept}" in out
    links = re.findall(r"file://(\S+)", out)
    assert links, out
    for link in links:
        assert Path(unquote(link)).exists(), link


def test_demo_without_a_train_file_exits_2(tmp_path: Path, capsys: Cap) -> None:
    code = main(["demo", "--dataset", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2
    assert "train.jsonl not found" in err and "--dataset" in err


def test_local_with_a_root_that_is_a_file_exits_2(tmp_path: Path, capsys: Cap) -> None:
    afile = tmp_path / "root.txt"
    afile.write_text("I am a file")
    code = main(["local", "--root", str(afile)])
    err = capsys.readouterr().err
    assert code == 2
    assert "is a file" in err and "pass a folder" in err and "Traceback" not in err
    assert afile.read_text() == "I am a file"


def test_local_inside_a_file_exits_2(tmp_path: Path, capsys: Cap) -> None:
    afile = tmp_path / "root.txt"
    afile.write_text("I am a file")
    code = main(["local", "--root", str(afile / "sub")])
    err = capsys.readouterr().err
    assert code == 2
    assert "cannot use --root" in err and "Traceback" not in err


@pytest.mark.parametrize("tick", ["0", "abc", "-1"])
def test_local_with_a_bad_tick_is_a_usage_error(capsys: Cap, tick: str) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["local", "--tick", tick])
    assert exit_info.value.code == 2
    assert "--tick" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("option", "value"),
    [("--training-seconds", "-1"), ("--training-seconds", "nan"), ("--timeout", "0")],
)
def test_demo_refuses_bad_seconds_before_starting_anything(
    tmp_path: Path, capsys: Cap, option: str, value: str
) -> None:
    """A negative training time used to leave the run stuck in TRAINING until the timeout."""
    root = tmp_path / "kept"
    with pytest.raises(SystemExit) as exit_info:
        main(["demo", "--dataset", str(BROKEN), option, value, "--root", str(root)])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert option in err and "seconds" in err
    assert not root.exists()
