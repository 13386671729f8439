"""Pipeline figures: poller cost with a large history, and drop -> TRAINING latency (local).

    python -m bench pipeline

Poller: 10,000 finished runs and 10 active runs (TRAINING, simulated jobs) in the SQLite store;
a tick must read only the active runs. Printed: documents read per tick and ms per tick (median
of 20 ticks), beside the same tick on a store holding only the 10 active runs.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from shared.composition import LazyDeps
from shared.local.blobs import FolderBlobs
from shared.local.bus import SqliteBus
from shared.local.paths import LocalLayout
from shared.local.store import SqliteRunStore
from shared.pipeline import poll
from shared.ports import TuningJobSpec
from shared.runs import DatasetInfo, HistoryEntry, Run, RunStatus, utcnow
from shared.settings import Settings
from shared.simulator.config import SimConfig
from shared.simulator.models import SimulatedModels
from shared.simulator.tuner import SimulatedTuner

FINISHED = 10_000
ACTIVE = 10
TICKS = 20


def _deps(root: Path) -> tuple[LazyDeps, SqliteRunStore, SimulatedTuner]:
    for d in ("bucket", "artifacts", "state"):
        (root / d).mkdir(parents=True, exist_ok=True)
    settings = Settings.from_env(
        {"BACKEND": "local", "LOCAL_ROOT": str(root), "MAX_CONCURRENT_JOBS": str(ACTIVE)}
    )
    store = SqliteRunStore(LocalLayout(root).runs_db)
    tuner = SimulatedTuner(LocalLayout(root).simulator_db, config=SimConfig(training_seconds=1e9))
    deps = LazyDeps(
        settings,
        blobs=FolderBlobs(root),
        bus=SqliteBus(root / "state" / "b.db"),
        store=store,
        tuner=tuner,
        models=SimulatedModels(tuner),
    )
    return deps, store, tuner


def _fill(root: Path, store: SqliteRunStore, tuner: SimulatedTuner, finished: int) -> None:
    train = root / "bucket" / "train.jsonl"
    train.write_text('{"contents": []}\n')
    now = utcnow()
    for i in range(finished):
        run = Run.new(
            f"done-{i:05d}", DatasetInfo("bucket", f"incoming/d{i}/train.jsonl", "1", "file:///x")
        )
        run.status = RunStatus.SUCCEEDED
        run.history.append(HistoryEntry(RunStatus.SUCCEEDED, now, "done"))
        store.create(run)
    for i in range(ACTIVE):
        rid = f"active-{i:02d}"
        job = tuner.create_job(
            TuningJobSpec(
                run_id=rid,
                display_name=f"gtp-{rid}",
                base_model="gemini-3.5-flash",
                training_dataset_uri=train.as_uri(),
                validation_dataset_uri=None,
                tuned_model_display_name=rid,
                epoch_count=1,
                learning_rate_multiplier=1.0,
                adapter_size=4,
                export_last_checkpoint_only=True,
                labels={"run_id": rid},
            )
        )
        run = Run.new(rid, DatasetInfo("bucket", "incoming/a/train.jsonl", "1", train.as_uri()))
        run.status = RunStatus.TRAINING
        run.job.name = job.name
        run.job.state = job.state
        store.create(run)


def _measure(deps: LazyDeps, store: SqliteRunStore) -> tuple[float, float]:
    poll.poll_once(deps)  # warm
    times, reads = [], []
    for _ in range(TICKS):
        r0 = store.reads
        t0 = time.perf_counter()
        poll.poll_once(deps)
        times.append((time.perf_counter() - t0) * 1000)
        reads.append(store.reads - r0)
    return statistics.median(times), statistics.median(reads)


def main() -> None:
    with tempfile.TemporaryDirectory() as big, tempfile.TemporaryDirectory() as small:
        b1, s1, t1 = _deps(Path(big))
        _fill(Path(big), s1, t1, FINISHED)
        b2, s2, t2 = _deps(Path(small))
        _fill(Path(small), s2, t2, 0)
        ms_big, reads_big = _measure(b1, s1)
        ms_small, reads_small = _measure(b2, s2)
    print(
        f"poller tick, {FINISHED} finished + {ACTIVE} active runs: "
        f"{ms_big:.2f} ms/tick (median of {TICKS}), {reads_big:.0f} run documents read"
    )
    print(
        f"poller tick, 0 finished + {ACTIVE} active runs:     "
        f"{ms_small:.2f} ms/tick (median of {TICKS}), {reads_small:.0f} run documents read"
    )
    print(f"ratio big/small: {ms_big / ms_small:.2f}x")
    _latency()
    _demo()


def _latency(repeats: int = 3) -> None:
    """Drop -> TRAINING through the real runtime (watcher settle 0.3 s, default options)."""
    import os
    import shutil
    import subprocess
    import sys

    repo = Path(__file__).resolve().parents[1]
    example = repo / "examples" / "datasets" / "game-cs-zh"
    samples = []
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            env = {**os.environ, "LOG_LEVEL": "WARNING", "SIM_TRAINING_SECONDS": "60"}
            proc = subprocess.Popen(
                [sys.executable, "-m", "shared.cli", "local", "--root", str(root)],
                env=env,
                stderr=subprocess.DEVNULL,
            )
            try:
                db = LocalLayout(root).runs_db
                while not db.exists():
                    time.sleep(0.05)
                time.sleep(1.0)  # let the watcher start
                target = root / "bucket" / "incoming" / "zh"
                target.mkdir(parents=True)
                for f in ("tuning.yaml", "validation.jsonl", "test.jsonl", "train.jsonl"):
                    shutil.copyfile(example / f, target / f".{f}")
                t0 = time.perf_counter()
                for f in ("tuning.yaml", "validation.jsonl", "test.jsonl", "train.jsonl"):
                    os.replace(target / f".{f}", target / f)
                store = SqliteRunStore(db)
                while True:
                    runs = store.list_by_status([RunStatus.TRAINING])
                    if runs and runs[0].job.name:
                        break
                    time.sleep(0.01)
                samples.append(time.perf_counter() - t0)
            finally:
                proc.terminate()
                proc.wait(30)
    print(
        f"drop -> TRAINING (job created), local runtime: "
        f"{statistics.median(samples) * 1000:.0f} ms median of {repeats} "
        f"(includes the watcher's 0.3 s settle time)"
    )


def _demo() -> None:
    import subprocess
    import sys

    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "shared.cli", "demo"], capture_output=True)
    wall = time.perf_counter() - t0
    print(
        f"`gemini-tuning demo` wall time: {wall:.1f} s (exit {done.returncode}; 10 s of "
        "simulated training)"
    )


if __name__ == "__main__":
    main()
