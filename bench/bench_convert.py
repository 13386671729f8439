"""`gemini-tuning convert` throughput and memory: is it fast and does memory stay flat?

Converts synthetic legacy `messages` files (Chinese customer-service text, 2-4 turns per line)
of two sizes into /dev/null. Throughput is the median of 5 runs; peak traced memory is taken
with tracemalloc on one run of each size; the two peaks should match because the converter holds
one line at a time.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

import orjson

from shared.datasets.convert import convert_stream

RUNS = 5


def _line(i: int) -> bytes:
    msgs: list[dict[str, Any]] = [
        {"role": "system", "content": "你是《星辰幻境》的官方在线客服，请礼貌专业地回答玩家问题。"},
        {
            "role": "user",
            "content": f"我充值了{i % 648}元，钱扣了但是钻石没到账，订单号GP{i:08d}。",
        },
        {
            "role": "assistant",
            "content": "非常抱歉给您带来困扰！请提供角色UID、区服和支付订单号，" * 3,
        },
    ]
    if i % 2:
        msgs += [
            {"role": "user", "content": [{"type": "text", "text": "订单号在哪里能找到？"}]},
            {
                "role": "assistant",
                "content": "支付宝：我的-账单-订单详情；微信：我-服务-钱包-账单。",
            },
        ]
    return orjson.dumps({"messages": msgs}) + b"\n"


def _file(folder: Path, lines: int) -> Path:
    path = folder / f"legacy-{lines}.jsonl"
    with path.open("wb") as fh:
        for i in range(lines):
            fh.write(_line(i))
    return path


def _measure(path: Path) -> tuple[float, float, int]:
    size = path.stat().st_size
    times = []
    for _ in range(RUNS):
        with path.open("rb") as src, open(os.devnull, "wb") as sink:
            t0 = time.perf_counter()
            convert_stream(src, sink)
            times.append(time.perf_counter() - t0)
    tracemalloc.start()
    with path.open("rb") as src, open(os.devnull, "wb") as sink:
        convert_stream(src, sink)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    med = statistics.median(times)
    return med, size / med / 1e6, peak


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        for lines in (10_000, 40_000):
            path = _file(Path(tmp), lines)
            med, mbps, peak = _measure(path)
            size_mb = path.stat().st_size / 1e6
            print(
                f"convert {lines:>6} lines ({size_mb:5.1f} MB): median {med * 1000:7.1f} ms, "
                f"{mbps:5.1f} MB/s, {lines / med:8.0f} lines/s, peak traced memory "
                f"{peak / 1024:6.0f} KiB"
            )
