"""What only the folder bucket has to get right: confinement, `cp` drops, hidden temp files."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from shared.errors import NotFound, PermanentError
from shared.local.blobs import FolderBlobs, UnsafeObjectName


@pytest.mark.parametrize(
    "name", ["../escape.jsonl", "/etc/passwd", "a/../../x", "a//b", "./a", "", ".gtp-internal/x"]
)
def test_unsafe_names_are_refused_with_a_clear_error(tmp_path: Path, name: str) -> None:
    b = FolderBlobs(tmp_path)
    with pytest.raises(UnsafeObjectName) as e:
        b.write_bytes("bucket", name, b"x")
    assert "name" in e.value.message
    assert not (tmp_path / "escape.jsonl").exists()


def test_symlink_leaving_the_bucket_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "secret.txt"
    outside.write_text("secret")
    (tmp_path / "bucket").mkdir()
    os.symlink(outside, tmp_path / "bucket" / "link.txt")
    b = FolderBlobs(tmp_path)
    with pytest.raises(UnsafeObjectName, match="outside the bucket"):
        b.read_bytes("bucket", "link.txt")


def test_file_dropped_by_cp_has_a_generation_and_a_rewrite_changes_it(tmp_path: Path) -> None:
    b = FolderBlobs(tmp_path)
    src = tmp_path / "src.jsonl"
    src.write_text("one\n")
    (tmp_path / "bucket" / "incoming").mkdir(parents=True)
    shutil.copy(src, tmp_path / "bucket" / "incoming" / "t.jsonl")
    first = b.stat("bucket", "incoming/t.jsonl")
    assert first is not None and first.size == 4
    src.write_text("two, longer\n")
    shutil.copy(src, tmp_path / "bucket" / "incoming" / "t.jsonl")  # in place, same inode
    second = b.stat("bucket", "incoming/t.jsonl")
    assert second is not None and second.generation != first.generation
    with pytest.raises(NotFound):
        b.read_bytes("bucket", "incoming/t.jsonl", generation=first.generation)


def test_temp_files_never_show_up_and_uri_is_file_url(tmp_path: Path) -> None:
    b = FolderBlobs(tmp_path)
    b.write_bytes("bucket", "incoming/x.jsonl", b"{}\n")
    assert [i.name for i in b.list("bucket")] == ["incoming/x.jsonl"]
    assert b.uri("bucket", "incoming/x.jsonl") == (tmp_path / "bucket/incoming/x.jsonl").as_uri()
    leftovers = list((tmp_path / "bucket" / ".gtp-internal").glob(".tmp-*"))
    assert leftovers == []


def test_object_and_folder_of_the_same_name_conflict_clearly(tmp_path: Path) -> None:
    b = FolderBlobs(tmp_path)
    b.write_bytes("bucket", "a", b"file")
    with pytest.raises(PermanentError, match="parent of it is an object"):
        b.write_bytes("bucket", "a/b", b"x")
    b.write_bytes("bucket", "d/e", b"x")
    with pytest.raises(PermanentError, match="folder of that name"):
        b.write_bytes("bucket", "d", b"x")
