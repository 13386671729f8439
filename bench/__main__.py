"""`make bench`: runs every `bench/bench_*.py` module's `main()` in turn and prints its figures.

Benchmarks are measurements, not tests: they print medians and ratios measured side by side in
one run; BENCHMARKS.md records the figures with the command that produced them.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    only = set(argv)
    here = Path(__file__).parent
    names = sorted(m.name for m in pkgutil.iter_modules([str(here)]) if m.name.startswith("bench_"))
    for name in names:
        if only and name.removeprefix("bench_") not in only and name not in only:
            continue
        print(f"== {name} ==", flush=True)
        module = importlib.import_module(f"bench.{name}")
        module.main()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
