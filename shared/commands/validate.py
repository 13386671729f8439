"""`gemini-tuning validate TRAIN [--validation F] [--test F] [--config F] [--model M] [--json]
[--pii-policy warn|reject|redact] [--pii-pattern NAME=REGEX ...]`.

TRAIN may be a dataset folder (what `prepare` writes and `submit` uploads): its train.jsonl is
validated with the validation.jsonl, test.jsonl and tuning.yaml beside it, as the pipeline will
validate them after the upload. The personal-data policy is the stricter of tuning.yaml's and
`--pii-policy`, with the patterns of both, as in the pipeline.

Exit codes: 0 valid (warnings allowed), 1 invalid, 2 usage or I/O error. Bad input never ends in
a traceback: every OS error and config error becomes one line on stderr saying what to do.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shlex
import sys
from dataclasses import replace
from typing import TYPE_CHECKING, Any, BinaryIO

from shared.commands._config import check as config_check
from shared.commands._workers import workers_type

if TYPE_CHECKING:
    from shared.datasets import ValidationReport


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "validate",
        help="check JSONL tuning data against the Vertex AI rules, with stats and a cost estimate",
        description="Validate Gemini supervised-tuning JSONL files without modifying them.",
    )
    p.add_argument(
        "train",
        metavar="TRAIN",
        help="training JSONL file (a path or gs://B/O), or a dataset folder (train.jsonl "
        "[+ validation.jsonl, test.jsonl, tuning.yaml], as the pipeline reads it)",
    )
    p.add_argument("--validation", metavar="FILE", help="validation JSONL file")
    p.add_argument("--test", metavar="FILE", help="held-out test JSONL file")
    p.add_argument("--config", metavar="FILE", help="tuning.yaml (model and epochs come from it)")
    p.add_argument("--model", metavar="NAME", help="base model (overrides --config)")
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    p.add_argument(
        "--workers",
        metavar="N",
        type=workers_type(64, auto=True),
        default=1,
        help="processes for a training file on disk of 64 MB or more, 1-64 (auto: one per "
        "core, at most 8); default 1, the bounded-memory single process",
    )
    p.add_argument(
        "--pii-policy",
        choices=("warn", "reject", "redact"),
        default="warn",
        help="personal data found: warn (default), reject (the dataset is invalid), or redact "
        "(warn; train on a copy from `gemini-tuning redact`)",
    )
    p.add_argument(
        "--pii-pattern",
        metavar="NAME=REGEX",
        action="append",
        default=[],
        help="also report matches of REGEX as personal data of kind NAME (repeatable), e.g. "
        "order_id=GM\\d{10}",
    )
    p.add_argument(
        "--max-errors",
        metavar="N",
        type=int,
        default=20,
        help="findings listed per code (all are counted; default 20)",
    )
    p.set_defaults(func=run)


def _fail(message: str) -> int:
    print(f"gemini-tuning validate: {message}", file=sys.stderr)
    return 2


def _from_folder(args: argparse.Namespace) -> str | None:
    """Point TRAIN, and the siblings not given as options, at a dataset folder's files; a
    message when the folder has no train.jsonl."""
    from pathlib import Path

    from shared.commands._dataset_folder import dataset_files
    from shared.pipeline import layout

    try:
        files = {p.name: str(p) for p in dataset_files(Path(args.train))}
    except ValueError as e:
        return f"{e}; give a .jsonl file or a dataset folder."
    args.train = files[layout.TRAIN]
    args.validation = args.validation or files.get(layout.VALIDATION)
    args.test = args.test or files.get(layout.TEST)
    args.config = args.config or files.get(layout.TUNING_YAML)
    return None


def _open(path: str, label: str, stack: contextlib.ExitStack) -> tuple[BinaryIO, int]:
    """The stream and its size; `gs://bucket/object` is read from Cloud Storage."""
    if path.startswith("gs://"):
        return _open_gcs(path, label, stack)
    if os.path.isdir(path):
        raise OSError(f"{label} {path!r} is a directory; give the path of a .jsonl file.")
    try:
        size = os.path.getsize(path)
        return stack.enter_context(open(path, "rb")), size
    except FileNotFoundError:
        raise OSError(f"{label} {path!r} does not exist. Check the path.") from None
    except PermissionError:
        raise OSError(f"{label} {path!r} is not readable (permission denied).") from None
    except OSError as e:
        raise OSError(f"cannot open {label} {path!r}: {e.strerror or e}.") from None


def _open_gcs(uri: str, label: str, stack: contextlib.ExitStack) -> tuple[BinaryIO, int]:
    bucket, _, name = uri[len("gs://") :].partition("/")
    if not bucket or not name:
        raise OSError(f"{label} {uri!r}: write gs://BUCKET/OBJECT.")
    try:
        from shared.gcp.storage import GcsBlobs

        blobs = GcsBlobs(project=os.environ.get("GCP_PROJECT") or None)
        info = blobs.stat(bucket, name)
        if info is None:
            raise OSError(f"{label} {uri!r} does not exist. Check the bucket and object name.")
        return stack.enter_context(
            blobs.open_read(bucket, name, generation=info.generation)
        ), info.size
    except OSError:
        raise
    except Exception as e:  # credentials, permissions, network: say so in one line
        raise OSError(
            f"cannot read {label} {uri!r}: {type(e).__name__}: {e}. Check your credentials "
            "(`gcloud auth application-default login`) and the bucket name."
        ) from None


def run(args: argparse.Namespace) -> int:
    from shared.catalog import catalog_from_env
    from shared.commands._progress import byte_progress
    from shared.commands.redact import privacy_options
    from shared.datasets import validate_dataset
    from shared.errors import ConfigError
    from shared.tuning_config import TuningConfig, parse_tuning_yaml

    if args.max_errors < 0:
        return _fail("--max-errors must be 0 or more.")
    if not args.train.startswith("gs://") and os.path.isdir(args.train):
        problem = _from_folder(args)
        if problem:
            return _fail(problem)
    workers = args.workers
    try:
        flags = privacy_options(args.pii_pattern, args.pii_policy)
    except ValueError as e:
        return _fail(str(e))
    config = TuningConfig()
    try:
        catalog = catalog_from_env()  # with this deployment's MODEL_CATALOG_OVERRIDES
        if args.config:
            with open(args.config, "rb") as f:
                config = parse_tuning_yaml(
                    f.read(), source=args.config, base=config, catalog=catalog
                )
    except ConfigError as e:  # the input is invalid (exit 1), like an invalid dataset
        _fail(e.message)
        return 1
    except OSError as e:
        return _fail(f"cannot read --config {args.config!r}: {e.strerror or e}.")
    privacy = config.privacy.combined(flags)  # as strict as the pipeline, or stricter
    model = args.model or config.source_model_name
    if catalog.get(model) is None:
        return _fail(f"unknown model {model!r}. Use one of: {', '.join(catalog.models)}.")
    paths = {"train": args.train, "validation": args.validation, "test": args.test}
    for path in paths.values():
        kind = export_kind(path) if path else None
        if kind:
            print(
                f"gemini-tuning validate: {path} is {kind} (one message per row), not Gemini "
                "JSONL. Turn the export into a dataset folder, then validate or submit that:\n"
                f"  gemini-tuning prepare {shlex.quote(path)} --out DATASET_DIR",
                file=sys.stderr,
            )
            return 1
    with contextlib.ExitStack() as stack:
        try:
            opened = {r: _open(p, r, stack) for r, p in paths.items() if p}
            streams = {r: stream for r, (stream, _) in opened.items()}
            sizes = {r: size for r, (_, size) in opened.items()}
        except OSError as e:
            return _fail(str(e))
        progress = (
            byte_progress("validating", sum(sizes.values()), stack) if not args.json else None
        )
        try:
            report = validate_dataset(
                streams["train"],
                validation=streams.get("validation"),
                test=streams.get("test"),
                names={r: p for r, p in paths.items() if p},
                model=model,
                epochs=config.epoch,
                max_findings_per_code=args.max_errors,
                progress=progress,
                privacy=privacy,
                workers=workers,
                catalog=catalog,
            )
        except OSError as e:
            return _fail(f"read error: {e.strerror or e}.")
    if args.json:
        json.dump(report.to_dict(), sys.stdout, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        _print_report(report)
    # The pipeline's own checks of the configuration (lifecycle, region, continue_from, budget
    # against price): what it would refuse after the upload is refused here, with its message.
    tokens = report.summary().get("billable_tokens")
    checked = config_check(
        replace(config, source_model_name=model), billable_tokens=tokens or None
    ).print("gemini-tuning validate")
    return 0 if report.valid and checked == 0 else 1


def export_kind(path: str) -> str | None:
    """ "a CSV export" / "an Excel workbook"... when `path` is a spreadsheet or delimited export
    rather than JSONL (by its name; for a local file also by its first bytes), else None."""
    low = path.lower()
    for ends, kind in (
        ((".xlsx", ".xlsm", ".xls"), "an Excel workbook"),
        ((".tsv", ".tab"), "a TSV export"),
        ((".csv",), "a CSV export"),
    ):
        if low.endswith(ends):
            return kind
    if path.startswith("gs://") or not os.path.isfile(path):
        return None
    try:
        with open(path, "rb") as f:
            head = f.read(4096)
    except OSError:
        return None
    if head.startswith(b"PK\x03\x04") and b"xl/" in head:  # an .xlsx is a ZIP with xl/...
        return "an Excel workbook"
    first = head.lstrip(b"\xef\xbb\xbf").split(b"\n", 1)[0].strip()
    if not first or first[:1] in (b"{", b"["):
        return None
    if first.count(b"\t") > first.count(b","):
        return "a TSV export"
    return "a CSV export" if b"," in first else None


def _print_report(report: ValidationReport) -> None:
    """Summary table, then the first findings grouped by code (the counts say how many)."""
    from rich.console import Console

    # soft_wrap: a finding's `file:line` stays in one piece for editors and grep, however long
    # the path; the terminal folds long lines for display.
    out = Console(highlight=False, soft_wrap=True)
    st = report.stats
    legacy = _legacy_files(report)
    for name, n in legacy.items():
        out.print(
            f'{name}: {n} use the OpenAI chat "messages" format, which Vertex AI '
            "rejects. Convert the file, then validate the result:\n"
            f"  gemini-tuning convert {_converted_command(name)}",
            markup=False,
        )
    # No valid example at all: a table of zeros would say nothing.
    if not (legacy and not any(f["examples"] for f in st["files"].values())):
        _print_summary(out, report)
    _print_findings(out, report)
    print_verdict(out, report)


def _print_summary(out: Any, report: ValidationReport) -> None:
    from rich.table import Table

    st, est = report.stats, report.estimate
    tok = st["estimated_tokens"]
    table = Table(title="Dataset summary", show_header=False)
    for role, f in st["files"].items():
        table.add_row(
            f"{role} file",
            f"{f['name']}: {f['examples']:,} valid examples, "
            f"{f['lines']:,} lines, {f['bytes']:,} bytes",
        )
    table.add_row("model", st["model"])
    table.add_row("turns / example", _dist(st["turns_per_example"]))
    table.add_row("tokens / example", _dist(tok) + " (estimated)")
    table.add_row("  input", _dist(tok["input"]))
    table.add_row("  output", _dist(tok["output"]))
    table.add_row("CJK share", f"{st['cjk_share']:.0%}")
    mm = st["multimodal"]
    if mm["examples"]:
        table.add_row(
            "multimodal",
            f"{mm['examples']:,} examples, {mm['images']:,} images, "
            f"{mm['audio']} audio, {mm['video']} video, {mm['pdf']} PDF",
        )
    cost = (
        "unknown (no price for this model)"
        if est["cost_usd"] is None
        else (f"~${est['cost_usd']:,.2f}")
    )
    if est.get("epochs_range"):
        lo, hi = est["billable_tokens_range"]
        e_lo, e_hi = est["epochs_range"]
        costs = est.get("cost_usd_range")
        cost = "unknown (no price for this model)" if not costs else (
            f"~${costs[0]:,.2f} to ~${costs[1]:,.2f}"
        )  # fmt: skip
        table.add_row(
            "billable tokens",
            f"{lo:,} to {hi:,} ({e_lo} to {e_hi} epochs: epoch unset, Vertex AI chooses; "
            f"{'documented range' if est.get('epochs_documented') else 'rule of thumb'}), "
            f"cost {cost} — estimate",
        )
    else:
        table.add_row(
            "billable tokens",
            f"{est['billable_tokens']:,} ({est['epochs']} epochs), cost {cost} — estimate",
        )
    _quality_rows(table, st)
    out.print(table)


def _print_findings(out: Any, report: ValidationReport) -> None:
    for title, findings in (("Errors", report.errors), ("Warnings", report.warnings)):
        if not findings:
            continue
        findings = [f for f in findings if f.code != LEGACY]
        if not findings:
            continue
        out.print(f"\n[bold]{title}[/bold]")
        code = None
        for f in findings:
            if f.code != code:
                code = f.code
                out.print(f"  [bold]{code}[/bold] ({report.counts[code]:,} in all)")
            where = f"{f.file}:{f.line}" if f.line is not None else f.file
            path = f" {f.path}" if f.path else ""
            out.print(f"    {where}{path}: {f.message}", markup=False)


LEGACY = "legacy_messages_format"


def _legacy_files(report: ValidationReport) -> dict[str, str]:
    """Files with OpenAI-format lines and how many (one grouped finding, not one per line);
    the count is exact when one file has them (counts are per code, not per file)."""
    if not report.counts.get(LEGACY):
        return {}
    files = sorted({f.file for f in report.errors if f.code == LEGACY})
    if len(files) == 1:
        return {files[0]: f"{report.counts[LEGACY]:,} line(s)"}
    return dict.fromkeys(files, "lines")


def _converted_command(name: str) -> str:
    """`IN OUT` for `gemini-tuning convert`, the output beside the input."""
    import shlex

    stem = name[: -len(".jsonl")] if name.endswith(".jsonl") else name
    return f"{shlex.quote(name)} {shlex.quote(stem + '.gemini.jsonl')}"


def print_verdict(out: Any, report: ValidationReport) -> None:
    from shared.datasets import CODES

    pd = report.stats.get("personal_data") or {}
    if pd.get("policy") == "redact" and pd.get("counts"):
        out.print(
            "\nPolicy redact: train on a masked copy (`gemini-tuning redact TRAIN OUT`; the "
            "pipeline makes it itself)."
        )
    errors = sum(n for c, n in report.counts.items() if CODES[c] == "error")
    verdict = "[green]valid[/green]" if report.valid else "[red]invalid[/red]"
    out.print(
        f"\nResult: {verdict} ({errors:,} errors, "
        f"{sum(report.counts.values()) - errors:,} warnings)"
    )


def _quality_rows(table: Any, st: dict[str, Any]) -> None:
    pd = st["personal_data"]
    if pd.get("policy") != "off":
        found = ", ".join(f"{n:,} {k}" for k, n in pd["counts"].items()) or "none found"
        table.add_row("personal data", f"{found} (policy {pd['policy']})")
    lang = st["languages"]
    mix = "; ".join(
        f"{role} " + ", ".join(f"{k} {n:,}" for k, n in lang[role].items() if n)
        for role in ("user", "model")
    )
    table.add_row("scripts (turns)", f"{mix}; {lang['mismatched_answers']:,} mismatched answers")
    nd = st["near_duplicates"]
    sample = "" if nd["sample_stride"] == 1 else f" (sample: one line in {nd['sample_stride']:,})"
    table.add_row(
        "near-duplicates",
        f"{nd['examples_in_clusters']:,} examples in {nd['clusters']:,} clusters{sample}",
    )


def _dist(d: dict[str, Any]) -> str:
    return f"p5 {d['p5']:,}  p50 {d['p50']:,}  p95 {d['p95']:,}  max {d['max']:,}"
