"""A terminal that cannot encode Chinese gets escapes, not a `UnicodeEncodeError` traceback,
and the exit code still says what happened (issue 17). Real processes: the stream encoding is
what the interpreter picks from PYTHONIOENCODING at start."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.unit.pipeline.conftest import ZH_EXAMPLES, make_world
from tests.unit.pipeline.trained import trained

REPO = Path(__file__).resolve().parents[3]
ZH_TRAIN = REPO / "examples" / "datasets" / "game-cs-zh" / "train.jsonl"


def _cli(*args: str) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "PYTHONIOENCODING": "ascii"}
    return subprocess.run(
        [sys.executable, "-m", "shared.cli", *args],
        capture_output=True,
        cwd=REPO,
        env=env,
        timeout=120,
    )


def test_validate_on_an_ascii_terminal_reports_and_exits_0() -> None:
    done = _cli("validate", str(ZH_TRAIN))
    assert done.returncode == 0, done.stderr[-2000:]
    assert b"Traceback" not in done.stderr and b"UnicodeEncodeError" not in done.stderr
    done.stdout.decode("ascii")  # only ASCII reached the terminal


def test_chat_on_an_ascii_terminal_prints_escapes(tmp_path: Path) -> None:
    world = make_world(tmp_path, max_jobs=2)
    rid = trained(world, world.drop_dataset("a"))
    q, a = ZH_EXAMPLES[2]
    done = _cli("chat", rid, "--prompt", q, "--root", str(world.root))
    assert done.returncode == 0, done.stderr[-2000:]
    assert a.encode("ascii", "backslashreplace") in done.stdout
