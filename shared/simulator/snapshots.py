"""What a simulated tuned model learned: a copy of its training file taken at job creation.

Vertex AI reads the training data when the job runs; the tuned model then answers from what it
learned, whatever happens to the file afterwards. The simulator's tuned endpoint answers by
retrieval over its training examples, so it must keep them: `take` copies the file once into the
simulator's state folder, named by the SHA-256 of its bytes (jobs on the same data share one
copy, and a copy never changes), and the job records the copy's path.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

SNAPSHOTS_DIR = "simulator-training-data"
_BLOCK = 1 << 20


def take(source: Path, folder: Path) -> Path:
    """Copy `source` into `folder/<sha256>.jsonl` (atomic; kept if already there) and return it."""
    folder.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    fd, tmp_name = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=".jsonl")
    tmp = Path(tmp_name)
    try:
        with source.open("rb") as src, os.fdopen(fd, "wb") as dst:
            while block := src.read(_BLOCK):
                digest.update(block)
                dst.write(block)
        target = folder / f"{digest.hexdigest()}.jsonl"
        if target.exists():
            tmp.unlink()
        else:
            tmp.replace(target)
        return target
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
