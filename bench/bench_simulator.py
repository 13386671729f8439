"""Vertex AI simulator: job API latency, index build time and tuned-model answer latency.

Run: `python -m bench simulator`. Synthetic Chinese customer-service data (deterministic), a
fresh temp root, medians over repeated calls. The synthetic questions reuse 24 words, so every
n-gram is common: a worst case for the inverted index (real datasets touch fewer postings).
"""

from __future__ import annotations

import json
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from shared.ports import TuningJobSpec
from shared.simulator import SimulatedModels, SimulatedTuner

TOPICS = ["账号", "密码", "充值", "钻石", "礼包", "闪退", "卡顿", "登录"]
TOPICS += ["封禁", "退款", "活动", "皮肤", "英雄", "公会", "好友", "邮件"]
VERBS = ["找不到", "没到账", "打不开", "被盗了", "领不了", "不见了", "出错了", "怎么办"]


def question(rng: random.Random) -> str:
    return "我的" + "".join(rng.choice(TOPICS) + rng.choice(VERBS) for _ in range(3)) + "？"


def write(path: Path, n: int, seed: int = 7) -> str:
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8") as fh:
        for i in range(n):
            row = {
                "contents": [
                    {"role": "user", "parts": [{"text": question(rng)}]},
                    {"role": "model", "parts": [{"text": f"答复{i}：请联系客服处理。"}]},
                ]
            }
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    return path.as_uri()


def median_ms(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000


def spec(uri: str, i: int) -> TuningJobSpec:
    return TuningJobSpec(
        f"bench-{i}", f"gtp-bench-{i}", "gemini-3.5-flash", uri, None, "bench", 1, 1.0, 4, True
    )


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        small = write(root / "small.jsonl", 100)
        tuner = SimulatedTuner.from_root(root, env={"SIM_TRAINING_SECONDS": "0"})
        counter = iter(range(10**6))
        create = median_ms(lambda: tuner.create_job(spec(small, next(counter))), 50)
        print(f"create_job      median {create:7.2f} ms")
        job = tuner.create_job(spec(small, -1))
        print(f"get_job         median {median_ms(lambda: tuner.get_job(job.name), 200):7.2f} ms")
        print(
            f"find_jobs       median {median_ms(lambda: tuner.find_jobs('bench-7'), 200):7.2f} ms"
        )

        models = SimulatedModels(tuner)
        rng = random.Random(99)
        for n in (2_000, 20_000):
            path = root / f"train-{n}.jsonl"
            uri = write(path, n)
            size_mb = path.stat().st_size / 1e6
            t = time.perf_counter()
            models.index(path)
            build = time.perf_counter() - t
            endpoint = tuner.get_job(tuner.create_job(spec(uri, 10**7 + n)).name)
            assert endpoint.tuned_model_endpoint
            ep = endpoint.tuned_model_endpoint
            queries = [[{"role": "user", "parts": [{"text": question(rng)}]}] for _ in range(50)]
            it = iter(queries)
            gen = median_ms(lambda ep=ep, it=it: models.generate(ep, next(it)), 50)
            print(
                f"{n:>6} examples ({size_mb:.1f} MB): index build {build:6.2f} s, "
                f"generate median {gen:7.2f} ms"
            )
        base = [{"role": "user", "parts": [{"text": question(rng)}]}]
        print(
            f"base generate   median "
            f"{median_ms(lambda: models.generate('gemini-3.5-flash', base), 200):7.2f} ms"
        )
