"""`gemini-tuning convert IN OUT`: legacy `messages` / OpenAI chat JSONL -> Vertex `contents`.

Safety first because the input is often the only copy of a team's data: IN is only ever read,
OUT is written to a temporary file beside it and renamed into place (a crash never leaves half a
file), and an existing OUT is kept unless `--force`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from shared.commands._files import check_in_out, write_atomically
from shared.datasets.convert import REASON_HINTS, ConvertReport, convert_stream

_USAGE_ERROR = 2


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "convert",
        help="convert legacy `messages` / OpenAI chat JSONL to the Gemini `contents` format",
        description=(
            "Convert a JSONL dataset in the legacy `messages` format or the OpenAI chat "
            "fine-tuning format to the Vertex AI Gemini `contents` format. Lines already in "
            "`contents` format are copied unchanged; lines that cannot be converted are skipped "
            "and listed. Exit code: 0 all converted, 1 some lines skipped, 2 usage or I/O error."
        ),
    )
    p.add_argument("input", metavar="IN", help="JSONL file to read (never modified); - for stdin")
    p.add_argument("output", metavar="OUT", help="JSONL file to write")
    p.add_argument("--force", action="store_true", help="overwrite OUT if it exists")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=run)


def _fail(message: str) -> int:
    print(f"gemini-tuning convert: {message}", file=sys.stderr)
    return _USAGE_ERROR


def run(args: argparse.Namespace) -> int:
    src = None if args.input == "-" else Path(args.input)
    out = Path(args.output)
    problem = check_in_out(src, out, args.force, "convert")
    if problem:
        return _fail(problem)
    try:
        report = write_atomically(src, out, convert_stream, keep=lambda r: r.written > 0)
    except OSError as e:
        return _fail(f"could not convert {args.input} -> {out}: {e.strerror or e}.")
    if args.json:
        doc = {"input": args.input, "output": str(out), **report.to_dict()}
        print(json.dumps(doc, ensure_ascii=False, indent=2))
    else:
        print(render(report, args.input, str(out)))
    return 0 if report.ok and report.written else 1


def render(report: ConvertReport, src: str, out: str) -> str:
    """Human report: the counts, then each skip reason with its hint and first line numbers."""
    lines = [
        f"{src} -> {out}",
        f"  {report.lines} lines read: {report.converted} converted, "
        f"{report.passed_through} already in contents format, {report.blank} blank, "
        f"{report.skipped_total} skipped",
    ]
    for reason, tally in sorted(report.skipped.items(), key=lambda kv: -kv[1].count):
        lines.append(f"  skipped {tally.count} line(s): {reason} - {REASON_HINTS.get(reason, '')}")
        for n, detail in tally.samples:
            lines.append(f"    line {n}: {detail}")
        if tally.count > len(tally.samples):
            lines.append(f"    ... and {tally.count - len(tally.samples)} more")
    if not report.written:
        lines.append(
            f"  Nothing to write, so {out} was not written. A chat export in CSV, TSV or Excel "
            f"(one message per row) becomes a dataset with: gemini-tuning prepare {src} --out DIR"
        )
    elif report.ok:
        lines.append(f"  OK: wrote {report.written} example(s).")
    else:
        lines.append(
            f"  Wrote {report.written} example(s); fix the skipped lines in the input and run "
            "again (with --force) to include them."
        )
    return "\n".join(lines)
