"""`gemini-tuning local --notify URL`: a rejected upload is posted to a chat webhook on
127.0.0.1 (started and stopped by the test), as the cloud notifier would post it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fakes.webhook import webhook

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def test_local_runtime_posts_a_rejected_run_to_the_webhook(tmp_path: Path) -> None:
    root = tmp_path / "root"
    with webhook() as hook:
        env = {**os.environ, "PYTHONPATH": str(REPO), "LOG_LEVEL": "WARNING"}
        env.pop("BACKEND", None)
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "shared.cli",
                "local",
                "--root",
                str(root),
                "--tick",
                "0.3",
                "--notify",
                hook.url,
                "--notify-format",
                "wecom",
            ],
            env=env,
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            folder = root / "bucket" / "incoming" / "broken"
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "train.jsonl").write_text("not json\n")
            assert hook.arrived.wait(60), "nothing was posted"
        finally:
            proc.send_signal(signal.SIGINT)
            _, err = proc.communicate(timeout=60)
    [payload] = hook.posts
    content = payload["markdown"]["content"]
    assert payload["msgtype"] == "markdown"
    assert "REJECTED" in content and "train.jsonl line 1" in content, content
    assert b"Traceback" not in err
