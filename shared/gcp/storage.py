"""`Blobs` on Cloud Storage (google-cloud-storage).

Two things the client's defaults get wrong for this pipeline:

- `blob.open("rb")` is a line-by-line reader that fetches one byte per `readline` step (about
  3 MB/s); the validator streams datasets of up to 1 GB line by line. `open_read` returns an
  `io.BufferedReader` over ranged GETs of `READ_CHUNK_BYTES` each instead (see
  bench/bench_gcs_read.py for the figures).
- A long read must not mix two uploads: every ranged GET is pinned to one generation (the event's,
  or the current one looked up once at open), so an overwrite during validation yields `NotFound`
  instead of a spliced file.

Retries: the client's own retry (120 s deadline) is switched off per call and replaced by
`call_with_retry`, whose deadline stays under a function's timeout. Every client exception is
mapped to `shared.errors` with the object's URI in the message.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable, Iterator
from typing import Any, BinaryIO, TypeVar

from shared.clock import to_iso
from shared.errors import NotFound, PreconditionFailed
from shared.gcp.retry import call_with_retry, from_a_client, map_google_error
from shared.ports import BlobInfo

T = TypeVar("T")

#: One ranged GET per chunk: large enough that per-request latency is small beside transfer time,
#: small enough to keep a function's memory flat on a 1 GB dataset.
READ_CHUNK_BYTES = 8 * 1024 * 1024
#: One resumable-upload request per chunk of a streamed write (`open_write`); a multiple of
#: 256 KiB as the API requires. Memory of a streamed write stays near this.
WRITE_CHUNK_BYTES = 8 * 1024 * 1024
#: Per-request (connect, read) timeout in seconds.
REQUEST_TIMEOUT = (10.0, 60.0)


def _info(blob: Any) -> BlobInfo:
    updated = getattr(blob, "updated", None)
    return BlobInfo(
        bucket=blob.bucket.name,
        name=blob.name,
        generation=str(blob.generation),
        size=int(blob.size or 0),
        md5=blob.md5_hash,
        content_type=blob.content_type,
        updated=to_iso(updated, "microseconds") if updated is not None else None,
    )


def _generation(value: str | None, uri: str) -> int | None:
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        raise NotFound(f"{uri}: generation {value!r} is not a Cloud Storage generation") from None


class _RangedRaw(io.RawIOBase):
    """Raw stream of one object generation, fetched as ranged GETs of whatever size the
    enclosing `BufferedReader` asks for."""

    def __init__(self, blob: Any, size: int, call: Callable[[Callable[[], bytes]], bytes]) -> None:
        super().__init__()
        self._blob = blob
        self._size = size
        self._pos = 0
        self._call = call

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        if self._pos >= self._size:
            return 0
        want = min(len(b), self._size - self._pos)
        start, end = self._pos, self._pos + want - 1
        data: bytes = self._call(
            lambda: self._blob.download_as_bytes(
                start=start, end=end, checksum=None, retry=None, timeout=REQUEST_TIMEOUT
            )
        )
        n = len(data)
        if n == 0:  # the generation vanished or shrank: never loop forever
            raise NotFound(f"gs://{self._blob.bucket.name}/{self._blob.name}: ended early")
        b[:n] = data
        self._pos += n
        return n


class GcsBlobs:
    """Cloud Storage adapter. Pass `client` to reuse one (tests point it at an emulator)."""

    def __init__(
        self,
        project: str | None,
        client: Any = None,
        *,
        deadline_s: float = 30.0,
        read_chunk_bytes: int = READ_CHUNK_BYTES,
        write_chunk_bytes: int = WRITE_CHUNK_BYTES,
    ) -> None:
        if client is None:
            from google.cloud.storage import Client

            client = Client(project=project)
        self._client = client
        self._deadline_s = deadline_s
        self._chunk = read_chunk_bytes
        if write_chunk_bytes <= 0 or write_chunk_bytes % (256 * 1024):
            raise ValueError("write_chunk_bytes must be a positive multiple of 256 KiB")
        self._write_chunk = write_chunk_bytes

    def _call(self, fn: Callable[[], T], uri: str) -> T:
        return call_with_retry(fn, deadline_s=self._deadline_s, what=uri)

    def uri(self, bucket: str, name: str) -> str:
        return f"gs://{bucket}/{name}"

    def stat(self, bucket: str, name: str) -> BlobInfo | None:
        uri = self.uri(bucket, name)
        b = self._client.bucket(bucket)
        blob = self._call(lambda: b.get_blob(name, retry=None, timeout=REQUEST_TIMEOUT), uri)
        return None if blob is None else _info(blob)

    def _pinned(self, bucket: str, name: str, generation: str | None) -> tuple[Any, int]:
        """A blob handle fixed to one generation (the given or the current one) and its size;
        `NotFound` if that generation does not exist."""
        uri = self.uri(bucket, name)
        meta = self._client.bucket(bucket).blob(name, generation=_generation(generation, uri))
        try:
            self._call(lambda: meta.reload(retry=None, timeout=REQUEST_TIMEOUT), uri)
        except NotFound:
            at = f" at generation {generation}" if generation else ""
            raise NotFound(f"{uri}{at} does not exist (deleted or overwritten?)") from None
        # A fresh handle, not `meta`: after reload() downloads follow the server's mediaLink,
        # which need not carry the generation (fake-gcs-server's does not).
        pinned = self._client.bucket(bucket).blob(name, generation=meta.generation)
        return pinned, int(meta.size or 0)

    def open_read(self, bucket: str, name: str, *, generation: str | None = None) -> BinaryIO:
        blob, size = self._pinned(bucket, name, generation)
        uri = self.uri(bucket, name)
        raw = _RangedRaw(blob, size, lambda fn: self._call(fn, uri))
        return io.BufferedReader(raw, buffer_size=self._chunk)

    def read_bytes(self, bucket: str, name: str, *, generation: str | None = None) -> bytes:
        uri = self.uri(bucket, name)
        blob = self._client.bucket(bucket).blob(name, generation=_generation(generation, uri))
        data: bytes = self._call(
            lambda: blob.download_as_bytes(retry=None, timeout=REQUEST_TIMEOUT), uri
        )
        return data

    def write_bytes(
        self,
        bucket: str,
        name: str,
        data: bytes,
        *,
        content_type: str = "application/octet-stream",
        if_generation_match: str | None = None,
    ) -> BlobInfo:
        uri = self.uri(bucket, name)
        blob = self._client.bucket(bucket).blob(name)
        match = _generation(if_generation_match, uri) if if_generation_match is not None else None

        def upload() -> None:
            blob.upload_from_string(
                data,
                content_type=content_type,
                if_generation_match=match,
                retry=None,
                timeout=REQUEST_TIMEOUT,
            )

        self._call(upload, uri)
        return _info(blob)

    def write_file(
        self,
        bucket: str,
        name: str,
        stream: BinaryIO,
        *,
        content_type: str = "application/octet-stream",
    ) -> BlobInfo:
        """Write an object from a binary stream (a resumable upload in chunks)."""
        uri = self.uri(bucket, name)
        blob = self._client.bucket(bucket).blob(name)
        start = stream.tell()

        def upload() -> None:
            stream.seek(start)  # a retried attempt sends the whole object again
            blob.upload_from_file(stream, content_type=content_type, retry=None)

        self._call(upload, uri)
        return _info(blob)

    def copy(
        self,
        src_bucket: str,
        src_name: str,
        dst_bucket: str,
        dst_name: str,
        *,
        if_source_generation_match: str | None = None,
    ) -> BlobInfo:
        """Server-side copy (no bytes through this machine): `gemini-tuning start`, and each
        run's immutable training copies. A rewrite, not copyTo: a 1 GB object between buckets
        of different locations or classes may take several calls, which only rewrite resumes.

        With `if_source_generation_match` each request names the generation twice: as the
        source generation (copy exactly those bytes) and as `ifSourceGenerationMatch` (the
        precondition). fake-gcs-server ignores the precondition on rewriteTo and copyTo but
        answers 404 for a generation it no longer holds, so either way a replaced source is
        never copied; a 404 while the object exists at another generation is reported as
        `PreconditionFailed`, like the 412 Cloud Storage returns."""
        uri = self.uri(dst_bucket, dst_name)
        src_uri = self.uri(src_bucket, src_name)
        match = (
            _generation(if_source_generation_match, src_uri)
            if if_source_generation_match is not None
            else None
        )
        source = self._client.bucket(src_bucket).blob(src_name, generation=match)
        target = self._client.bucket(dst_bucket).blob(dst_name)
        replaced = PreconditionFailed(
            f"{src_uri} is no longer generation {if_source_generation_match} (replaced since "
            "it was looked at); nothing was copied"
        )

        def step(token: str | None) -> str | None:
            """One rewrite call; the token to continue with, or None when done."""
            nxt, _, _ = self._call(
                lambda: target.rewrite(
                    source,
                    token=token,
                    if_source_generation_match=match,
                    retry=None,
                    timeout=REQUEST_TIMEOUT,
                ),
                uri,
            )
            return nxt  # type: ignore[no-any-return]

        try:
            token = step(None)
            while token is not None:
                token = step(token)
        except PreconditionFailed:
            raise replaced from None
        except NotFound:
            if match is not None and self.stat(src_bucket, src_name) is not None:
                raise replaced from None
            raise NotFound(f"{src_uri} does not exist (deleted?); nothing was copied") from None
        return _info(target)

    @contextlib.contextmanager
    def open_write(
        self, bucket: str, name: str, *, content_type: str = "application/octet-stream"
    ) -> Iterator[BinaryIO]:
        """A resumable upload sent in `write_chunk_bytes` pieces as they are written (memory
        holds at most about one chunk; nothing touches `/tmp`). The object exists only once
        the block exits cleanly: an error mid-way cancels the upload session, so no partial
        object appears. Each chunk is retried by the client's own policy, which is safe for
        resumable uploads (the server says which bytes it has)."""
        from google.cloud.storage.retry import DEFAULT_RETRY

        uri = self.uri(bucket, name)
        blob = self._client.bucket(bucket).blob(name)
        try:
            writer = blob.open(
                "wb",
                content_type=content_type,
                chunk_size=self._write_chunk,
                ignore_flush=True,
                retry=DEFAULT_RETRY,
                timeout=REQUEST_TIMEOUT,
            )
        except Exception as e:
            raise map_google_error(e, what=uri) from e
        try:
            yield writer
        except Exception as e:
            with contextlib.suppress(Exception):
                writer.terminate()
            if from_a_client(e):
                raise map_google_error(e, what=uri) from e
            raise
        except BaseException:
            with contextlib.suppress(Exception):
                writer.terminate()
            raise
        try:
            writer.close()
        except Exception as e:
            raise map_google_error(e, what=uri) from e

    def list(self, bucket: str, prefix: str = "") -> Iterator[BlobInfo]:
        uri = self.uri(bucket, prefix)
        pages = self._client.list_blobs(
            bucket, prefix=prefix or None, retry=None, timeout=REQUEST_TIMEOUT
        )
        it = iter(pages)
        while True:
            # Each page fetch may fail; retrying `next` re-requests only that page.
            blob = self._call(lambda: next(it, None), uri)
            if blob is None:
                return
            yield _info(blob)
