"""Reading a JSONL byte stream in large chunks: file sniffing and batches of raw lines.

Large binary reads split on b"\\n" keep Python work per line to a list index, and a cap on line
length keeps memory bounded even for a file that has no newlines at all. Each chunk is split as
read: the line it completes (the previous chunk's tail + its first bytes) becomes a one-line
batch and the whole lines after it a batch that shares the chunk (`Batch.joined` and `count`
scan it in place), so no 4 MB copy is made per chunk (the profile's largest memcpy).

The split is StringZilla's (SIMD): its lines are `Str` views into the chunk, not copies, and
its substring count and hash run at memory speed. A `Line` is a bytes-like view (buffer
protocol, `len`, `count`, `==` with bytes): decoders and writers take it as it is, and the
rare paths that need `bytes` methods call `bytes(line)`. Per 42 MB of the mixed bench file
(`python -m bench chunk_ops`), split + key-mark count + line hashes take 0.015 CPU s instead of
0.067 with `bytes` methods; decoding from a view costs what it costs from `bytes`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import BinaryIO, TypeAlias

import stringzilla as sz

CHUNK_BYTES = 4 * 1024 * 1024
#: The first read, enough to recognise the file type.
HEAD_BYTES = 1024 * 1024
#: Longer than any example Vertex AI accepts (131,072 tokens even at 12 escaped bytes each).
MAX_LINE_BYTES = 32 * 1024 * 1024

BOM = b"\xef\xbb\xbf"

#: One raw line: `bytes`, or a StringZilla `Str` view into the chunk it was split from.
Line: TypeAlias = bytes | sz.Str


#: `line_hash(raw) -> int`: a 64-bit hash of a line's bytes, the same for `bytes` and `Str` and
#: in every process (unlike `hash()` of bytes, which is salted per process). StringZilla's own
#: function, not a wrapper: the hot loop calls it once per example.
line_hash: Callable[[Line], int] = sz.hash


_MAGIC: tuple[tuple[bytes, str, str], ...] = (
    (b"\x1f\x8b", "gzip-compressed", "Decompress it (gunzip FILE) and upload the .jsonl"),
    (b"PK\x03\x04", "a ZIP archive (or an Office file)", "Extract the .jsonl and upload it"),
    (b"BZh", "bzip2-compressed", "Decompress it (bunzip2 FILE) and upload the .jsonl"),
    (b"\xfd7zXZ\x00", "xz-compressed", "Decompress it (unxz FILE) and upload the .jsonl"),
    (b"\x28\xb5\x2f\xfd", "zstd-compressed", "Decompress it (unzstd FILE) and upload the .jsonl"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive", "Extract the .jsonl and upload it"),
    (b"PAR1", "a Parquet file", "Export it as JSON Lines (one example per line)"),
    (b"SQLite format 3\x00", "an SQLite database", "Export it as JSON Lines"),
    (b"%PDF", "a PDF document", "Upload JSON Lines text (one example per line)"),
    (b"\xff\xfe", "UTF-16 text", "Re-save it as UTF-8"),
    (b"\xfe\xff", "UTF-16 text", "Re-save it as UTF-8"),
)


@dataclass(frozen=True)
class Sniffed:
    """What the first bytes say about the whole file."""

    problem: str | None = None  # finding code that stops the scan, if any
    message: str = ""
    bom: bool = False
    looks_like_array: bool = False


def sniff(head: bytes) -> Sniffed:
    """Recognise compressed, binary and non-UTF-8-text files before parsing a single line."""
    for magic, what, fix in _MAGIC:
        if head.startswith(magic):
            code = "not_utf8" if what == "UTF-16 text" else "compressed_file"
            if what.startswith(("a Parquet", "an SQLite", "a PDF")):
                code = "binary_file"
            return Sniffed(code, f"The file is {what}, not JSON Lines text. {fix}.")
    probe = head[:65536]
    if b"\x00" in probe:
        return Sniffed(
            "binary_file",
            "The file contains NUL bytes: it is binary (or UTF-16/32 text without a BOM), not "
            "UTF-8 JSON Lines. Export or re-save it as UTF-8 text, one JSON object per line.",
        )
    bom = head.startswith(BOM)
    body = head[3:] if bom else head
    return Sniffed(bom=bom, looks_like_array=body.lstrip()[:1] == b"[")


@dataclass
class Batch:
    """Consecutive raw lines (without b"\\n") starting at 1-based `first_line`, the first of them
    at byte `offset` of the file."""

    first_line: int
    offset: int
    lines: Sequence[Line]
    #: The same lines joined by b"\\n" are `blob[lo:hi]` (hi -1: to the end): usually the chunk
    #: they were split from, shared rather than copied, for chunk-wide scans.
    blob: bytes = b""
    lo: int = 0
    hi: int = -1

    def joined(self) -> bytes | memoryview:
        """The lines joined by b"\\n", without copying the chunk they came from."""
        if not self.blob:
            return b"\n".join(self.lines)
        if self.lo == 0 and self.hi in (-1, len(self.blob)):
            return self.blob
        return memoryview(self.blob)[self.lo : len(self.blob) if self.hi < 0 else self.hi]

    def count(self, sub: bytes) -> int:
        """Occurrences of `sub` (which holds no b"\\n") in the joined lines."""
        if not self.blob:
            return sum(sz.count(x, sub) for x in self.lines)
        return sz.count(self.blob, sub, self.lo, len(self.blob) if self.hi < 0 else self.hi)  # type: ignore[no-any-return]

    def line_offset(self, index: int) -> int:
        """Byte offset of `lines[index]`; only called for rare findings, so a linear sum."""
        return self.offset + sum(len(x) + 1 for x in self.lines[:index])


@dataclass
class Overlong:
    """A line longer than MAX_LINE_BYTES was skipped at this 1-based line number."""

    line: int
    offset: int


def iter_batches(
    stream: BinaryIO,
    head: bytes,
    start: int,
    chunk_bytes: int | None = None,
    *,
    first_line: int = 1,
    base_offset: int = 0,
) -> Iterator[Batch | Overlong | int]:
    """Yield batches of lines from `head[start:]` and then the rest of `stream`.

    Also yields the number of bytes consumed so far (an int) after each chunk, for progress.
    `first_line` / `base_offset` number the lines and bytes of a stream that begins inside a file.
    """
    chunk_bytes = chunk_bytes or CHUNK_BYTES
    line = first_line
    offset = base_offset + start
    pending = head[start:]
    consumed = len(head)
    skipping = False  # inside an overlong line: drop bytes until its newline
    chunk = b""
    while True:
        body: bytes | None = None
        if chunk and not skipping:
            # The usual step: split the chunk itself (no copy of it with `pending` in front).
            # The line it completes is a one-line batch; the whole lines after it are a batch
            # that shares the chunk's bytes.
            parts = sz.split(chunk, b"\n")
            if len(parts) > 1:
                lo = 0
                if pending:
                    whole = pending + bytes(parts[0])
                    yield Batch(line, offset, [whole], whole)
                    line += 1
                    offset += len(whole) + 1
                    lo = len(parts[0]) + 1
                hi = len(chunk) - len(parts[-1]) - 1
                pending = bytes(parts[-1])
                body_lines = parts[1:-1] if lo else parts[:-1]
                if body_lines:
                    yield Batch(line, offset, body_lines, chunk, lo, hi)
                    line += len(body_lines)
                    offset += hi - lo + 1
            else:
                pending += chunk
        else:  # the head, or bytes after an overlong line
            data = pending + chunk if chunk else pending
            cut = data.rfind(b"\n")
            if skipping:
                if cut < 0:
                    offset += len(data)
                    pending = b""
                else:
                    first_nl = data.find(b"\n")
                    offset += first_nl + 1
                    data = data[first_nl + 1 :]
                    line += 1
                    skipping = False
                    cut = data.rfind(b"\n")
            if not skipping:
                if cut >= 0:
                    body = data[:cut]
                    pending = data[cut + 1 :]
                else:
                    pending = data
        if body is not None:
            lines = sz.split(body, b"\n")
            yield Batch(line, offset, lines, body)
            line += len(lines)
            offset += len(body) + 1
        if not skipping and len(pending) > MAX_LINE_BYTES:
            yield Overlong(line, offset)
            skipping = True
            offset += len(pending)
            pending = b""
        yield consumed
        chunk = stream.read(chunk_bytes)
        if not chunk:
            break
        consumed += len(chunk)
    if pending and not skipping:
        yield Batch(line, offset, [pending], pending)
