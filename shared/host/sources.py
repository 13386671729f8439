"""The event sources of the local runtime: a bucket watcher (plays Eventarc's Cloud Storage
trigger) and an interval ticker (plays Cloud Scheduler).

Both only *publish* to the durable bus; delivery, retry and dead-letter are the bus's job, so a
crash between "file seen" and "validator ran" loses nothing.

The watcher uses watchdog for prompt notice, plus a scan at start-up (files that arrived while
the runtime was down) and a periodic rescan as a safety net (inotify can miss files created
inside a folder before its watch is added, e.g. `cp -r`). A file fires only once its size and
mtime have stayed unchanged for `settle` seconds, because `cp` writes in chunks. The bus's
idempotency key (bucket/name#generation) makes every path into "fire" safe to repeat.

The ticker is a `threading.Event.wait` loop: APScheduler would add a dependency and a thread
pool for one fixed-interval job. It publishes a tick only when none is pending, so a slow
poller is not buried under a backlog of ticks (Cloud Scheduler does not queue them either).
"""

from __future__ import annotations

import logging
import os
import stat
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from shared.events import POLL_TICK, STORAGE_FINALIZED, encode_message, storage_finalized_event
from shared.local.blobs import FolderBlobs, UnsafeObjectName, generation_of
from shared.local.bus import SqliteBus

log = logging.getLogger("gemini_tuning.local")

#: Internal topic that carries detected uploads to the validator route.
STORAGE_TOPIC = "_storage-events"
#: Topic the ticker publishes to; Cloud Scheduler publishes to a Pub/Sub topic the same way.
POLL_TOPIC = "poll-tick"


def storage_key(bucket: str, name: str, generation: str) -> str:
    return f"{bucket}/{name}#{generation}"


def _hidden(rel: str) -> bool:
    """Dot-files and dot-folders (editor swap files, rsync temp files, our own temp folder)."""
    return any(part.startswith(".") for part in rel.split("/"))


def _folder(rel: str) -> str:
    return rel.rsplit("/", 1)[0] if "/" in rel else ""


#: A `.jsonl` file whose last line is cut off waits this many settle times before it fires
#: anyway (then the validator says what is wrong with it).
INCOMPLETE_FACTOR = 20


def _complete(path: Path) -> bool:
    """A JSONL file is complete when it is empty, ends with a newline or its last line parses:
    a writer that pauses mid-line has not finished. Other files are complete when settled."""
    if path.suffix != ".jsonl":
        return True
    try:
        with path.open("rb") as f:
            size = f.seek(0, os.SEEK_END)
            if size == 0:
                return True
            f.seek(max(0, size - 65536))
            tail = f.read()
    except OSError:
        return True
    if tail.endswith(b"\n"):
        return True
    try:
        orjson.loads(tail.rsplit(b"\n", 1)[-1])
    except orjson.JSONDecodeError:
        return False
    return True


_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR


def open_for_writing(path: Path) -> bool:
    """Whether a process this user can see holds `path` open for writing (Linux `/proc`;
    elsewhere always False and the settle time alone decides). A writer that pauses longer
    than the settle time must not start one run per pause."""
    try:
        target = path.stat()
    except OSError:
        return False
    proc = Path("/proc")
    try:
        pids = [p for p in os.listdir(proc) if p.isdigit()]
    except OSError:
        return False
    for pid in pids:
        fd_dir = proc / pid / "fd"
        try:
            fds = os.listdir(fd_dir)
        except OSError:
            continue
        for fd in fds:
            try:
                st = os.stat(fd_dir / fd)
            except OSError:
                continue
            if st.st_ino != target.st_ino or st.st_dev != target.st_dev:
                continue
            try:
                info = (proc / pid / "fdinfo" / fd).read_text()
            except OSError:
                continue
            for line in info.splitlines():
                if line.startswith("flags:") and int(line.split()[1], 8) & _WRITE_FLAGS:
                    return True
    return False


def _disk_full(e: BaseException) -> bool:
    import errno
    import sqlite3

    if isinstance(e, OSError):
        return e.errno in (errno.ENOSPC, errno.EDQUOT)
    return isinstance(e, sqlite3.OperationalError) and "full" in str(e)


