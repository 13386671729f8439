"""Findings: one stable code per rule, capped per code so a huge file gives a small report.

A ten-million-line file with one repeated mistake must still produce a report a person can read
(and a Firestore document can hold), so only the first `cap` findings of each code are kept while
`counts` records every occurrence.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from shared.bounds import MAX_FINDING_CHARS, clip

Severity = Literal["error", "warning"]

#: Every finding code with its severity. Codes are a public contract (reports, dashboards and
#: tests key on them): add new ones, never rename.
CODES: dict[str, Severity] = {
    # file level
    "empty_file": "error",
    "utf8_bom": "error",
    "not_utf8": "error",
    "compressed_file": "error",
    "binary_file": "error",
    "not_jsonl": "error",
    "file_too_large": "error",
    "line_too_long": "error",
    "too_many_validation_examples": "error",
    "too_many_training_examples": "error",
    "too_many_multimodal_examples": "error",
    "no_valid_examples": "error",
    # line level
    "blank_line": "warning",
    "invalid_json": "error",
    "json_too_deep": "error",
    "duplicate_key": "error",
    "not_an_object": "error",
    "legacy_messages_format": "error",
    "missing_contents": "error",
    "invalid_turn": "error",
    "missing_role": "warning",
    "unknown_role": "error",
    "missing_parts": "error",
    "invalid_part": "error",
    "part_without_data": "error",
    "part_with_several_data_fields": "error",
    "inline_data_not_supported": "error",
    "text_not_string": "error",
    "empty_text": "error",
    "file_data_missing_field": "error",
    "unsupported_file_uri": "error",
    "unsupported_mime_type": "error",
    "invalid_function_call": "error",
    "invalid_tools": "error",
    "consecutive_turns": "error",
    "no_model_turn": "error",
    "trailing_user_turn": "warning",
    "invalid_system_instruction": "error",
    "unknown_key": "warning",
    "too_many_tokens": "error",
    "too_many_media": "error",
    # dataset level
    "duplicate_example": "warning",
    "train_validation_overlap": "warning",
    "train_test_overlap": "warning",
    "inconsistent_system_instruction": "warning",
    "short_model_answer": "warning",
    # data safety and quality (see privacy.py, quality_measures.py, content_checks.py)
    "personal_data": "warning",
    "personal_data_rejected": "error",
    "pii_pattern_too_slow": "error",
    "near_duplicate_examples": "warning",
    "language_mismatch": "warning",
    "answer_length_outlier": "warning",
    # run level: the pipeline's checks around the validator (shared/pipeline/validation.py)
    "invalid_dataset_name": "error",
    "unsafe_object_name": "error",
    "invalid_config": "error",
    "invalid_continue_from": "error",
    # the catalog's model problems (shared/catalog.py `Catalog.problems`)
    "model_unknown": "error",
    "model_unlisted": "warning",
    "model_retired": "error",
    "model_retiring_blocked": "error",
    "model_retiring": "warning",
    "model_not_in_region": "error",
}


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem: where it is (file, 1-based line or None, path inside the example) and what
    to do about it (the message always ends with the fix)."""

    code: str
    file: str
    line: int | None
    path: str
    message: str
    severity: Severity
    #: Machine-readable details of some codes, e.g. `kind` and masked `sample` of personal data.
    extra: tuple[tuple[str, str], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "file": self.file,
            "line": self.line,
            "path": self.path,
            "message": self.message,
            **dict(self.extra),
        }


def finding(code: str, file: str | None, message: str, *, path: str = "") -> Finding:
    """A finding about a whole file made outside the validator (the pipeline's run-level
    checks), with the severity `CODES` gives it; KeyError for a code not registered there."""
    return Finding(code, file or "", None, path, message, CODES[code])


class FindingLog:
    """Collects findings, keeping the first `cap` of each code and counting all of them."""

    def __init__(self, cap: int) -> None:
        self.cap = max(0, cap)
        self.counts: dict[str, int] = {}
        self._kept: dict[str, list[Finding]] = {}

    def add(
        self,
        code: str,
        file: str,
        line: int | None,
        path: str,
        message: str,
        extra: Mapping[str, str] | None = None,
    ) -> None:
        n = self.counts.get(code, 0)
        self.counts[code] = n + 1
        if n < self.cap:
            if len(message) > MAX_FINDING_CHARS or len(path) > MAX_FINDING_CHARS:
                message, path = clip(message, MAX_FINDING_CHARS), clip(path, MAX_FINDING_CHARS)
            self._kept.setdefault(code, []).append(
                Finding(code, file, line, path, message, CODES[code], tuple((extra or {}).items()))
            )

    def merge(self, other: FindingLog) -> None:
        """Append the findings of a later part of the same scan (kept ones up to the cap)."""
        for code, n in other.counts.items():
            self.counts[code] = self.counts.get(code, 0) + n
        for code, kept in other._kept.items():
            mine = self._kept.setdefault(code, [])
            mine.extend(kept[: max(0, self.cap - len(mine))])

    def findings(self, severity: Severity) -> list[Finding]:
        """Kept findings of one severity, grouped by code, each group in the order found."""
        return [f for c in sorted(self._kept) for f in self._kept[c] if f.severity == severity]

    def has_errors(self) -> bool:
        return any(CODES[c] == "error" for c in self.counts)
