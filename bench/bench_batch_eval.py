"""Batch evaluation (issue 19): the same large evaluation asked online and in batch jobs.

On the embedded local backend (folder bucket, SQLite, the simulator, a hand-turned clock so no
time is spent waiting for simulated jobs), a run with N test examples is evaluated twice: with
`evaluation.mode: online` and with `mode: batch`. Measured: the online calls the pipeline made,
the wall time of each pipeline step (evaluator submit, the poller tick that collects the
simulated jobs, evaluator finish), and the evaluation's estimated USD under the same override
prices (the built-in catalog has no price for gemini-3.5-flash).

Run: `.venv/bin/python -m bench batch_eval` (N=2000 by default; BENCH_BATCH_N to change it)
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from shared.pipeline import poll, validation
from shared.simulator import SimulatedBatchPredictor, SimulatedModels
from tests.fakes.counting import CountingModels
from tests.unit.pipeline.conftest import ZH_EXAMPLES, World, example_line, make_world

PRICES = {"gemini-3.5-flash": {"price_per_million_input_tokens": 1.0,
                               "price_per_million_output_tokens": 4.0}}  # fmt: skip


def _data(n: int, shift: int) -> bytes:
    rows = []
    for i in range(n):
        q, a = ZH_EXAMPLES[(i + shift) % len(ZH_EXAMPLES)]
        rows.append(example_line(f"{q}（工单{i}）", a))
    return ("\n".join(rows) + "\n").encode()


def _timed(fn: Any) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def one(tmp: Path, mode: str, n: int) -> dict[str, Any]:
    world: World = make_world(tmp, env={"MODEL_CATALOG_OVERRIDES": json.dumps(PRICES)})
    inner = world.deps.models
    assert isinstance(inner, SimulatedModels)
    counting = CountingModels(inner)
    world.deps.__dict__["models"] = counting
    world.deps.__dict__["batch"] = SimulatedBatchPredictor.for_tuner(world.tuner, inner)
    yaml = f"evaluation:\n  mode: {mode}\n  sample_size: {n}\n  choose_checkpoint: false\n"
    obj = world.drop_dataset(train=_data(n, 0), test=_data(n, 1), tuning_yaml=yaml)
    out = validation.handle_upload(world.deps, obj)
    assert out.run_id
    world.pump()
    world.advance_clock(1000)
    poll.poll_once(world.deps)
    steps = {"evaluator (first delivery)": _timed(world.pump)}
    if mode == "batch":
        world.advance_clock(60)
        steps["poller tick (simulated jobs answer)"] = _timed(lambda: poll.poll_once(world.deps))
        steps["evaluator (finish)"] = _timed(world.pump)
    run = world.run(out.run_id)
    assert run.status == "SUCCEEDED", run.history
    cost = (run.evaluation.cost or {}).get("estimate") or {}
    return {
        "steps": steps,
        "online_calls": counting.calls,
        "usd": cost.get("usd"),
        "calls": cost.get("prediction_calls"),
        "scored": run.evaluation.summary["scored"],
    }


def main() -> None:
    n = int(os.environ.get("BENCH_BATCH_N", "2000"))
    with tempfile.TemporaryDirectory() as d:
        for mode in ("online", "batch"):
            got = one(Path(d) / mode, mode, n)
            print(
                f"{mode}: {n} examples, scored {got['scored']}, online calls "
                f"{got['online_calls']}, estimated {got['calls']} prediction calls = ${got['usd']}"
            )
            for step, seconds in got["steps"].items():
                print(f"  {step}: {seconds:.2f} s")
