"""Jobs live in SQLite under the root: other instances, threads and processes see them."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

from shared import errors
from shared.local.paths import LocalLayout
from shared.simulator import SimulatedTuner
from tests.unit.simulator.helpers import ManualClock, dataset, make_spec

ENV = {"SIM_TRAINING_SECONDS": "3600"}


def test_a_second_instance_on_the_same_root_sees_the_job(tmp_path: Path) -> None:
    first = SimulatedTuner.from_root(tmp_path, env=ENV)
    job = first.create_job(make_spec(dataset(tmp_path), "run-persist"))
    del first

    second = SimulatedTuner.from_root(tmp_path, env=ENV)
    assert second.get_job(job.name).name == job.name
    assert [j.name for j in second.find_jobs("run-persist")] == [job.name]
    assert (LocalLayout(tmp_path).simulator_db).is_file()


def test_a_job_created_by_a_process_that_then_dies_is_found(tmp_path: Path) -> None:
    """The launcher may die right after create_job returns: the job must already be stored."""
    uri = dataset(tmp_path)
    script = (
        "import os, sys\n"
        "from pathlib import Path\n"
        "from shared.simulator import SimulatedTuner\n"
        "from tests.unit.simulator.helpers import make_spec\n"
        "t = SimulatedTuner.from_root(Path(sys.argv[1]), env={'SIM_TRAINING_SECONDS': '3600'})\n"
        "print(t.create_job(make_spec(sys.argv[2], 'run-crash')).name, flush=True)\n"
        "os._exit(1)  # no clean shutdown, no close()\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path), uri],
        cwd=Path(__file__).resolve().parents[3],  # the repo root, so `tests` imports
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    name = out.stdout.strip()
    assert name, out.stderr

    found = SimulatedTuner.from_root(tmp_path, env=ENV).find_jobs("run-crash")
    assert [j.name for j in found] == [name]


def test_the_quota_holds_when_threads_create_at_once(tmp_path: Path) -> None:
    uri = dataset(tmp_path)
    tuner = SimulatedTuner.from_root(tmp_path, env={**ENV, "SIM_QUOTA": "2"}, clock=ManualClock())
    outcomes: list[str] = []
    start = threading.Barrier(6)

    def launch(i: int) -> None:
        start.wait()
        try:
            tuner.create_job(make_spec(uri, f"run-{i}"))
            outcomes.append("created")
        except errors.QuotaExceeded:
            outcomes.append("quota")

    threads = [threading.Thread(target=launch, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert sorted(outcomes) == ["created"] * 2 + ["quota"] * 4
