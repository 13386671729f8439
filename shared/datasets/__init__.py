"""Streaming dataset validator: findings, statistics, token and cost estimate.

from shared.datasets import validate_dataset
report = validate_dataset(open("train.jsonl", "rb"), model="gemini-3.5-flash")
report.valid, report.errors, report.to_dict()

The names below load on first use (PEP 562), so a module that needs only a light piece (the
poller's `tuning_config` reads `shared.datasets.privacy`) does not import the validator and its
native dependencies at cold start.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from shared.datasets.examples import iter_examples
    from shared.datasets.findings import CODES, Finding
    from shared.datasets.report import ValidationReport
    from shared.datasets.validator import validate_dataset

_HOMES = {
    "CODES": "findings",
    "Finding": "findings",
    "ValidationReport": "report",
    "iter_examples": "examples",
    "validate_dataset": "validator",
}

__all__ = ["CODES", "Finding", "ValidationReport", "iter_examples", "validate_dataset"]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{home}"), name)
