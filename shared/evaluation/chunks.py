"""Prediction checkpoints: the evaluation's paid work, saved chunk by chunk.

Why: one function invocation is time-bounded (540 s in the cloud) while 5,000 examples times two
models take longer. The runner predicts a chunk (`CHUNK_SIZE` examples, every model), scores it
and saves its rows (the lines of predictions.jsonl) before starting the next; an invocation that
runs out of time, crashes or is redelivered finds the saved chunks and pays only for the rest.
A crash loses at most the chunk in flight.

A chunk is stored create-only (`if_generation_match="0"`): when two deliveries race, the second
writer keeps the first one's rows, so every reader sees one version. The prefix carries a
fingerprint of what the chunks answer (models, eval set generation, sample, judge), so a changed
question never reads old answers.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Protocol

from shared.errors import NotFound, PreconditionFailed
from shared.ports import Blobs

CHUNK_SIZE = 100


class Checkpoints(Protocol):
    def load(self, chunk: int) -> bytes | None:
        """The saved rows of a chunk, or None when it was never saved."""
        ...

    def save(self, chunk: int, data: bytes) -> bytes:
        """Save a chunk once; returns what is stored (another writer's rows if it was first)."""
        ...


class MemoryCheckpoints:
    """Checkpoints that live as long as the object (tests, and callers without a bucket)."""

    def __init__(self) -> None:
        self.chunks: dict[int, bytes] = {}
        self.saves = 0

    def load(self, chunk: int) -> bytes | None:
        return self.chunks.get(chunk)

    def save(self, chunk: int, data: bytes) -> bytes:
        self.saves += 1
        return self.chunks.setdefault(chunk, data)


class BlobCheckpoints:
    """Chunks as objects `<prefix><chunk:05d>.jsonl` in a bucket, written create-only."""

    def __init__(self, blobs: Blobs, bucket: str, prefix: str) -> None:
        self.blobs, self.bucket, self.prefix = blobs, bucket, prefix

    def name(self, chunk: int) -> str:
        return f"{self.prefix}{chunk:05d}.jsonl"

    def load(self, chunk: int) -> bytes | None:
        try:
            return self.blobs.read_bytes(self.bucket, self.name(chunk))
        except NotFound:
            return None

    def save(self, chunk: int, data: bytes) -> bytes:
        try:
            self.blobs.write_bytes(
                self.bucket,
                self.name(chunk),
                data,
                content_type="application/jsonl",
                if_generation_match="0",
            )
        except PreconditionFailed:
            return self.blobs.read_bytes(self.bucket, self.name(chunk))
        return data


def fingerprint(parts: Iterable[object]) -> str:
    """A short stable hash of what the chunks depend on (JSON of `parts`)."""
    text = json.dumps(list(parts), sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


def rows_to_jsonl(rows: Iterable[object]) -> bytes:
    return b"".join(
        json.dumps(r, ensure_ascii=False, separators=(",", ":")).encode() + b"\n" for r in rows
    )
