"""Every function served by `functions-framework` in its own process, fed real Eventarc
CloudEvents over HTTP (binary and structured mode, raw Pub/Sub push) with the local backend.

What this proves beyond the in-process tests: the decorators, signature types, CloudEvent
decoding and the status codes the platform sees (2xx = done or permanently failed and
acknowledged, 5xx = retry) are right when the function runs the way Cloud Run runs it.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from shared import events
from shared.clock import utcnow
from shared.local.blobs import FolderBlobs
from shared.local.paths import LocalLayout
from shared.local.store import SqliteRunStore
from shared.runs import DatasetInfo, Run, RunStatus, make_run_id
from tests import changes

pytestmark = pytest.mark.slow  # six server processes: ~4-8 s on two shared cores

REPO = Path(__file__).resolve().parents[2]
BUCKET = "bucket"
PROJECT = "local-project"
FUNCTIONS = {
    "validator": ("on_dataset_uploaded", "cloudevent"),
    "launcher": ("on_dataset_validated", "cloudevent"),
    "poller": ("on_poll_tick", "cloudevent"),
    "evaluator": ("on_evaluation_requested", "cloudevent"),
    "deadletter": ("on_dead_letter", "cloudevent"),
    "status": ("status_page", "http"),
}
EXAMPLES = [
    ("账号被盗了怎么办？", "请立即在登录页点击“找回账号”，验证手机号后修改密码。"),
    ("充值没到账怎么办？", "请提供订单号，我们会在24小时内为您补发。"),
    ("How do I change my server?", "Open Settings > Account > Server and pick a new one."),
    ("游戏卡顿怎么解决？", "请清理缓存并切换到稳定的网络后重试。"),
] * 3


def _env(root: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("BACKEND", "LOCAL_ROOT")}
    env.update(
        BACKEND="local",
        LOCAL_ROOT=str(root),
        DATASETS_BUCKET=BUCKET,
        GCP_PROJECT=PROJECT,
        PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")])),
        PYTHONUNBUFFERED="1",
    )
    return env


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_listening(proc: subprocess.Popen[bytes], port: int, log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"function exited with {proc.returncode}:\n{log.read_text()}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"function did not listen on {port} within 30 s:\n{log.read_text()}")


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("local-root")


@pytest.fixture(scope="module")
def servers(root: Path) -> Iterator[dict[str, str]]:
    """Start all six functions at once (in parallel: cold starts overlap) and stop them."""
    missing = [n for n in FUNCTIONS if not (REPO / "functions" / n / "main.py").exists()]
    assert not missing, f"functions without main.py: {missing}"
    procs: list[tuple[subprocess.Popen[bytes], int, Path]] = []
    urls: dict[str, str] = {}
    try:
        for name, (target, sig) in FUNCTIONS.items():
            port = _free_port()
            log = root / f"{name}.log"
            cmd = [
                sys.executable, "-m", "functions_framework",
                "--target", target, "--source", str(REPO / "functions" / name / "main.py"),
                "--signature-type", sig, "--host", "127.0.0.1", "--port", str(port),
            ]  # fmt: skip
            with log.open("wb") as out:
                proc = subprocess.Popen(cmd, env=_env(root), stdout=out, stderr=subprocess.STDOUT)
            procs.append((proc, port, log))
            urls[name] = f"http://127.0.0.1:{port}/"
        for proc, port, log in procs:
            _wait_listening(proc, port, log)
        yield urls
    finally:
        for proc, _, _ in procs:
            proc.send_signal(signal.SIGINT)  # gunicorn: quick shutdown (SIGTERM is graceful)
        for proc, _, _ in procs:
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


# ---- HTTP helpers --------------------------------------------------------------------------


def _post(url: str, body: bytes, headers: Mapping[str, str]) -> tuple[int, bytes]:
    req = urllib.request.Request(url, data=body, headers=dict(headers), method="POST")
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def send_binary(url: str, attrs: Mapping[str, str], data: Any) -> int:
    """Binary content mode: context in `ce-*` headers, the data as the body."""
    headers = {f"ce-{k}": v for k, v in attrs.items() if k != "datacontenttype"}
    headers["Content-Type"] = attrs.get("datacontenttype", "application/json")
    body = data if isinstance(data, bytes) else json.dumps(data).encode()
    return _post(url, body, headers)[0]


def send_structured(url: str, attrs: Mapping[str, str], data: Any) -> int:
    """Structured content mode: one `application/cloudevents+json` document."""
    doc = {**attrs, "data": data}
    return _post(url, json.dumps(doc).encode(), {"Content-Type": "application/cloudevents+json"})[0]


def upload(root: Path, name: str, lines: list[str]) -> tuple[dict[str, str], dict[str, Any]]:
    """Write the object as the local bucket would and build Eventarc's finalize event for it."""
    info = FolderBlobs(root).write_bytes(BUCKET, name, ("\n".join(lines) + "\n").encode())
    return events.storage_finalized_event(
        bucket=BUCKET, name=name, generation=info.generation, size=info.size
    )


