"""Evaluation metrics: scoring speed and import cost, side by side with sacrebleu.

Why: the metrics are pure Python so the evaluator function does not ship sacrebleu (and numpy,
lxml, ...). This measures what that choice costs in scoring time and saves in cold-start import
time. sacrebleu is a dev-only reference; without it only our own figures print.

Run: `.venv/bin/python -m bench metrics`
"""

from __future__ import annotations

import importlib.util
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any

from shared.evaluation import evaluate, score
from shared.ports import Generation
from shared.tuning_config import EvaluationConfig

REPEATS = 7
ZH = "请重新启动游戏并再次登录以领取奖励订单已经发货预计三天内送达抱歉该活动结束设置打开通知权限"
EN = [
    *("please", "restart", "the", "game", "and", "log", "in", "again"),
    *("to", "receive", "your", "reward", "order", "shipped"),
]


def _zh(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(ZH) for _ in range(n)) + "。"


def _en(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(EN) for _ in range(n)).capitalize() + "."


def _corpus(
    rng: random.Random, count: int, make: Callable[[random.Random, int], str], n: int
) -> tuple[list[str], list[str]]:
    refs = [make(rng, n) for _ in range(count)]
    hyps = [make(rng, n) for _ in range(count)]
    return hyps, refs


def _sacrebleu(hyps: list[str], refs: list[str], tokenize: str) -> None:
    import sacrebleu

    sacrebleu.corpus_bleu(hyps, [refs], tokenize=tokenize)
    sacrebleu.corpus_chrf(hyps, [refs])


def _median_seconds(fn: Callable[[], object]) -> float:
    times = []
    for _ in range(REPEATS):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def _import_seconds(code: str) -> float:
    times = []
    for _ in range(REPEATS):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


class _EchoModels:
    """Answers instantly: the tuned model with the reference, the base model with noise."""

    def __init__(self, answers: Mapping[str, str]) -> None:
        self.answers = answers

    def generate(
        self,
        model: str,
        contents: Sequence[Mapping[str, Any]],
        *,
        system_instruction: Mapping[str, Any] | None = None,
        settings: Any = None,
    ) -> Generation:
        q = contents[-1]["parts"][0]["text"]
        return Generation(self.answers[q] if model == "tuned" else q, simulated=True)

    def count_tokens(self, model: str, contents: Sequence[Mapping[str, Any]]) -> int:
        return 0


def main() -> None:
    rng = random.Random(0)
    have_sacrebleu = importlib.util.find_spec("sacrebleu") is not None
    print(f"median of {REPEATS} runs; sacrebleu reference: {'yes' if have_sacrebleu else 'no'}")

    # The evaluator imports config, ports and a thread pool anyway; compare what comes on top.
    needed = "import shared.settings, shared.ports, concurrent.futures"
    base = _import_seconds(needed)
    ours = _import_seconds("import shared.evaluation") - base
    print(f"import shared.evaluation on top of config+ports: {ours * 1000:.0f} ms")
    if have_sacrebleu:
        sb = _import_seconds(
            f"{needed}; import sacrebleu; from sacrebleu.metrics import BLEU, CHRF; "
            "BLEU(tokenize='zh'); CHRF()"
        )
        print(f"import sacrebleu + BLEU(zh) + CHRF on top of the same: {(sb - base) * 1000:.0f} ms")

    for label, make, length in (("zh 40-char", _zh, 40), ("en 20-word", _en, 20)):
        hyps, refs = _corpus(rng, 500, make, length)
        t = _median_seconds(partial(score, hyps, refs))
        line = f"{label} x500, all 4 metrics: ours {t * 1000:.0f} ms"
        if have_sacrebleu:
            t2 = _median_seconds(partial(score, hyps, refs, ("bleu", "chrf")))
            ts = _median_seconds(partial(_sacrebleu, hyps, refs, "zh" if make is _zh else "13a"))
            line += f"; bleu+chrf only: ours {t2 * 1000:.0f} ms vs sacrebleu {ts * 1000:.0f} ms"
        print(line)

    hyps, refs = _corpus(rng, 1, _zh, 1000)
    t = _median_seconds(lambda: score(hyps, refs, metrics=("rouge_l",)))
    print(f"rouge_l on one 1000-char zh pair (LCS worst case): {t * 1000:.0f} ms")

    qa = {f"问题{i}：{_zh(rng, 10)}": _zh(rng, 40) for i in range(500)}
    lines = [
        {"contents": [{"role": "user", "parts": [{"text": q}]}, {"parts": [{"text": a}]}]}
        for q, a in qa.items()
    ]
    models = _EchoModels(qa)
    cfg = EvaluationConfig(sample_size=500, max_concurrency=8)
    t = _median_seconds(
        lambda: evaluate(
            models, lines, tuned_model="tuned", base_model="base", config=cfg, seed="s"
        )
    )
    print(f"evaluate() 500 zh examples, instant fake model: {t * 1000:.0f} ms")
