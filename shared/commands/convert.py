"""`gemini-tuning convert IN OUT`: legacy `messages` / OpenAI chat JSONL -> Vertex `contents`.

Safety first because the input is often the only copy of a team's data: IN is only ever read,
OUT is written to a temporary file beside it and renamed into place (a crash never leaves half a
file), and an existing OUT is kept unless `--force`. OUT `-` is stdout, for a pipe: then stdout
carries the converted lines and nothing else, and the report goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, TextIO

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
    p.add_argument(
        "output", metavar="OUT", help="JSONL file to write; - for stdout (the report: stderr)"
    )
    p.add_argument("--force", action="store_true", help="overwrite OUT if it exists")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=run)


def _fail(message: str) -> int:
    print(f"gemini-tuning convert: {message}", file=sys.stderr)
    return _USAGE_ERROR


def run(args: argparse.Namespace) -> int:
    src = None if args.input == "-" else Path(args.input)
    if args.output == "-":
        return _to_stdout(args, src)
    out = Path(args.output)
    problem = check_in_out(src, out, args.force, "convert")
    if problem:
        return _fail(problem)
    try:
        report = write_atomically(src, out, convert_stream, keep=lambda r: r.written > 0)
    except OSError as e:
        return _fail(f"could not convert {args.input} -> {out}: {e.strerror or e}.")
    _report(args, report, str(out), sys.stdout)
    return 0 if report.ok and report.written else 1


def _to_stdout(args: argparse.Namespace, src: Path | None) -> int:
    """Converted lines on stdout as they are made (a pipe never waits for the whole file);
    the report on stderr, so stdout stays a clean JSONL stream."""
    problem = check_in_out(src, None, args.force, "convert")
    if problem:
        return _fail(problem)
    sys.stdout.flush()
    try:
        if src is None:
            report = convert_stream(sys.stdin.buffer, sys.stdout.buffer)
        else:
            with src.open("rb") as f:
                report = convert_stream(f, sys.stdout.buffer)
        sys.stdout.buffer.flush()
    except BrokenPipeError:  # `convert IN - | head`: cli.main ends quietly
        raise
    except OSError as e:
        return _fail(f"could not convert {args.input} -> stdout: {e.strerror or e}.")
    _report(args, report, "stdout", sys.stderr)
    return 0 if report.ok and report.written else 1


def _report(args: argparse.Namespace, report: ConvertReport, out: str, stream: TextIO) -> None:
    if args.json:
        doc = {"input": args.input, "output": out, **report.to_dict()}
        print(json.dumps(doc, ensure_ascii=False, indent=2), file=stream)
    else:
        print(render(report, args.input, out), file=stream)


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
        unwritten = "nothing was written" if out == "stdout" else f"{out} was not written"
        lines.append(
            f"  Nothing to write, so {unwritten}. A chat export in CSV, TSV or Excel "
            f"(one message per row) becomes a dataset with: gemini-tuning prepare {src} --out DIR"
        )
    elif report.ok:
        lines.append(f"  OK: wrote {report.written} example(s).")
    else:
        lines.append(
            f"  Wrote {report.written} example(s); fix the skipped lines in the input and run "
            f"again{'' if out == 'stdout' else ' (with --force)'} to include them."
        )
    return "\n".join(lines)
