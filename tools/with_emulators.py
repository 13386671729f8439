"""Run a command with Google's official Firestore and Pub/Sub emulators up on 127.0.0.1.

`make test` uses it to run the Google Cloud contract suites against the real emulators (the
transaction-conflict tests need them: the npm Firestore fake never conflicts). The emulators
come with the gcloud SDK on this machine image; without `gcloud` (or Java) it says so and exits
0, so the rest of `make test` still runs. Each emulator runs in its own process group, and the
whole group (gcloud's wrapper and the Java server it starts) is stopped when the command ends,
whatever happens.

    python tools/with_emulators.py -- .venv/bin/pytest -q tests/contract -k gcp
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

EMULATORS = {
    "FIRESTORE_EMULATOR_HOST": ["emulators", "firestore", "start"],
    "PUBSUB_EMULATOR_HOST": ["beta", "emulators", "pubsub", "start"],
}
READY_SECONDS = 90


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def ready(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def stop(proc: subprocess.Popen[bytes]) -> None:
    """The emulator's whole process group: gcloud leaves its Java child behind otherwise."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=15)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    time.sleep(0.5)  # the Java server leaves the group after its parent; one more sweep
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)


def main(argv: list[str]) -> int:
    command = argv[argv.index("--") + 1 :] if "--" in argv else argv
    if not command:
        print("usage: with_emulators.py -- COMMAND ...", file=sys.stderr)
        return 2
    gcloud, java = shutil.which("gcloud"), shutil.which("java")
    if gcloud is None or java is None:
        print(
            "SKIPPED official-emulator contract tests: gcloud and Java are not on this machine "
            "(the project's machine image has both; see docs/developing.md, Testing against "
            "emulators or a real project)"
        )
        return 0
    env = dict(os.environ)
    procs: list[subprocess.Popen[bytes]] = []
    logs = Path(tempfile.mkdtemp(prefix="gtp-emulators-"))
    try:
        for var, args in EMULATORS.items():
            port = free_port()
            log = (logs / f"{var.lower()}.log").open("wb")
            procs.append(
                subprocess.Popen(
                    [gcloud, *args, f"--host-port=127.0.0.1:{port}", "--quiet"],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,
                )
            )
            env[var] = f"127.0.0.1:{port}"
        deadline = time.monotonic() + READY_SECONDS
        for var in EMULATORS:
            port = int(env[var].rsplit(":", 1)[1])
            while not ready(port):
                if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
                    print(f"error: the {var} emulator did not start; logs in {logs}")
                    return 2
                time.sleep(0.2)
        print(
            "official emulators up: "
            + ", ".join(f"{v}={env[v]}" for v in EMULATORS)
            + f" (logs in {logs})",
            flush=True,
        )
        return subprocess.call(command, env=env)
    finally:
        for p in procs:
            stop(p)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
