"""Each packaged zip, unzipped into a clean virtual environment built from its own
requirements.txt alone, imports and serves its entry point the way the platform calls it.

The environment is created with uv (from PyPI, then its cache) and reused while the
requirements file is unchanged. Requests use the real protocols: a binary-mode CloudEvent from
Eventarc for the validator, a raw Pub/Sub push body for the push-subscribed hops (the
functions-framework converts it), a plain GET for the status page. The pipeline runs on the
local backend so no cloud call is made; the gcp adapters a function needs are imported too.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.infra.hcl import REPO, roles_table
from tests.infra.test_packaging import pf

pytestmark = pytest.mark.slow

TABLE = roles_table()
VENV_CACHE = REPO / "build" / "fn-venvs"
PYTHON = "3.11"


def _uv() -> str:
    found = shutil.which("uv") or str(Path(sys.executable).with_name("uv"))
    if not Path(found).is_file():
        pytest.skip("uv is not installed: `pip install uv==0.13.8` (dev dependency)")
    return found


def clean_venv(requirements: Path) -> Path:
    """A venv holding only what requirements.txt installs (no system site-packages)."""
    digest = hashlib.sha256(requirements.read_bytes() + PYTHON.encode()).hexdigest()[:16]
    venv = VENV_CACHE / digest
    if (venv / ".complete").is_file():
        return venv
    shutil.rmtree(venv, ignore_errors=True)
    uv = _uv()
    subprocess.run([uv, "venv", "-q", "--python", sys.executable, str(venv)], check=True)
    subprocess.run(
        [
            uv,
            "pip",
            "install",
            "-q",
            "--python",
            str(venv / "bin" / "python"),
            "-r",
            str(requirements),
        ],
        check=True,
        timeout=600,
    )
    (venv / ".complete").touch()
    return venv


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def gcp_modules(row: dict[str, object]) -> list[str]:
    """The gcp adapters a function's roles imply it uses (so requirements must cover them)."""
    roles = set(row["project_roles"])  # type: ignore[call-overload]
    mods = []
    if row["bucket_roles"]:
        mods.append("shared.gcp.storage")
    if roles & {"roles/datastore.user", "roles/datastore.viewer"}:
        mods.append("shared.gcp.firestore")
    if row["publishes"]:
        mods.append("shared.gcp.pubsub")
    if "roles/aiplatform.user" in roles:
        mods.append("shared.gcp.vertex")
    return mods


#: What a function's pipeline imports inside a function body (so serving one request that
#: does no work never loads it): the validator and its redaction, the evaluator's reading of
#: the evaluation dataset (`pipeline/evaluate.py` → `iter_examples`).
LATE_IMPORTS = {
    "validator": ["shared.datasets.validator", "shared.datasets.redact", "regex"],
    "evaluator": ["shared.datasets.examples"],
}


@dataclass
class Served:
    url: str
    log: Path