class Trouble:
    """A failure that repeats every loop is logged once when it starts (with a traceback only
    when it is unexpected) and once when it clears, never every few seconds."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.current: str | None = None

    def failed(self, e: BaseException) -> None:
        full = _disk_full(e)
        key = "disk full" if full else f"{type(e).__name__}: {e}"
        if key == self.current:
            return
        self.current = key
        if full:
            log.error(
                "%s: the disk is full (%s). Free some space; it resumes by itself.", self.what, e
            )
        else:
            log.error("%s: %s (retrying; logged once)", self.what, key, exc_info=e)

    def ok(self) -> None:
        if self.current is not None:
            log.warning("%s: working again after: %s", self.what, self.current)
            self.current = None


class BucketWatcher:
    """Turns new or changed files under a bucket folder into storage events on the bus."""

    def __init__(
        self,
        blobs: FolderBlobs,
        bucket: str,
        bus: SqliteBus,
        *,
        settle: float = 0.3,
        rescan: float = 5.0,
        use_watchdog: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.blobs, self.bucket, self.bus = blobs, bucket, bus
        self.folder = blobs.bucket_path(bucket)
        self.settle, self.rescan, self.use_watchdog = settle, rescan, use_watchdog
        self._now = clock
        self._pending: dict[str, tuple[tuple[int, int, int], float]] = {}
        self._ignored: set[Path] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._rescan_soon = threading.Event()
        self._thread: threading.Thread | None = None
        self._observer: Any = None

    # ---- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.scan()
        if self.use_watchdog:
            self._start_observer()
        self._thread = threading.Thread(target=self._loop, name="bucket-watcher", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout=5)
        if self._thread is not None:
            self._thread.join(timeout=5)

    def idle(self) -> bool:
        with self._lock:
            return not self._pending and not self._rescan_soon.is_set()

    def _start_observer(self) -> None:
        from watchdog.events import FileSystemEventHandler
        from watchdog.observers import Observer

        watcher = self

        class _Handler(FileSystemEventHandler):
            def on_any_event(self, event: Any) -> None:
                if event.event_type in ("deleted", "opened", "closed_no_write"):
                    return
                if event.is_directory:
                    watcher._rescan_soon.set()
                    return
                path = getattr(event, "dest_path", "") or event.src_path
                watcher.notice(Path(os.fsdecode(path)))

        self._observer = Observer()
        self._observer.schedule(_Handler(), str(self.folder), recursive=True)
        self._observer.start()

    # ---- detection ------------------------------------------------------------------------

    def _rel(self, path: Path) -> str | None:
        try:
            rel = path.relative_to(self.folder).as_posix()
        except ValueError:
            return None
        return None if rel == "." or _hidden(rel) else rel

    def notice(self, path: Path) -> None:
        """A file may have changed: watch it until it settles."""
        rel = self._rel(path)
        if rel is None:
            return
        with self._lock:
            self._pending.setdefault(rel, ((-1, -1, -1), self._now()))

    def scan(self) -> int:
        """Queue every file whose current generation has not been published yet."""
        found = 0
        for dirpath, dirnames, filenames in os.walk(self.folder):
            kept = [d for d in dirnames if not d.startswith(".")]
            for d in set(dirnames) - set(kept):
                self._ignore(Path(dirpath) / d, "a hidden folder")
            for d in kept:
                if d.endswith(".jsonl"):
                    self._ignore(Path(dirpath) / d, "a folder named like a dataset file")
            dirnames[:] = kept
            for fn in [f for f in filenames if f.startswith(".")]:
                self._ignore(Path(dirpath) / fn, "a hidden file")
            for fn in filenames:
                path = Path(dirpath) / fn
                rel = self._rel(path)
                if rel is None:
                    continue
                st = self._stat(rel, path)
                if st is None:
                    continue
                if not self.bus.seen(storage_key(self.bucket, rel, generation_of(st))):
                    self.notice(path)
                    found += 1
        return found

    def _loop(self) -> None:
        next_scan = self._now() + self.rescan
        step = max(0.02, min(0.1, self.settle / 3))
        trouble = Trouble("bucket watcher")
        while not self._stop.wait(step):
            try:
                if self._rescan_soon.is_set() or self._now() >= next_scan:
                    self._rescan_soon.clear()
                    self.scan()
                    next_scan = self._now() + self.rescan
                self._check_pending()
            except Exception as e:  # keep watching; the next rescan retries
                trouble.failed(e)
            else:
                trouble.ok()

    def _check_pending(self) -> None:
        """Fire files that have settled — but only once nothing else in their folder is still
        being written: `cp -r my-dataset incoming/` copies in directory order, so train.jsonl may
        land before a large validation.jsonl is complete, and the validator reads siblings."""
        now = self._now()
        with self._lock:
            items = list(self._pending.items())
        ready: list[str] = []
        busy_folders: set[str] = set()
        for rel, (sig, since) in items:
            path = self.folder / rel
            st = self._stat(rel, path)
            if st is None:
                with self._lock:
                    self._pending.pop(rel, None)
                continue
            new_sig = (st.st_size, st.st_mtime_ns, st.st_ino)
            if new_sig != sig:
                with self._lock:
                    self._pending[rel] = (new_sig, now)
                busy_folders.add(_folder(rel))
                continue
            if now - since < self.settle:
                busy_folders.add(_folder(rel))
                continue
            if now - since < self.settle * INCOMPLETE_FACTOR and not _complete(path):
                busy_folders.add(_folder(rel))
                continue
            if open_for_writing(path):
                with self._lock:  # restart the settle clock: the writer may pause again
                    self._pending[rel] = (new_sig, now)
                busy_folders.add(_folder(rel))
                continue
            ready.append(rel)
        for rel in ready:
            if _folder(rel) in busy_folders:
                continue  # a sibling is still changing: wait for the whole folder to settle
            with self._lock:
                self._pending.pop(rel, None)
            self._fire(rel)

    def _stat(self, rel: str, path: Path) -> os.stat_result | None:
        """The file's own status: a name the bucket refuses (a symlink out of it, a backslash)
        is described by the link itself, so it still fires once and its run says why."""
        try:
            self.blobs.path(self.bucket, rel)
            st = path.stat()
        except UnsafeObjectName:
            try:
                return path.lstat()
            except OSError:
                return None
        except OSError:
            return None
        if stat.S_ISDIR(st.st_mode):
            self._ignore(path, "a folder, not a file")
            return None
        return st

    def _ignore(self, path: Path, why: str) -> None:
        """One debug line per ignored path, not one per rescan."""
        if path not in self._ignored:
            if len(self._ignored) > 10000:
                self._ignored.clear()
            self._ignored.add(path)
            log.debug("ignored  %s: %s", path, why)

    def _fire(self, rel: str) -> None:
        try:
            info = self.blobs.stat(self.bucket, rel)
            unsafe = None
        except UnsafeObjectName as e:
            st = self._stat(rel, self.folder / rel)
            if st is None:
                return
            info, unsafe = None, e
            generation, size, md5, ctype = generation_of(st), st.st_size, None, "inode/symlink"
        if info is not None:
            generation, size, md5 = info.generation, info.size, info.md5
            ctype = info.content_type or "application/octet-stream"
        elif unsafe is None:
            return
        key = storage_key(self.bucket, rel, generation)
        attrs, data = storage_finalized_event(
            bucket=self.bucket,
            name=rel,
            generation=generation,
            size=size,
            md5=md5,
            content_type=ctype,
        )
        body = orjson.dumps({"attributes": attrs, "data": data})
        msg_attrs = {
            "type": STORAGE_FINALIZED,
            "bucket": self.bucket,
            "name": rel,
            "generation": generation,
        }
        if self.bus.publish_once(key, STORAGE_TOPIC, body, msg_attrs) is None:
            return
        if unsafe is not None:
            log.warning("refused  %s/%s: %s", self.bucket, rel, unsafe.message)
        else:
            log.info("upload   %s/%s (%d bytes, generation %s)", self.bucket, rel, size, generation)


class Ticker:
    """Publishes a poll tick every `interval` seconds while no tick is waiting."""

    def __init__(self, bus: SqliteBus, subscription: str, interval: float) -> None:
        self.bus, self.subscription, self.interval = bus, subscription, interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="poll-ticker", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def tick(self) -> bool:
        if self.bus.pending([self.subscription]):
            return False
        data, attrs = encode_message(POLL_TICK, None)
        self.bus.publish(POLL_TOPIC, data, attrs)
        return True

    def _loop(self) -> None:
        trouble = Trouble("poll ticker: could not publish a tick")
        while not self._stop.wait(self.interval):
            try:
                self.tick()
            except Exception as e:
                trouble.failed(e)
            else:
                trouble.ok()
