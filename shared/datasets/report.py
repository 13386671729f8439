"""The validation report: what `validate_dataset` returns and `--json` prints."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from shared.datasets.findings import CODES, Finding


@dataclass
class ValidationReport:
    """Outcome of one validation. `valid` is False when any error was found (warnings allowed).

    `errors` / `warnings` hold the first findings of each code; `counts` has every occurrence.
    """

    valid: bool
    errors: list[Finding]
    warnings: list[Finding]
    counts: dict[str, int]
    stats: dict[str, Any] = field(default_factory=dict)
    estimate: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The JSON-able object the CLI prints and the pipeline stores."""
        return {
            "valid": self.valid,
            "errors": [f.to_dict() for f in self.errors],
            "warnings": [f.to_dict() for f in self.warnings],
            "counts": dict(self.counts),
            "stats": self.stats,
            "estimate": self.estimate,
        }

    def summary(self) -> dict[str, Any]:
        """A small digest for the run record (no finding lists)."""
        tokens = self.stats.get("estimated_tokens", {})
        return {
            "valid": self.valid,
            "examples": self.stats.get("examples", 0),
            "errors": sum(n for c, n in self.counts.items() if CODES[c] == "error"),
            "warnings": sum(n for c, n in self.counts.items() if CODES[c] != "error"),
            "estimated_tokens": tokens.get("total", 0),
            "billable_tokens": self.estimate.get("billable_tokens", 0),
            "cost_usd": self.estimate.get("cost_usd"),
            # epoch unset: what Vertex AI may choose (`estimate.note` says whose range)
            **{
                k: self.estimate[k]
                for k in ("epochs_range", "billable_tokens_range", "cost_usd_range")
                if k in self.estimate
            },
            # counts per kind only: masked samples stay in the report, values nowhere
            "personal_data": dict(self.stats.get("personal_data", {}).get("counts", {})),
            "personal_data_policy": self.stats.get("personal_data", {}).get("policy"),
        }
