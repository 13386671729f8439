"""Streaming dataset validator: findings, statistics, token and cost estimate.

from shared.datasets import validate_dataset
report = validate_dataset(open("train.jsonl", "rb"), model="gemini-3.5-flash")
report.valid, report.errors, report.to_dict()
"""

from shared.datasets.examples import iter_examples
from shared.datasets.findings import CODES, Finding
from shared.datasets.report import ValidationReport
from shared.datasets.validator import validate_dataset

__all__ = ["CODES", "Finding", "ValidationReport", "iter_examples", "validate_dataset"]
