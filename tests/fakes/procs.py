"""Start and stop local emulator processes for tests and benchmarks.

Every server binds 127.0.0.1 on a free port; output goes to a log file (never an undrained pipe:
a full pipe blocks the child, which is how fake-gcs-server's own wrapper hangs after ~460
requests). `stop()` ends only the process this module started, by pid.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


@dataclass
class Server:
    """A child process serving on 127.0.0.1:port."""

    name: str
    port: int
    proc: subprocess.Popen[bytes]
    log_path: Path

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def log_tail(self, n: int = 2000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-n:]
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        with contextlib.suppress(OSError):
            self.log_path.unlink()


def start(
    name: str,
    argv: Sequence[str],
    port: int,
    *,
    ready: Callable[[], bool] | None = None,
    timeout_s: float = 20.0,
    cwd: str | None = None,
    env: dict[str, str] | None = None,
) -> Server:
    """Start `argv`, wait until `ready()` (default: the port accepts connections)."""
    fd, log = tempfile.mkstemp(prefix=f"{name}-", suffix=".log")
    with os.fdopen(fd, "wb") as out:
        proc = subprocess.Popen(
            list(argv),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=cwd,
            env={**os.environ, **(env or {})},
        )
    server = Server(name, port, proc, Path(log))
    check = ready or (lambda: port_open(port))
    deadline = time.monotonic() + timeout_s
    delay = 0.02
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = server.log_tail()
            server.stop()
            raise RuntimeError(f"{name} exited with {proc.returncode} at start:\n{tail}")
        if check():
            return server
        time.sleep(delay)
        delay = min(delay * 1.5, 0.25)
    tail = server.log_tail()
    server.stop()
    raise RuntimeError(f"{name} did not become ready within {timeout_s}s:\n{tail}")