@pytest.fixture
def served(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, Served]]:
    name: str = request.param
    row = TABLE[name]
    src = tmp_path / "src"
    with zipfile.ZipFile(pf.build_zip(name, tmp_path / f"{name}.zip")) as zf:
        zf.extractall(src)
    venv = clean_venv(src / "requirements.txt")
    py = venv / "bin" / "python"
    env = {
        "PATH": f"{venv / 'bin'}:/usr/bin:/bin",
        "HOME": str(tmp_path),
        "BACKEND": "local",
        "LOCAL_ROOT": str(tmp_path / "local-root"),
        "DATASETS_BUCKET": "datasets",
        "ARTIFACTS_BUCKET": "artifacts",
    }
    mods = gcp_modules(row) + LATE_IMPORTS.get(name, [])
    probe = subprocess.run(
        [
            str(py),
            "-c",
            "import sys, importlib; [importlib.import_module(m) for m in sys.argv[1:]]",
            *mods,
        ],
        cwd=src,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert probe.returncode == 0, (
        f"{name}: {mods} do not import from requirements.txt alone:\n" + (probe.stderr[-2000:])
    )
    port = _free_port()
    # Pub/Sub push reaches a Cloud Function as plain HTTP: the decorator must make it a CloudEvent.
    signature = "cloudevent" if row["trigger"]["type"] == "storage" else "http"
    log = tmp_path / "server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                str(venv / "bin" / "functions-framework"),
                "--target",
                row["entry_point"],
                "--source",
                str(src / "main.py"),
                "--signature-type",
                signature,
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            cwd=src,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                pytest.fail(f"{name} exited {proc.returncode}:\n{log.read_text()[-3000:]}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"{name} did not listen within 30 s:\n{log.read_text()[-3000:]}")
                time.sleep(0.05)
        yield name, Served(f"http://127.0.0.1:{port}/", log)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def _request(name: str, url: str) -> urllib.request.Request:
    row = TABLE[name]
    kind = row["trigger"]["type"]
    if kind == "http":
        return urllib.request.Request(url, method="GET")
    if kind == "storage":
        # A finalized object outside incoming/: a valid event that must be ignored.
        data = {
            "bucket": "datasets",
            "name": "notes/readme.txt",
            "generation": "1",
            "size": "3",
            "contentType": "text/plain",
            "timeCreated": _now(),
            "updated": _now(),
        }
        headers = {
            "Content-Type": "application/json",
            "ce-specversion": "1.0",
            "ce-id": "evt-1",
            "ce-type": "google.cloud.storage.object.v1.finalized",
            "ce-source": "//storage.googleapis.com/projects/_/buckets/datasets",
            "ce-subject": "objects/notes/readme.txt",
            "ce-time": _now(),
        }
        return urllib.request.Request(url, data=json.dumps(data).encode(), headers=headers)
    types = {
        "dataset_validated": "dataset-validated",
        "poll_tick": "poll-tick",
        "evaluation_requested": "evaluation-requested",
        "dead_letter": "dataset-validated",  # a launcher message Pub/Sub gave up on
        "run_events": "run-event",  # a working state: acknowledged without posting
    }
    topic = row["trigger"]["topic"]
    mtype = types[topic]
    run_id = None if mtype == "poll-tick" else "no-such-run"
    body = {"type": mtype, "version": 1, "run_id": run_id}
    attrs = {"type": mtype, "version": "1", **({"run_id": run_id} if run_id else {})}
    if topic == "dead_letter":
        attrs |= {
            "CloudPubSubDeadLetterSourceSubscription": "gtp-launcher-push",
            "CloudPubSubDeadLetterSourceSubscriptionProject": "p",
            "CloudPubSubDeadLetterSourceDeliveryCount": "10",
            "CloudPubSubDeadLetterSourceTopicPublishTime": _now(),
        }
    push = {
        "message": {
            "data": base64.b64encode(json.dumps(body).encode()).decode(),
            "attributes": attrs,
            "messageId": "42",
            "publishTime": _now(),
        },
        "subscription": "projects/p/subscriptions/s",
    }
    return urllib.request.Request(
        url, data=json.dumps(push).encode(), headers={"Content-Type": "application/json"}
    )


@pytest.mark.parametrize("served", sorted(TABLE), indirect=True)
def test_zip_serves_its_entry_point(served: tuple[str, Served]) -> None:
    name, srv = served
    req = _request(name, srv.url)
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            status, body = resp.status, resp.read()
    except urllib.error.HTTPError as e:
        status, body = e.code, e.read()
    assert status == 200, f"{name}: HTTP {status} {body[:300]!r}\n{srv.log.read_text()[-3000:]}"
    if TABLE[name]["trigger"]["type"] == "http":
        assert body.strip(), "the status page served an empty body"


def test_requirements_pin_every_package() -> None:
    """The zip is rebuilt on every deploy: unpinned requirements would change under it."""
    for name in TABLE:
        reqs = (REPO / "functions" / name / "requirements.txt").read_text(encoding="utf-8")
        lines = [ln.strip() for ln in reqs.splitlines() if ln.strip() and not ln.startswith("#")]
        assert lines and all("==" in ln for ln in lines), f"{name}: pin each line with =="
