"""`validate_dataset`: one streaming pass over train / validation / test, bounded memory.

The pieces, one module each: `lines.py` reads a byte stream in 4 MB batches of raw lines;
`scanner.py` checks each line (fast typed decode, the detailed walk of `format_rules.py` only for
lines it rejects, the personal-data and quality checks of `content_checks.py`) and keeps compact
per-file state; `dataset_checks.py` adds what only whole files show (counts, duplicates, overlap,
size limits) and builds the report; `parallel.py` splits one large file over several processes.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Mapping
from typing import BinaryIO

from shared.catalog import BUILTIN, DEFAULT_MODEL, ModelLimits
from shared.datasets import parallel
from shared.datasets.dataset_checks import build_report
from shared.datasets.privacy import PrivacyOptions
from shared.datasets.report import ValidationReport
from shared.datasets.scanner import Scanner

#: The dataset's files, in the order they are scanned (train first: overlap is against it).
FILE_ROLES = ("train", "validation", "test")


def model_limits(model: str) -> ModelLimits:
    """The catalog's limits for `model`; ValueError (a usage error) when it is unknown."""
    lim = BUILTIN.limits_for(model)
    if lim is None:
        raise ValueError(f"Unknown model {model!r}. Use one of: {', '.join(BUILTIN.models)}.")
    return lim


def validate_dataset(
    train: BinaryIO,
    *,
    validation: BinaryIO | None = None,
    test: BinaryIO | None = None,
    names: Mapping[str, str] | None = None,
    model: str = DEFAULT_MODEL,
    epochs: int | None = None,
    max_findings_per_code: int = 20,
    progress: Callable[[int], None] | None = None,
    privacy: PrivacyOptions | None = None,
    workers: int = 1,
) -> ValidationReport:
    """Validate the files in one pass each; the streams are only read, never modified.

    `names` maps "train" / "validation" / "test" to the name shown in findings. `privacy` says
    which personal data to look for and the policy (default: built-in kinds, `warn`). With
    `workers` > 1 a large training file on disk is split across that many processes
    (`parallel.py`; same report, more memory). Raises ValueError for an unknown `model` (a usage
    error, not a dataset problem).
    """
    if epochs is not None and epochs < 1:
        raise ValueError("epochs must be at least 1.")
    sc = Scanner(
        model_limits(model), epochs, max_findings_per_code, progress, privacy or PrivacyOptions()
    )
    shown = {r: (names or {}).get(r, f"{r}.jsonl") for r in FILE_ROLES}
    # The decoder allocates millions of short-lived containers and none forms a cycle: the cyclic
    # collector would only rescan them (a large share of the run time on short examples).
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        for role, stream in zip(FILE_ROLES, (train, validation, test), strict=True):
            if stream is None:
                continue
            if not (
                role == "train"
                and workers > 1
                and parallel.scan(sc, stream, role, shown[role], workers)
            ):
                sc.scan(stream, role, shown[role])
            sc.done_bytes += sc.files[role].bytes
        return build_report(sc)
    finally:
        if gc_was_enabled:
            gc.enable()
