"""The retirement watch's daily check on the local backend: store reads and time with many
SUCCEEDED runs, and the status page banner's reads (production record only).

`python -m bench lifecycle`. Medians of several repetitions, measured in one process.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from shared.composition import LazyDeps
from shared.pipeline import lifecycle
from shared.runs import DatasetInfo, Run, RunStatus, make_run_id
from shared.settings import Settings

RUNS = (100, 1_000, 10_000)
REPEAT = 5


def _measure(root: Path, n: int) -> tuple[float, int, int]:
    (root / "artifacts").mkdir(parents=True)
    (root / "state").mkdir()
    deps = LazyDeps(Settings.from_env({"BACKEND": "local", "LOCAL_ROOT": str(root)}))
    store = deps.store
    for i in range(n):
        name = f"incoming/d{i}/train.jsonl"
        r = Run.new(make_run_id("b", name, i), DatasetInfo("b", name, str(i), f"file:///{name}"))
        r.status, r.job.base_model = RunStatus.SUCCEEDED, "gemini-2.5-flash"
        store.create(r)
    times, reads = [], 0
    for _ in range(REPEAT):
        before = store.reads  # type: ignore[attr-defined]
        t0 = time.perf_counter()
        lifecycle.current_warnings(deps)
        times.append((time.perf_counter() - t0) * 1000)
        reads = store.reads - before  # type: ignore[attr-defined]
    before = store.reads  # type: ignore[attr-defined]
    lifecycle.banner_lines(deps)
    banner = store.reads - before  # type: ignore[attr-defined]
    return statistics.median(times), reads, banner


def main() -> None:
    for n in RUNS:
        with tempfile.TemporaryDirectory() as tmp:
            ms, reads, banner = _measure(Path(tmp), n)
        print(
            f"lifecycle: daily check over {n:,} SUCCEEDED runs: median {ms:.1f} ms, "
            f"run documents read {reads:,}; status-page banner reads {banner}"
        )


if __name__ == "__main__":
    main()
