"""`shared.status.respond`, the one status page behind the cloud function and `local --port`."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from shared import status
from shared.runs import RunStatus

from .runs import _new, _walk, rejected_run, store_for

REPO = Path(__file__).resolve().parents[3]


def test_html_or_json_by_format_or_accept_and_404_for_an_unknown_run(tmp_path: Path) -> None:
    store = store_for(tmp_path)
    run = rejected_run(store)
    table = status.respond(store, {})
    assert table.status == 200 and table.content_type.startswith("text/html")
    listed = status.respond(store, {"format": "json"})
    assert [r["run_id"] for r in json.loads(listed.body)] == [run.run_id]
    # One run: JSON for scripts (as before), HTML for a browser or ?format=html.
    assert json.loads(status.respond(store, {"run_id": run.run_id}).body)["status"] == "REJECTED"
    page = status.respond(store, {"run_id": run.run_id}, accept="text/html,*/*")
    assert page.content_type.startswith("text/html") and "<table id='findings'>" in page.body
    assert status.respond(store, {"run_id": "nope"}).status == 404
    assert status.respond(store, {"run_id": "nope", "format": "html"}).status == 404


def test_the_page_reloads_itself_only_while_a_run_is_moving(tmp_path: Path) -> None:
    store = store_for(tmp_path)
    done = rejected_run(store)
    assert "http-equiv" not in status.respond(store, {}).body
    moving = _walk(store, _new(store, "moving"), [(RunStatus.VALIDATING, None)])
    assert 'http-equiv="refresh"' in status.respond(store, {}).body
    one = status.respond(store, {"run_id": moving.run_id, "format": "html"}).body
    assert 'http-equiv="refresh"' in one
    assert "http-equiv" not in status.respond(store, {"run_id": done.run_id, "format": "html"}).body


def test_local_port_serves_the_status_page_on_loopback(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    rejected_run(store_for(tmp_path / "root"))
    root = str(tmp_path / "root")
    proc = subprocess.Popen(
        [sys.executable, "-m", "shared.cli", "local", "--root", root, "--port", str(port)],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO), "LOG_LEVEL": "WARNING"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as resp:
                    body = resp.read().decode()
                break
            except OSError:
                assert time.monotonic() < deadline and proc.poll() is None, "no status page"
                time.sleep(0.2)
        assert "Gemini tuning runs" in body and "REJECTED" in body
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    assert proc.stderr is not None
    assert f"Status page: http://127.0.0.1:{port}/" in proc.stderr.read().decode()
