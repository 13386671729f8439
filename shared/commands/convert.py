"""`gemini-tuning convert IN OUT`: legacy `messages` / OpenAI chat JSONL -> Vertex `contents`.

Safety first because the input is often the only copy of a team's data: IN is only ever read,
OUT is written to a temporary file beside it and renamed into place (a crash never leaves half a
file), and an existing OUT is kept unless `--force`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

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


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.samefile(b)
    except OSError:
        return False


def _write_atomically(src_path: Path | None, out: Path) -> ConvertReport:
    """Convert into a temp file in OUT's folder, then rename: OUT is either old or complete."""
    fd, tmp_name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as dst:
            if src_path is None:
                report = convert_stream(sys.stdin.buffer, dst)
            else:
                with src_path.open("rb") as src:
                    report = convert_stream(src, dst)
            dst.flush()
            os.fsync(dst.fileno())
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return report


def run(args: argparse.Namespace) -> int:
    src = None if args.input == "-" else Path(args.input)
    out = Path(args.output)
    if src is not None and not src.is_file():
        what = "is a folder" if src.is_dir() else "does not exist"
        return _fail(f"input {src} {what}. Pass the path of a .jsonl file.")
    if src is not None and out.exists() and _same_file(src, out):
        return _fail(
            "IN and OUT are the same file; convert never modifies its input. Choose another OUT."
        )
    if out.is_dir():
        return _fail(f"output {out} is a folder. Pass a file path such as {out}/train.jsonl.")
    if out.exists() and not args.force:
        return _fail(
            f"output {out} already exists. Pass --force to overwrite it, or choose another path."
        )
    if not out.parent.is_dir():
        return _fail(f"the folder {out.parent} does not exist. Create it first.")
    try:
        report = _write_atomically(src, out)
    except OSError as e:
        return _fail(f"could not convert {args.input} -> {out}: {e.strerror or e}.")
    if args.json:
        doc = {"input": args.input, "output": str(out), **report.to_dict()}
        print(json.dumps(doc, ensure_ascii=False, indent=2))
    else:
        print(render(report, args.input, str(out)))
    return 0 if report.ok else 1


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
    if report.ok:
        lines.append(f"  OK: wrote {report.written} example(s).")
    else:
        lines.append(
            f"  Wrote {report.written} example(s); fix the skipped lines in the input and run "
            "again (with --force) to include them."
        )
    return "\n".join(lines)
