"""Redaction on Cloud Functions keeps memory flat (issue 16, defect 5).

On Cloud Functions `/tmp` is memory, so a redacted copy spooled there (or in a buffer) costs
its own size: near the 1 GB dataset limit the 1 GiB validator was killed and the storage
trigger retried it for a day. The redacted copy must stream to the artifacts bucket as it is
produced. Measured here on the Cloud Storage adapter against fake-gcs-server (small upload
chunks), with the validator's real redaction: the allocation peak while one file is redacted
must stay far below the file's size.
"""

from __future__ import annotations

import tracemalloc
import uuid
from pathlib import Path
from typing import Any

import pytest

from shared.gcp.storage import GcsBlobs
from shared.pipeline import validation
from shared.runs import RunStatus

from .conftest import ZH_EXAMPLES, dataset_bytes, make_world

#: The redacted file is about this big; the peak must stay under half of it. Every buffer on
#: the way (ranged reads, the validator's head and line batches: `CHUNK`; upload chunks:
#: `UPLOAD_CHUNK`, the API's smallest) is scaled down so that the file is many times what any
#: one of them holds, as a 1 GB dataset is against the production sizes (8 MB reads, 1 MB head,
#: 4 MB batches, 8 MB uploads). Measured on 2026-12-03: a 1.1 MB peak streaming, 3.7 MB with
#: the copy spooled (the code before this test).
FILE_BYTES = 3_000_000
CHUNK = 64 * 1024
UPLOAD_CHUNK = 256 * 1024


def test_redacted_copy_streams_to_the_bucket_in_bounded_memory(
    tmp_path: Path, gcs_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    tag = uuid.uuid4().hex[:10]
    datasets, artifacts = f"ds-{tag}", f"art-{tag}"
    for name in (datasets, artifacts):
        gcs_client.create_bucket(name)
    world = make_world(tmp_path, env={"DATASETS_BUCKET": datasets, "ARTIFACTS_BUCKET": artifacts})
    blobs = GcsBlobs(
        "test-project",
        client=gcs_client,
        read_chunk_bytes=CHUNK,
        write_chunk_bytes=UPLOAD_CHUNK,
        deadline_s=5.0,
    )
    world.deps.__dict__["blobs"] = blobs

    q, a = ZH_EXAMPLES[0]
    pairs = [(f"{q} 我的手机号是139{i:08d}", a) for i in range(FILE_BYTES // 290)]
    data = dataset_bytes(pairs)
    assert len(data) > FILE_BYTES * 0.9
    blobs.write_bytes(datasets, "incoming/ds/tuning.yaml", b"privacy: {policy: redact}\n")
    info = blobs.write_bytes(datasets, "incoming/ds/train.jsonl", data)
    n = len(pairs)
    del data, pairs

    from shared.datasets import lines, redact
    from shared.events import StorageObject

    peaks: list[int] = []
    real = redact.redact_stream

    def measured(src: Any, dst: Any, options: Any = None) -> Any:
        tracemalloc.start()
        try:
            return real(src, dst, options)
        finally:
            peaks.append(tracemalloc.get_traced_memory()[1])
            tracemalloc.stop()

    monkeypatch.setattr(redact, "redact_stream", measured)
    monkeypatch.setattr(lines, "CHUNK_BYTES", CHUNK)
    monkeypatch.setattr(lines, "HEAD_BYTES", CHUNK)
    obj = StorageObject(info.bucket, info.name, info.generation, info.size, info.md5)
    out = validation.handle_upload(world.deps, obj)
    run = world.run(out.run_id or "")
    assert run.status == RunStatus.VALIDATED, run.error
    assert run.dataset.redaction["train"]["replaced"] == {"phone": n}
    assert len(peaks) == 1
    assert peaks[0] < FILE_BYTES / 2, f"peak {peaks[0] / 1e6:.1f} MB while redacting"
    masked = blobs.read_bytes(artifacts, run.dataset.trains_on["train"].name)
    assert b"13900000001" not in masked and masked.count(b"\n") == n
