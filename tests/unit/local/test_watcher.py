"""The bucket watcher fires a file only when it, and everything beside it, has settled."""

from __future__ import annotations

from pathlib import Path

from shared.host.sources import STORAGE_TOPIC, BucketWatcher
from shared.local.blobs import FolderBlobs
from shared.local.bus import SqliteBus


def _watcher(tmp_path: Path, clock: list[float]) -> tuple[BucketWatcher, SqliteBus]:
    bus = SqliteBus(tmp_path / "bus.sqlite")
    bus.subscribe(STORAGE_TOPIC, "probe")
    w = BucketWatcher(
        FolderBlobs(tmp_path), "bucket", bus, settle=0.3, use_watchdog=False, clock=lambda: clock[0]
    )
    return w, bus


def _fired(bus: SqliteBus) -> list[str]:
    out = []
    for m in bus.pull("probe", 50):
        out.append(m.attributes["name"])
        bus.ack(m)
    return out


def test_train_waits_while_a_sibling_is_still_being_copied(tmp_path: Path) -> None:
    clock = [100.0]
    w, bus = _watcher(tmp_path, clock)
    folder = tmp_path / "bucket" / "incoming" / "ds"
    folder.mkdir(parents=True)
    (folder / "train.jsonl").write_text("{}\n")
    big = folder / "validation.jsonl"
    big.write_text("{}\n")
    w.scan()
    w._check_pending()
    for _ in range(5):  # validation.jsonl keeps growing; train.jsonl has long settled
        clock[0] += 1.0
        with big.open("a") as f:
            f.write("{}\n")
        w._check_pending()
        assert _fired(bus) == []
    clock[0] += 1.0  # validation.jsonl stops growing: the whole folder has settled
    w._check_pending()
    assert sorted(_fired(bus)) == ["incoming/ds/train.jsonl", "incoming/ds/validation.jsonl"]


def test_files_in_other_folders_do_not_wait(tmp_path: Path) -> None:
    clock = [100.0]
    w, bus = _watcher(tmp_path, clock)
    for ds in ("a", "b"):
        (tmp_path / "bucket" / "incoming" / ds).mkdir(parents=True)
    (tmp_path / "bucket" / "incoming" / "a" / "train.jsonl").write_text("{}\n")
    growing = tmp_path / "bucket" / "incoming" / "b" / "train.jsonl"
    growing.write_text("{}\n")
    w.scan()
    w._check_pending()
    clock[0] += 1.0
    with growing.open("a") as f:
        f.write("{}\n")
    w._check_pending()
    assert _fired(bus) == ["incoming/a/train.jsonl"]
