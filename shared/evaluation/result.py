"""What an evaluation hands back: the verdict, the numbers, and the three artifacts the pipeline
writes to the artifacts bucket (report.json from `report`, predictions.jsonl from
`predictions_jsonl()`, report.html from `report_html()`)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from shared.evaluation.report import EvaluationReport
from shared.runs import verdict_of


@dataclass(frozen=True)
class EvaluationResult:
    """`passed` and `reason` decide the run; `metrics` is `{name: {"tuned": x, "base": y}}`;
    `summary` holds the counts for the run record; `report` is the whole report.json document
    (typed: `shared.evaluation.report.EvaluationReport`)."""

    passed: bool | None  #: None: no gate was configured (NOT GATED)
    reason: str
    metrics: Mapping[str, Mapping[str, float]]
    summary: Mapping[str, Any]
    report: EvaluationReport
    predictions: bytes = field(default=b"", repr=False)  #: predictions.jsonl, one row a line
    #: May auto-promotion go ahead: passed, and the unleaked part too when leakage is high.
    promotable: bool = False

    @property
    def verdict(self) -> str:
        """PASSED / FAILED / NOT GATED."""
        return self.report.verdict or verdict_of(self.passed)

    @property
    def rows(self) -> Sequence[Mapping[str, Any]]:
        """The rows of predictions.jsonl, parsed (tests and small sets; large ones stream)."""
        return tuple(json.loads(line) for line in self.predictions.splitlines())

    @property
    def simulated(self) -> bool:
        return bool(self.summary.get("simulated"))

    def predictions_jsonl(self) -> bytes:
        """One JSON line per sampled example, UTF-8 with Chinese kept readable."""
        return self.predictions

    def report_html(self) -> bytes:
        """report.html: the page people read (`shared.evaluation.report_html`)."""
        from shared.evaluation.report_html import render

        return render(self.report).encode()

    def report_json(self) -> bytes:
        """report.json, indented for people, UTF-8 with Chinese kept readable."""
        doc = self.report.to_dict()
        return json.dumps(doc, ensure_ascii=False, indent=2).encode() + b"\n"
