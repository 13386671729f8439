"""A folder as a bucket: `FolderBlobs(root)` serves bucket `b` from the folder `root/b`.

Cloud Storage semantics the pipeline relies on, reproduced on a plain file system:

- Generations. Re-uploading an object must start a new run and an old event must never read
  the new bytes, so every version needs a distinct generation. A file's generation is
  `"<st_mtime_ns>-<st_ino>"`: a write through this class replaces the file with a new inode
  and, if the clock has not moved past the old mtime (coarse kernel timestamps), bumps the new
  mtime by 1 ns; a file rewritten in place by `cp` gets a new mtime.
- Atomic writes with preconditions: temp file + `os.replace` under a per-bucket `flock`, so a
  reader never sees half an object and `if_generation_match` holds across threads and processes.
- Confinement: object names are checked (no `..`, no absolute names, no symlink escaping the
  bucket folder) because a name comes from user input and ends up as a path.

Temp files and locks live in the hidden `.gtp-internal/` folder of each bucket, which
listings and the runtime's watcher ignore.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import io
import os
import tempfile
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from shared.clock import to_iso
from shared.errors import NotFound, PermanentError, PreconditionFailed
from shared.local.paths import INTERNAL_DIR
from shared.ports import BlobInfo

#: Chunk size of streamed writes (`write_file`).
_COPY_CHUNK = 4 * 1024 * 1024

_XATTR_CONTENT_TYPE = "user.gtp.content_type"
_CONTENT_TYPES = {
    ".jsonl": "application/jsonl",
    ".json": "application/json",
    ".yaml": "application/yaml",
    ".yml": "application/yaml",
    ".html": "text/html",
    ".txt": "text/plain",
    ".csv": "text/csv",
}
_MD5_CACHE_MAX = 4096


class UnsafeObjectName(PermanentError):
    """An object or bucket name that would leave the bucket folder or cannot be a path."""

    code = "unsafe_object_name"


def generation_of(st: os.stat_result) -> str:
    """The generation of a file version: changes with every replace or rewrite."""
    return f"{st.st_mtime_ns}-{st.st_ino}"


def _check_bucket(bucket: str) -> None:
    if not bucket or "/" in bucket or "\\" in bucket or bucket.startswith(".") or "\0" in bucket:
        raise UnsafeObjectName(
            f"bucket name {bucket!r} is not allowed locally: use a plain folder name "
            "without '/' that does not start with '.'"
        )


def _check_name(name: str) -> None:
    if "\\" in name:
        raise UnsafeObjectName(
            f"object name {name!r} contains a backslash, which a local folder bucket cannot "
            "hold safely (it reads as a folder separator on Windows); rename the folder or "
            "file without '\\'"
        )
    if not name or "\0" in name or name.startswith("/"):
        raise UnsafeObjectName(
            f"object name {name!r} is not allowed: use a relative name like "
            "'incoming/my-dataset/train.jsonl'"
        )
    parts = name.split("/")
    if any(p in ("", ".", "..") for p in parts):
        raise UnsafeObjectName(
            f"object name {name!r} has an empty, '.' or '..' segment; such a name would "
            "leave the bucket folder or has no file equivalent. Rename the object."
        )
    if parts[0] == INTERNAL_DIR:
        raise UnsafeObjectName(f"object names under {INTERNAL_DIR}/ are reserved; rename it.")


def _content_type_for(path: Path) -> str:
    try:
        return os.getxattr(path, _XATTR_CONTENT_TYPE).decode()
    except (OSError, AttributeError, UnicodeDecodeError):
        return _CONTENT_TYPES.get(path.suffix.lower(), "application/octet-stream")


class FolderBlobs:
    """The `Blobs` port on a folder tree (see the module docstring for the semantics)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root).absolute()
        self._md5: dict[tuple[str, str], str] = {}
        self._md5_lock = threading.Lock()

    # ---- paths --------------------------------------------------------------------------

    def bucket_path(self, bucket: str) -> Path:
        _check_bucket(bucket)
        return self.root / bucket

    def path(self, bucket: str, name: str) -> Path:
        """The file path of an object, refusing names (or symlinks) that leave the bucket."""
        base = self.bucket_path(bucket)
        _check_name(name)
        p = base / name
        real_base = base.resolve()
        real = p.resolve()
        if real != real_base and real_base not in real.parents:
            raise UnsafeObjectName(
                f"object {name!r} resolves to {real}, outside the bucket folder {real_base} "
                "(a symlink points out of the bucket); remove the link or copy the file in."
            )
        return p

    def uri(self, bucket: str, name: str) -> str:
        return self.path(bucket, name).absolute().as_uri()

    # ---- reads ----------------------------------------------------------------------------

    def _info(self, bucket: str, name: str, p: Path, st: os.stat_result) -> BlobInfo:
        gen = generation_of(st)
        return BlobInfo(
            bucket=bucket,
            name=name,
            generation=gen,
            size=st.st_size,
            md5=self._md5_of(p, gen),
            content_type=_content_type_for(p),
            updated=to_iso(datetime.fromtimestamp(st.st_mtime_ns / 1e9, UTC)),
        )

    def _md5_of(self, p: Path, generation: str) -> str | None:
        key = (str(p), generation)
        with self._md5_lock:
            hit = self._md5.get(key)
        if hit is not None:
            return hit
        try:
            with p.open("rb") as f:
                if generation_of(os.fstat(f.fileno())) != generation:
                    return None  # replaced meanwhile; the caller's info is already stale
                digest = hashlib.file_digest(f, "md5")
        except OSError:
            return None
        value = base64.b64encode(digest.digest()).decode()
        with self._md5_lock:
            if len(self._md5) >= _MD5_CACHE_MAX:
                self._md5.clear()
            self._md5[key] = value
        return value

    def stat(self, bucket: str, name: str) -> BlobInfo | None:
        p = self.path(bucket, name)
        try:
            st = p.stat()
        except (FileNotFoundError, NotADirectoryError):
            return None
        if not p.is_file():
            return None
        return self._info(bucket, name, p, st)

    def open_read(self, bucket: str, name: str, *, generation: str | None = None) -> BinaryIO:
        p = self.path(bucket, name)
        try:
            f = p.open("rb")
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            raise NotFound(f"{self.uri(bucket, name)} does not exist") from None
        # The open descriptor pins this inode, so checking it here is race-free: a later
        # replace cannot swap the bytes under a reader that asked for an older generation.
        current = generation_of(os.fstat(f.fileno()))
        if generation is not None and current != generation:
            f.close()
            raise NotFound(
                f"{self.uri(bucket, name)} is now generation {current}, not {generation} "
                "(it was uploaded again; the newer upload has its own event)"
            )
        return f

    def read_bytes(self, bucket: str, name: str, *, generation: str | None = None) -> bytes:
        with self.open_read(bucket, name, generation=generation) as f:
            return f.read()

    def list(self, bucket: str, prefix: str = "") -> Iterator[BlobInfo]:
        """Objects whose name starts with `prefix`, in name order (like Cloud Storage)."""
        base = self.bucket_path(bucket)
        if not base.is_dir():
            return
        start_dir = prefix.rsplit("/", 1)[0] if "/" in prefix else ""
        top = base / start_dir if start_dir else base
        if ".." in start_dir.split("/") or not top.is_dir():
            return
        names: list[str] = []
        for dirpath, dirnames, filenames in os.walk(top):
            rel_dir = os.path.relpath(dirpath, base)
            rel_dir = "" if rel_dir == "." else rel_dir.replace(os.sep, "/") + "/"
            dirnames[:] = [d for d in dirnames if not (rel_dir == "" and d == INTERNAL_DIR)]
            names.extend(rel_dir + fn for fn in filenames if (rel_dir + fn).startswith(prefix))
        for name in sorted(names):
            p = base / name
            try:
                st = p.stat()
            except OSError:
                continue  # deleted meanwhile
            yield self._info(bucket, name, p, st)

    # ---- writes ---------------------------------------------------------------------------

    @contextlib.contextmanager
    def _bucket_lock(self, base: Path) -> Iterator[Path]:
        internal = base / INTERNAL_DIR
        internal.mkdir(parents=True, exist_ok=True)
        with (internal / "write.lock").open("a") as lock:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
            try:
                yield internal
            finally:
                fcntl.flock(lock.fileno(), fcntl.LOCK_UN)

    def write_bytes(
        self,
        bucket: str,
        name: str,
        data: bytes,
        *,
        content_type: str = "application/octet-stream",
        if_generation_match: str | None = None,
    ) -> BlobInfo:
        return self._write(
            bucket, name, io.BytesIO(data), content_type, if_generation_match=if_generation_match
        )

    def write_file(
        self,
        bucket: str,
        name: str,
        stream: BinaryIO,
        *,
        content_type: str = "application/octet-stream",
    ) -> BlobInfo:
        """Write an object from a binary stream, copied in chunks (memory stays flat)."""
        return self._write(bucket, name, stream, content_type)

    @contextlib.contextmanager
    def open_write(
        self, bucket: str, name: str, *, content_type: str = "application/octet-stream"
    ) -> Iterator[BinaryIO]:
        """A temp file in the bucket's internal folder that replaces the object when the block
        exits cleanly (removed on error). Locally a disk holds it; memory stays flat."""
        self.path(bucket, name)  # refuse an unsafe name before any byte is written
        internal = self.bucket_path(bucket) / INTERNAL_DIR
        internal.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".stream-", dir=internal)
        try:
            with io.FileIO(fd, "wb") as raw, io.BufferedWriter(raw, _COPY_CHUNK) as f:
                yield f
            with open(tmp, "rb") as done:
                self._write(bucket, name, done, content_type)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)

    def copy(
        self,
        src_bucket: str,
        src_name: str,
        dst_bucket: str,
        dst_name: str,
        *,
        if_source_generation_match: str | None = None,
    ) -> BlobInfo:
        """Copy the source version the open descriptor pins: checked against
        `if_source_generation_match` on that descriptor, so a replace racing the copy cannot
        slip other bytes in (the check and the bytes are of one inode)."""
        p = self.path(src_bucket, src_name)
        try:
            f = p.open("rb")
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            raise NotFound(
                f"{self.uri(src_bucket, src_name)} does not exist (deleted?); nothing was copied"
            ) from None
        with f:
            current = generation_of(os.fstat(f.fileno()))
            if if_source_generation_match is not None and current != if_source_generation_match:
                raise PreconditionFailed(
                    f"{self.uri(src_bucket, src_name)} is now generation {current}, not "
                    f"{if_source_generation_match} (replaced since it was looked at); "
                    "nothing was copied"
                )
            return self._write(dst_bucket, dst_name, f, _content_type_for(p))

    def _write(
        self,
        bucket: str,
        name: str,
        stream: BinaryIO,
        content_type: str,
        *,
        if_generation_match: str | None = None,
    ) -> BlobInfo:
        p = self.path(bucket, name)
        base = self.bucket_path(bucket)
        try:
            p.parent.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            raise PermanentError(
                f"cannot write {name!r}: a parent of it is an object (a file) locally; "
                "a folder bucket cannot hold both 'a' and 'a/b'. Choose another name."
            ) from None
        with self._bucket_lock(base) as internal:
            fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=internal)
            digest = hashlib.md5()
            try:
                with io.FileIO(fd, "wb") as f:
                    while chunk := stream.read(_COPY_CHUNK):
                        digest.update(chunk)
                        f.write(chunk)
                    os.fsync(f.fileno())
                with contextlib.suppress(OSError):
                    os.setxattr(tmp, _XATTR_CONTENT_TYPE, content_type.encode())
                current = self._current(p)
                self._check_precondition(bucket, name, current, if_generation_match)
                if current is not None:
                    new_st = os.stat(tmp)
                    if new_st.st_mtime_ns <= current.st_mtime_ns:
                        ns = current.st_mtime_ns + 1
                        os.utime(tmp, ns=(ns, ns))
                try:
                    os.replace(tmp, p)
                except IsADirectoryError:
                    raise PermanentError(
                        f"cannot write {name!r}: a folder of that name holds other objects "
                        "locally. Choose another name."
                    ) from None
            except BaseException:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp)
                raise
            st = p.stat()
        md5 = base64.b64encode(digest.digest()).decode()
        gen = generation_of(st)
        with self._md5_lock:
            self._md5[(str(p), gen)] = md5
        return self._info(bucket, name, p, st)

    @staticmethod
    def _current(p: Path) -> os.stat_result | None:
        try:
            st = p.stat()
        except (FileNotFoundError, NotADirectoryError):
            return None
        return st if p.is_file() else None

    @staticmethod
    def _check_precondition(
        bucket: str, name: str, current: os.stat_result | None, expected: str | None
    ) -> None:
        if expected is None:
            return
        if expected == "0":
            if current is not None:
                raise PreconditionFailed(
                    f"{bucket}/{name} already exists (create-only write with generation 0)"
                )
            return
        have = None if current is None else generation_of(current)
        if have != expected:
            raise PreconditionFailed(
                f"{bucket}/{name} is at generation {have}, not the expected {expected}"
            )