def good_lines() -> list[str]:
    return [
        json.dumps(
            {
                "contents": [
                    {"role": "user", "parts": [{"text": q}]},
                    {"role": "model", "parts": [{"text": a}]},
                ]
            },
            ensure_ascii=False,
        )
        for q, a in EXAMPLES
    ]


def runs(root: Path) -> dict[str, Run]:
    store = SqliteRunStore(LocalLayout(root).runs_db)
    try:
        return {r.run_id: r for r in store.list_recent(limit=500)}
    finally:
        store.close()


def pubsub(topic: str, type_: str, run_id: str | None, msg_id: str) -> tuple[dict[str, str], Any]:
    data, attrs = events.encode_message(type_, run_id)
    return events.pubsub_published_event(
        project=PROJECT, topic=topic, data=data, attributes=attrs, message_id=msg_id
    )


def run_in_process(
    root: Path, function: str, target: str, attrs: dict[str, str], data: Any
) -> None:
    """Call the same entry point in this process (the reference behaviour)."""
    from cloudevents.http import CloudEvent

    from shared import composition

    spec = importlib.util.spec_from_file_location(
        f"fn_{function}", REPO / "functions" / function / "main.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    saved = {k: os.environ.get(k) for k in ("BACKEND", "LOCAL_ROOT", "DATASETS_BUCKET")}
    os.environ.update(BACKEND="local", LOCAL_ROOT=str(root), DATASETS_BUCKET=BUCKET)
    composition.install(None)
    try:
        getattr(module, target)(CloudEvent(attrs, data))
    finally:
        composition.install(None)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


# ---- validator -----------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["binary", "structured"])
def test_finalize_creates_a_run_like_in_process(
    servers: dict[str, str], root: Path, tmp_path: Path, mode: str
) -> None:
    name = f"incoming/cs-{mode}/train.jsonl"
    attrs, data = upload(root, name, good_lines())
    send = send_binary if mode == "binary" else send_structured
    assert send(servers["validator"], attrs, data) in (200, 204)

    run = runs(root)[make_run_id(BUCKET, name, data["generation"])]
    assert run.status in (RunStatus.VALIDATED, RunStatus.REJECTED)

    ref_root = tmp_path / "reference"
    ref_attrs, ref_data = upload(ref_root, name, good_lines())
    run_in_process(ref_root, "validator", "on_dataset_uploaded", ref_attrs, ref_data)
    (ref,) = runs(ref_root).values()
    assert (run.status, run.validation.summary) == (ref.status, ref.validation.summary)


def test_duplicate_delivery_makes_one_run(servers: dict[str, str], root: Path) -> None:
    name = "incoming/cs-dup/train.jsonl"
    attrs, data = upload(root, name, good_lines())
    before = set(runs(root))
    for send in (send_binary, send_structured, send_binary):
        assert send(servers["validator"], attrs, data) in (200, 204)
    assert len(set(runs(root)) - before) == 1


def test_object_outside_incoming_creates_no_run(servers: dict[str, str], root: Path) -> None:
    before = set(runs(root))
    attrs, data = upload(root, "reports/cs/train.jsonl", good_lines())
    assert send_binary(servers["validator"], attrs, data) in (200, 204)
    assert set(runs(root)) == before


@pytest.mark.parametrize(
    "data", [b"not json", b"[1, 2]", json.dumps({"name": "incoming/x/train.jsonl"}).encode()]
)
def test_malformed_finalize_event_is_acknowledged(
    servers: dict[str, str], root: Path, data: bytes
) -> None:
    attrs, _ = events.storage_finalized_event(bucket=BUCKET, name="incoming/x/train.jsonl",
                                              generation="1", size=1)  # fmt: skip
    before = set(runs(root))
    assert send_binary(servers["validator"], attrs, data) in (200, 204)
    assert set(runs(root)) == before


def test_validation_in_progress_elsewhere_answers_5xx_for_retry(
    servers: dict[str, str], root: Path
) -> None:
    name = "incoming/cs-busy/train.jsonl"
    attrs, data = upload(root, name, good_lines())
    run_id = make_run_id(BUCKET, name, data["generation"])
    dataset = DatasetInfo(bucket=BUCKET, name=name, generation=data["generation"],
                          uri=f"file://{root}/{BUCKET}/{name}", size=int(data["size"]))  # fmt: skip
    store = SqliteRunStore(LocalLayout(root).runs_db)
    try:  # another delivery holds a fresh VALIDATING lease on this run
        assert store.create(Run.new(run_id, dataset, simulated=True))
        lease = changes.validation(started_at=utcnow())
        claimed = store.transition(
            run_id, [RunStatus.RECEIVED], RunStatus.VALIDATING, note="busy", change=lease
        )
        assert claimed is not None
    finally:
        store.close()
    assert send_binary(servers["validator"], attrs, data) >= 500


# ---- launcher, evaluator, poller, status ----------------------------------------------------


def test_validated_message_over_http_launches_the_run(servers: dict[str, str], root: Path) -> None:
    name = "incoming/cs-launch/train.jsonl"
    attrs, data = upload(root, name, good_lines())
    assert send_structured(servers["validator"], attrs, data) in (200, 204)
    run_id = make_run_id(BUCKET, name, data["generation"])
    assert runs(root)[run_id].status == RunStatus.VALIDATED, runs(root)[run_id].error

    m_attrs, m_data = pubsub("dataset-validated", events.DATASET_VALIDATED, run_id, "m-launch")
    assert send_binary(servers["launcher"], m_attrs, m_data) in (200, 204)
    assert runs(root)[run_id].status in (RunStatus.QUEUED, RunStatus.TRAINING)
    # A redelivery finds the work done and still acknowledges.
    assert send_structured(servers["launcher"], m_attrs, m_data) in (200, 204)


def test_raw_pubsub_push_body_is_accepted(servers: dict[str, str], root: Path) -> None:
    """An explicit push subscription posts `{"message", "subscription"}` without ce- headers."""
    _, m_data = pubsub("dataset-validated", events.DATASET_VALIDATED, "no-such-run", "m-push")
    status, _ = _post(servers["launcher"], json.dumps(m_data).encode(),
                      {"Content-Type": "application/json"})  # fmt: skip
    assert status in (200, 204)  # unknown run: permanent, acknowledged


@pytest.mark.parametrize("function", ["launcher", "evaluator"])
def test_bad_pubsub_messages_are_acknowledged(
    servers: dict[str, str], root: Path, function: str
) -> None:
    m_attrs, m_data = pubsub("t", events.DATASET_VALIDATED, "x", f"m-bad-{function}")
    bad_b64 = {**m_data, "message": {**m_data["message"], "data": "%%%not-base64"}}
    wrong_version = base64.b64encode(json.dumps({"type": "x", "version": 99}).encode()).decode()
    future = {**m_data, "message": {**m_data["message"], "data": wrong_version}}
    before = {k: r.status for k, r in runs(root).items()}
    for data in (bad_b64, future, {"no": "message"}):
        assert send_structured(servers[function], m_attrs, data) in (200, 204)
    assert {k: r.status for k, r in runs(root).items()} == before


def test_poll_tick_is_acknowledged(servers: dict[str, str]) -> None:
    attrs, data = pubsub("poll-tick", events.POLL_TICK, None, "tick-1")
    assert send_binary(servers["poller"], attrs, data) in (200, 204)


def _dead_letter_push(type_: str, run_id: str | None, subscription: str) -> bytes:
    """The raw push body the dead-letter topic's subscription posts: the original message with
    Pub/Sub's dead-letter attributes added."""
    data, attrs = events.encode_message(type_, run_id)
    attrs |= {
        "CloudPubSubDeadLetterSourceSubscription": subscription,
        "CloudPubSubDeadLetterSourceSubscriptionProject": PROJECT,
        "CloudPubSubDeadLetterSourceDeliveryCount": "5",
        "CloudPubSubDeadLetterSourceTopicPublishTime": "2025-05-01T10:00:00.123Z",
    }
    _, body = events.pubsub_published_event(
        project=PROJECT, topic="gtp-dead-letter", data=data, attributes=attrs,
        message_id=f"dl-{subscription}", subscription=f"projects/{PROJECT}/subscriptions/dl-push",
    )  # fmt: skip
    return json.dumps(body).encode()


def test_dead_letter_push_fails_the_run_with_the_reason(
    servers: dict[str, str], root: Path
) -> None:
    name = "incoming/cs-dead/train.jsonl"
    run_id = make_run_id(BUCKET, name, "7")
    dataset = DatasetInfo(bucket=BUCKET, name=name, generation="7",
                          uri=f"file://{root}/{BUCKET}/{name}", size=10)  # fmt: skip
    store = SqliteRunStore(LocalLayout(root).runs_db)
    try:
        assert store.create(Run.new(run_id, dataset, simulated=True))
    finally:
        store.close()
    push = _dead_letter_push(events.DATASET_VALIDATED, run_id, "gtp-launcher-push")
    headers = {"Content-Type": "application/json"}
    assert _post(servers["deadletter"], push, headers)[0] in (200, 204)
    run = runs(root)[run_id]
    assert run.status == RunStatus.FAILED and run.error is not None
    assert run.error.stage == "launcher" and "after 5 attempts" in run.error.message
    assert f"see the launcher's logs for run {run_id}" in run.error.message
    # Redelivered (at least once): acknowledged, the run stays as it is.
    assert _post(servers["deadletter"], push, headers)[0] in (200, 204)
    assert runs(root)[run_id] == run


def test_dead_lettered_poll_tick_is_acknowledged(servers: dict[str, str], root: Path) -> None:
    before = {k: r.status for k, r in runs(root).items()}
    push = _dead_letter_push(events.POLL_TICK, None, "gtp-poller-push")
    status, _ = _post(servers["deadletter"], push, {"Content-Type": "application/json"})
    assert status in (200, 204)
    assert {k: r.status for k, r in runs(root).items()} == before


def test_status_page_lists_runs_over_http(servers: dict[str, str], root: Path) -> None:
    with urllib.request.urlopen(servers["status"] + "?format=json", timeout=30) as resp:
        assert resp.status == 200
        listed = {r["run_id"] for r in json.loads(resp.read())}
    assert listed == set(runs(root))
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(servers["status"] + "?run_id=nope", timeout=30)
    assert e.value.code == 404
