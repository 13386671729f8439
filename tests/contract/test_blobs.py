"""Contract of the `Blobs` port (shared/ports.py), run against every backend.

The `blobs` fixture yields `(Blobs, bucket)` for an empty bucket.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import pytest

from shared.errors import NotFound, PreconditionFailed
from shared.ports import Blobs


def _md5(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data).digest()).decode()


def test_write_then_stat_and_read(blobs: Any) -> None:
    b, bucket = blobs
    assert isinstance(b, Blobs)
    data = '{"contents": "你好"}\n'.encode()
    info = b.write_bytes(bucket, "incoming/ds/train.jsonl", data, content_type="application/jsonl")
    assert (info.bucket, info.name, info.size) == (bucket, "incoming/ds/train.jsonl", len(data))
    assert info.md5 == _md5(data)
    st = b.stat(bucket, "incoming/ds/train.jsonl")
    assert st is not None and st.generation == info.generation and st.md5 == _md5(data)
    assert b.read_bytes(bucket, "incoming/ds/train.jsonl") == data
    with b.open_read(bucket, "incoming/ds/train.jsonl") as f:
        assert f.readline() == data


def test_missing_object(blobs: Any) -> None:
    b, bucket = blobs
    assert b.stat(bucket, "nope/missing.jsonl") is None
    with pytest.raises(NotFound):
        b.read_bytes(bucket, "nope/missing.jsonl")


def test_rewrite_gets_a_new_generation_and_old_generation_is_refused(blobs: Any) -> None:
    b, bucket = blobs
    first = b.write_bytes(bucket, "a.jsonl", b"one\n")
    gens = {first.generation}
    for i in range(5):  # back to back: same clock tick must still differ
        gens.add(b.write_bytes(bucket, "a.jsonl", f"v{i}\n".encode()).generation)
    assert len(gens) == 6
    last = b.stat(bucket, "a.jsonl")
    assert last is not None
    assert b.read_bytes(bucket, "a.jsonl", generation=last.generation) == b"v4\n"
    with pytest.raises(NotFound):
        b.read_bytes(bucket, "a.jsonl", generation=first.generation)
    with pytest.raises(NotFound):
        b.open_read(bucket, "a.jsonl", generation=first.generation)


def test_create_only_precondition(blobs: Any) -> None:
    b, bucket = blobs
    b.write_bytes(bucket, "r.json", b"{}", if_generation_match="0")
    with pytest.raises(PreconditionFailed):
        b.write_bytes(bucket, "r.json", b'{"x": 1}', if_generation_match="0")
    assert b.read_bytes(bucket, "r.json") == b"{}"


def test_generation_match_precondition(blobs: Any) -> None:
    b, bucket = blobs
    info = b.write_bytes(bucket, "r.json", b"1")
    newer = b.write_bytes(bucket, "r.json", b"2", if_generation_match=info.generation)
    with pytest.raises(PreconditionFailed):
        b.write_bytes(bucket, "r.json", b"3", if_generation_match=info.generation)
    with pytest.raises(PreconditionFailed):
        b.write_bytes(bucket, "absent.json", b"3", if_generation_match=newer.generation)
    assert b.read_bytes(bucket, "r.json") == b"2"


def test_list_by_prefix_in_name_order(blobs: Any) -> None:
    b, bucket = blobs
    for name in ("incoming/b/train.jsonl", "incoming/a/train.jsonl", "reports/x.json", "top.jsonl"):
        b.write_bytes(bucket, name, name.encode())
    assert [i.name for i in b.list(bucket, "incoming/")] == [
        "incoming/a/train.jsonl",
        "incoming/b/train.jsonl",
    ]
    assert [i.name for i in b.list(bucket, "incoming/a")] == ["incoming/a/train.jsonl"]
    everything = [i.name for i in b.list(bucket)]
    assert everything == sorted(everything) and len(everything) == 4
    listed = {i.name: i for i in b.list(bucket)}
    assert listed["top.jsonl"].size == len(b"top.jsonl")
    assert list(b.list(bucket, "nothing-here/")) == []


def test_uri_names_the_object(blobs: Any) -> None:
    b, bucket = blobs
    uri = b.uri(bucket, "incoming/ds/train.jsonl")
    assert uri.endswith("/incoming/ds/train.jsonl") and "://" in uri


def test_write_file_streams_any_size_and_keeps_the_bytes(blobs: Any) -> None:
    import hashlib
    import io

    b, bucket = blobs
    data = ("第一行\n".encode() + bytes(range(256))) * 40_000  # ~10 MB, several chunks
    info = b.write_file(bucket, "runs/r/redacted/train.jsonl", io.BytesIO(data))
    assert info.size == len(data)
    got = b.read_bytes(bucket, "runs/r/redacted/train.jsonl")
    assert hashlib.sha256(got).digest() == hashlib.sha256(data).digest()
    again = b.write_file(bucket, "runs/r/redacted/train.jsonl", io.BytesIO(b"short\n"))
    assert again.generation != info.generation
    assert b.read_bytes(bucket, "runs/r/redacted/train.jsonl") == b"short\n"


def test_copy_of_the_named_generation(blobs: Any) -> None:
    b, bucket = blobs
    src = b.write_bytes(bucket, "incoming/ds/train.jsonl", b'{"v": 1}\n')
    copied = b.copy(
        bucket,
        "incoming/ds/train.jsonl",
        bucket,
        "tuning-inputs/r1/train.jsonl",
        if_source_generation_match=src.generation,
    )
    assert (copied.name, copied.size, copied.md5) == ("tuning-inputs/r1/train.jsonl", 9, src.md5)
    assert b.read_bytes(bucket, "tuning-inputs/r1/train.jsonl", generation=copied.generation) == (
        b'{"v": 1}\n'
    )
    # The source replaced afterwards: the copy keeps the bytes that were copied.
    b.write_bytes(bucket, "incoming/ds/train.jsonl", b'{"v": 2}\n')
    assert b.read_bytes(bucket, "tuning-inputs/r1/train.jsonl") == b'{"v": 1}\n'


def test_copy_refuses_a_source_replaced_since(blobs: Any) -> None:
    b, bucket = blobs
    old = b.write_bytes(bucket, "incoming/ds/train.jsonl", b"validated\n")
    b.write_bytes(bucket, "incoming/ds/train.jsonl", b"replaced by someone else\n")
    with pytest.raises(PreconditionFailed):
        b.copy(
            bucket,
            "incoming/ds/train.jsonl",
            bucket,
            "tuning-inputs/r1/train.jsonl",
            if_source_generation_match=old.generation,
        )
    assert b.stat(bucket, "tuning-inputs/r1/train.jsonl") is None  # nothing half-copied


def test_copy_of_a_deleted_source_is_not_found(blobs: Any) -> None:
    b, bucket = blobs
    with pytest.raises(NotFound):
        b.copy(bucket, "incoming/ds/gone.jsonl", bucket, "tuning-inputs/r1/gone.jsonl")


def test_open_write_streams_and_appears_only_when_done(blobs: Any) -> None:
    import hashlib

    b, bucket = blobs
    piece = "第二行 with some text\n".encode() * 1000  # ~25 KB
    digest = hashlib.sha256()
    with b.open_write(bucket, "tuning-inputs/r/redacted/train.jsonl") as out:
        for _ in range(120):  # ~3 MB: several upload chunks on Cloud Storage
            out.write(piece)
            digest.update(piece)
    got = b.read_bytes(bucket, "tuning-inputs/r/redacted/train.jsonl")
    assert hashlib.sha256(got).digest() == digest.digest()

    with pytest.raises(RuntimeError), b.open_write(bucket, "tuning-inputs/r/half.jsonl") as out:
        out.write(piece * 40)  # past one chunk, so part of it was already sent
        raise RuntimeError("the redaction failed half-way")
    assert b.stat(bucket, "tuning-inputs/r/half.jsonl") is None
