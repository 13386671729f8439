"""The chunk-wide byte work of the validator's reader, stdlib `bytes` beside StringZilla (what
`shared/datasets/lines.py` uses): split 40 MB of the mixed bench file into lines, count the key
marks `":`, both plus a hash of every line (the reader's whole byte work per chunk), and
typed-decode every line from `bytes` and from the views.

CPU seconds per 40 MB, the fastest of 5 rounds, the two ways interleaved in each round.
Run: `.venv/bin/python -m bench chunk_ops` (generates bench/data/mixed-150MB.jsonl once).
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable

import stringzilla as sz

from bench.bench_validator import ensure
from shared.datasets.json_shape import KEY_MARK
from shared.datasets.schema import fast_decoder

ROUNDS = 5


def _cpu(f: Callable[[], object]) -> float:
    t = time.process_time()
    f()
    return time.process_time() - t


def main() -> None:
    with ensure("mixed", 150).open("rb") as fh:
        data = fh.read(40 << 20)
    data = data[: data.rfind(b"\n")]
    as_bytes = data.split(b"\n")
    as_views = list(sz.split(data, b"\n"))

    def stdlib_reader() -> object:
        lines = data.split(b"\n")
        return data.count(KEY_MARK), [hash(x) for x in lines]

    def simd_reader() -> object:
        lines = sz.split(data, b"\n")
        return sz.count(data, KEY_MARK), [sz.hash(x) for x in lines]

    pairs: dict[str, tuple[Callable[[], object], Callable[[], object]]] = {
        "split into lines": (lambda: data.split(b"\n"), lambda: list(sz.split(data, b"\n"))),
        "count b'\":'": (lambda: data.count(KEY_MARK), lambda: sz.count(data, KEY_MARK)),
        "split + count + hash lines": (stdlib_reader, simd_reader),
        "typed decode every line": (
            lambda: [fast_decoder.decode(x) for x in as_bytes],
            lambda: [fast_decoder.decode(x) for x in as_views],
        ),
    }
    print(f"  {len(data) / 1e6:.0f} MB, {len(as_bytes):,} lines; CPU s, min of {ROUNDS} rounds")
    gc.disable()
    try:
        for label, (stdlib, simd) in pairs.items():
            a, b = [], []
            for _ in range(ROUNDS):
                a.append(_cpu(stdlib))
                b.append(_cpu(simd))
            print(f"  {label:28s} bytes {min(a):.4f} s   stringzilla {min(b):.4f} s")
    finally:
        gc.enable()


if __name__ == "__main__":
    main()
