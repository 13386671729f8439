"""After the last line: the findings only a whole file or the whole dataset can show, and the
report's statistics and cost estimate.

Everything here reads the compact per-file state the scanner kept (`scanner.FileState`): counts,
hash arrays, distributions, capped finding lists. Nothing re-reads a file, so these checks cost
the same whatever the dataset's size.
"""

from __future__ import annotations

from typing import Any

from shared.catalog import BUILTIN, VALIDATION_FRACTION_FROM, ModelLimits
from shared.datasets.findings import FindingLog
from shared.datasets.report import ValidationReport
from shared.datasets.scanner import FileState, Scanner
from shared.datasets.tokens import wide_chars

#: Epochs the cost estimate assumes when the run leaves them to Vertex AI (the seed's usual 3).
ASSUMED_EPOCHS = 3


def build_report(sc: Scanner) -> ValidationReport:
    """The report of everything `sc` scanned: dataset-level findings added to its log."""
    log, lim = sc.log, sc.limits
    for st in sc.files.values():
        if st.scanned:
            _file_findings(log, st, sc.cap)
    train = sc.files.get("train")
    if train is not None:
        _training_limits(log, lim, train)
        _overlaps(log, train, sc.files, sc.cap)
    val = sc.files.get("validation")
    if val is not None:
        _validation_size(log, lim, val, train)
    return ValidationReport(
        valid=not log.has_errors(),
        errors=log.findings("error"),
        warnings=log.findings("warning"),
        counts=dict(sorted(log.counts.items())),
        stats=_stats(sc),
        estimate=_estimate(sc),
    )


def _file_findings(log: FindingLog, st: FileState, cap: int) -> None:
    if st.examples == 0 and st.lines:
        log.add(
            "no_valid_examples",
            st.name,
            None,
            "",
            "No line is a valid example. Fix the errors listed for this file.",
        )
    if 0 < st.with_system < st.examples:
        log.add(
            "inconsistent_system_instruction",
            st.name,
            None,
            "",
            f"{st.with_system:,} of {st.examples:,} examples have a systemInstruction "
            f"(e.g. line {st.first_with_system}) and the rest do not (e.g. line "
            f"{st.first_without_system}). Give every example the same system prompt "
            "or none.",
        )
    st.quality.finish(log, st.name, st.tokens_out)
    total, pairs = st.dups.duplicates(cap)
    for line, first in pairs:
        log.add(
            "duplicate_example",
            st.name,
            line,
            "",
            f"Exact duplicate of line {first}. Remove repeated examples (they weigh "
            "that example more in training).",
        )
    log.counts["duplicate_example"] = log.counts.get("duplicate_example", 0) - len(pairs) + total
    if not log.counts["duplicate_example"]:
        del log.counts["duplicate_example"]


def _training_limits(log: FindingLog, lim: ModelLimits, train: FileState) -> None:
    if train.bytes > lim.max_training_file_bytes:
        log.add(
            "file_too_large",
            train.name,
            None,
            "",
            f"{train.bytes:,} bytes; {lim.name} accepts a training file of at most "
            f"{lim.max_training_file_bytes:,} bytes. Remove examples or split the data.",
        )
    if train.examples > lim.max_training_examples:
        log.add(
            "too_many_training_examples",
            train.name,
            None,
            "",
            f"{train.examples:,} examples; at most {lim.max_training_examples:,} are "
            "accepted. Sample the dataset down.",
        )
    if train.multimodal_examples > lim.max_multimodal_training_examples:
        log.add(
            "too_many_multimodal_examples",
            train.name,
            None,
            "",
            f"{train.multimodal_examples:,} multimodal examples; at most "
            f"{lim.max_multimodal_training_examples:,} are accepted. Sample them down.",
        )


def _overlaps(log: FindingLog, train: FileState, files: dict[str, FileState], cap: int) -> None:
    for role, code in (("validation", "train_validation_overlap"), ("test", "train_test_overlap")):
        other = files.get(role)
        if other is None:
            continue
        total, pairs = train.dups.overlap(other.dups, cap)
        for line, train_line in pairs:
            log.add(
                code,
                other.name,
                line,
                "",
                f"Same example as line {train_line} of {train.name}. Held-out data "
                "that also appears in training overstates quality; remove it here.",
            )
        if total:
            log.counts[code] += total - len(pairs)


