"""Evaluation at scale: concurrency, memory as the set grows, and a kill in the middle.

1. 500 examples against a model that takes 200 ms per call: wall time at the default
   `evaluation.max_concurrency` vs 1, measured side by side (target: >= 10x faster).
2. Peak memory (tracemalloc) of one whole evaluation, 500 vs 5,000 examples, reading the eval
   set from a local bucket and checkpointing to it, as the evaluator step does.
3. A 5,000-example evaluation in a child process is killed (SIGKILL) halfway; a second process
   resumes from the saved chunks. Counts the calls the model received in both: what was paid
   twice must be at most one chunk (`CHUNK_SIZE` examples x 2 models).

Run: `.venv/bin/python -m bench eval_scale`
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from shared.evaluation import evaluate
from shared.evaluation.chunks import CHUNK_SIZE, BlobCheckpoints
from shared.local.blobs import FolderBlobs
from shared.pipeline.evaluate import PinnedExamples
from shared.ports import Generation
from shared.tuning_config import EvaluationConfig

TUNED, BASE = "projects/p/locations/l/endpoints/t", "gemini-2.5-flash"
LATENCY = 0.2


class SlowModels:
    """Answers after `latency` seconds: the tuned model with the reference, the base model
    generically. Counts calls; with `log`, appends one line per call started (survives a kill)."""

    def __init__(self, latency: float, log: Path | None = None) -> None:
        self.latency, self.calls, self._lock = latency, 0, threading.Lock()
        self._log = log.open("a", buffering=1) if log else None

    def generate(
        self,
        model: str,
        contents: Sequence[Mapping[str, Any]],
        *,
        system_instruction: Mapping[str, Any] | None = None,
    ) -> Generation:
        with self._lock:
            self.calls += 1
            if self._log:
                self._log.write("c\n")
        if self.latency:
            time.sleep(self.latency)
        text = contents[-1]["parts"][0]["text"]
        if model == TUNED:
            return Generation(f"您好，关于「{text}」：请在设置页面提交订单号，我们三天内处理。")
        return Generation("您好，请问还有什么可以帮您？")

    def count_tokens(self, model: str, contents: Sequence[Mapping[str, Any]]) -> int:
        return 0


def write_set(path: Path, n: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        for i in range(n):
            q = f"第{i}号订单的钻石充值没有到账，怎么办？"
            a = f"您好，关于「{q}」：请在设置页面提交订单号，我们会在三天内处理。"
            line = {
                "contents": [
                    {"role": "user", "parts": [{"text": q}]},
                    {"role": "model", "parts": [{"text": a}]},
                ]
            }
            fh.write(json.dumps(line, ensure_ascii=False) + "\n")


def run_eval(root: Path, n: int, models: Any, concurrency: int, tag: str) -> Any:
    blobs = FolderBlobs(root)
    return evaluate(
        models,
        PinnedExamples(blobs, "bucket", "test.jsonl", None),
        tuned_model=TUNED,
        base_model=BASE,
        config=EvaluationConfig(sample_size=n, max_concurrency=concurrency),
        seed="bench",
        checkpoints=BlobCheckpoints(blobs, "artifacts", f"chunks/{tag}/"),
    )


def _root(n: int) -> Path:
    root = Path(tempfile.mkdtemp(prefix="gtp-bench-eval-"))
    (root / "artifacts").mkdir()
    write_set(root / "bucket" / "test.jsonl", n)
    return root


def concurrency() -> None:
    n = 500
    default = EvaluationConfig().max_concurrency
    root = _root(n)
    times = {}
    for c in (default, 1):
        models = SlowModels(LATENCY)
        t0 = time.perf_counter()
        run_eval(root, n, models, c, f"c{c}")
        times[c] = time.perf_counter() - t0
        print(f"  {n} examples x 2 models, {LATENCY * 1000:.0f} ms/call, concurrency {c:>2}: "
              f"{times[c]:7.1f} s ({models.calls} calls)", flush=True)  # fmt: skip
    print(f"  default concurrency ({default}) is {times[1] / times[default]:.1f}x faster than 1")


def memory() -> None:
    peaks = {}
    for n in (500, 5000):
        root = _root(n)
        tracemalloc.start()
        run_eval(root, n, SlowModels(0), 16, "mem")
        peaks[n] = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
        print(f"  peak traced memory, {n:>5} examples: {peaks[n]:6.1f} MiB", flush=True)
    print(f"  ratio 5000/500: {peaks[5000] / peaks[500]:.2f} (the set grew 10x)")


def _child(root: str, n: int, log: str) -> None:
    run_eval(Path(root), n, SlowModels(0.005, Path(log)), 16, "kill")


def kill_and_resume() -> None:
    n = 5000
    root = _root(n)
    log = root / "calls.log"
    log.touch()
    code = f"from bench.bench_eval_scale import _child; _child({str(root)!r}, {n}, {str(log)!r})"
    child = subprocess.Popen([sys.executable, "-c", code], cwd=Path(__file__).parents[1])
    while sum(1 for _ in log.open()) < n and child.poll() is None:  # halfway: n of 2n calls
        time.sleep(0.05)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    before = sum(1 for _ in log.open())
    saved = len(list((root / "artifacts" / "chunks" / "kill").glob("*.jsonl")))
    models = SlowModels(0.005, log)
    res = run_eval(root, n, models, 16, "kill")
    total = before + models.calls
    repaid = total - 2 * n
    print(f"  killed after {before} calls started, {saved} of {n // CHUNK_SIZE} chunks saved")
    print(f"  resumed: {models.calls} calls; total {total} for {2 * n} predictions; paid twice: "
          f"{repaid} (one chunk = {2 * CHUNK_SIZE}); scored {res.summary['scored']}")  # fmt: skip


def main() -> None:
    concurrency()
    memory()
    kill_and_resume()


if __name__ == "__main__":
    main()
