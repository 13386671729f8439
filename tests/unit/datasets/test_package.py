"""The `shared.datasets` package loads its heavy parts on first use."""

from __future__ import annotations

import subprocess
import sys

import pytest


def test_reading_the_privacy_options_does_not_load_the_validator() -> None:
    """Every function imports `tuning_config`, which reads `shared.datasets.privacy`: the
    scanner, its native dependencies and their import time stay out of their cold starts."""
    code = (
        "import sys, shared.tuning_config, shared.runs\n"
        "print(' '.join(sorted(m for m in sys.modules if m.startswith(('shared.datasets', "
        "'stringzilla', 'hyperscan')))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    assert "shared.datasets.privacy" in out
    assert not {"shared.datasets.validator", "shared.datasets.scanner", "stringzilla"} & set(out)


def test_the_public_names_load_on_first_use() -> None:
    import shared.datasets as ds
    from shared.datasets import CODES, Finding, ValidationReport, iter_examples, validate_dataset
    from shared.datasets.validator import validate_dataset as home

    assert validate_dataset is home
    assert "duplicate_example" in CODES
    assert Finding.__name__ == "Finding" and ValidationReport.__name__ == "ValidationReport"
    assert callable(iter_examples)
    assert sorted(ds.__all__) == sorted(
        ["CODES", "Finding", "ValidationReport", "iter_examples", "validate_dataset"]
    )
    with pytest.raises(AttributeError, match="no attribute 'validate'"):
        ds.validate  # noqa: B018