def _validation_size(
    log: FindingLog, lim: ModelLimits, val: FileState, train: FileState | None
) -> None:
    if val.examples > lim.max_validation_examples:
        log.add(
            "too_many_validation_examples",
            val.name,
            None,
            "",
            f"{val.examples:,} validation examples; {lim.name} accepts at most "
            f"{lim.max_validation_examples:,}. Sample it down (the rest can be test data).",
        )
    elif (
        train is not None
        and lim.max_validation_fraction is not None
        and val.examples > VALIDATION_FRACTION_FROM
        and val.examples > lim.max_validation_fraction * train.examples
    ):
        log.add(
            "too_many_validation_examples",
            val.name,
            None,
            "",
            f"{val.examples:,} validation examples for {train.examples:,} training examples; "
            f"above {VALIDATION_FRACTION_FROM:,} validation examples {lim.name} accepts at "
            f"most {lim.max_validation_fraction:.0%} of the training examples "
            f"({int(lim.max_validation_fraction * train.examples):,}). Sample it down.",
        )


def _file_stats(st: FileState) -> dict[str, Any]:
    return {
        "name": st.name,
        "bytes": st.bytes,
        "lines": st.lines,
        "examples": st.examples,
        "estimated_tokens": st.tokens.total,
    }


def _stats(sc: Scanner) -> dict[str, Any]:
    train = sc.files.get("train") or FileState("train", "")
    wide = wide_chars(train.extra)
    return {
        "model": sc.limits.name,
        "examples": train.examples,
        "turns_per_example": train.turns.summary(),
        "estimated_tokens": {
            "total": train.tokens.total,
            **train.tokens.summary(),
            "input": train.tokens_in.summary(),
            "output": train.tokens_out.summary(),
            "method": "estimate: chars and UTF-8 width, calibrated (shared/datasets/tokens.py)",
        },
        "cjk_share": round(wide / train.chars, 4) if train.chars else 0.0,
        "system_instruction_examples": train.with_system,
        "function_calling_examples": train.function_calling,
        "multimodal": {
            "examples": train.multimodal_examples,
            "images": train.images,
            "audio": train.audio,
            "video": train.video,
            "pdf": train.pdf,
        },
        "files": {role: _file_stats(st) for role, st in sc.files.items()},
        **train.quality.summary(sc.log),
        "personal_data": sc.pii.summary() if sc.pii else {"policy": "off"},
    }


def _estimate(sc: Scanner) -> dict[str, Any]:
    """Billable tokens and cost. With `epoch` unset Vertex AI chooses the epochs from the data,
    so the estimate is a range (`BUILTIN.epochs_when_unset`, with its source) and its upper end
    is what the budget guard counts until the job reports its real billable tokens."""
    train = sc.files.get("train")
    tokens = train.tokens.total if train else 0
    price = sc.limits.training_price_per_million_tokens

    def usd(billable: int) -> float | None:
        return None if price is None else round(billable / 1e6 * price, 4)

    span = BUILTIN.epochs_when_unset
    if sc.epochs is not None or span is None:
        epochs = sc.epochs or ASSUMED_EPOCHS
        note = "Estimate from estimated tokens x epochs at list price; not a quote."
        if sc.epochs is None:
            note += (
                f" Epochs are left to Vertex AI; the catalog records no range, so the estimate "
                f"assumes {ASSUMED_EPOCHS} until the job's real billable tokens replace it."
            )
        return {
            "billable_tokens": tokens * epochs,
            "epochs": epochs,
            "epochs_assumed": sc.epochs is None,
            "model": sc.limits.name,
            "usd_per_million_tokens": price,
            "cost_usd": usd(tokens * epochs),
            "note": note,
        }
    low, high = tokens * span.low, tokens * span.high
    whose = "Google's documented range" if span.documented else (
        "a users' rule of thumb: Google documents no range"
    )  # fmt: skip
    return {
        "billable_tokens": high,
        "billable_tokens_range": [low, high],
        "epochs": None,
        "epochs_range": [span.low, span.high],
        "epochs_assumed": True,
        "epochs_source": span.source,
        "epochs_documented": span.documented,
        "model": sc.limits.name,
        "usd_per_million_tokens": price,
        "cost_usd": usd(high),
        "cost_usd_range": None if price is None else [usd(low), usd(high)],
        "note": (
            f"Epochs are left to Vertex AI, which chooses them from the dataset size: the "
            f"estimate is a range for {span.low} to {span.high} epochs ({whose}; catalog source "
            f"{span.source}), at list price, not a quote. The budget guard counts the upper "
            "end; the job's real billable tokens replace the estimate when it reports them."
        ),
    }
