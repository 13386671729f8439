"""`gemini-tuning redact IN OUT [--pii-pattern NAME=REGEX] [--force] [--json]`.

Writes a copy of a JSONL dataset with personal data (phone, ID and card numbers, e-mail, QQ,
WeChat, IP addresses, custom patterns) replaced by typed placeholders such as `<PHONE_1>`. IN is
only read, OUT is never IN and is written atomically (see `_files.py`). Exit codes: 0 written
(whether or not anything was replaced), 1 written but some lines were not valid JSON (redacted as
raw text; validate them), 2 usage or I/O error.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from shared.datasets.privacy import PrivacyOptions

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "redact",
        help="write a copy of a JSONL dataset with personal data replaced by placeholders",
        description=(
            "Replace phone numbers, resident ID numbers, bank card numbers, e-mail addresses, "
            "QQ numbers, WeChat IDs, IP addresses and custom patterns with typed placeholders "
            "(<PHONE_1>, <ID_CARD_1>, ...), consistent within each example. Lines without "
            "personal data are copied byte for byte; IN is never modified. Exit code: 0 "
            "written, 1 written but some lines were not valid JSON, 2 usage or I/O error."
        ),
    )
    p.add_argument("input", metavar="IN", help="JSONL file to read (never modified); - for stdin")
    p.add_argument("output", metavar="OUT", help="JSONL file to write")
    p.add_argument(
        "--pii-pattern",
        metavar="NAME=REGEX",
        action="append",
        default=[],
        help="also replace matches of REGEX with <NAME_n> (repeatable), e.g. order_id=GM\\d{10}",
    )
    p.add_argument("--force", action="store_true", help="overwrite OUT if it exists")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=run)


def _fail(message: str) -> int:
    print(f"gemini-tuning redact: {message}", file=sys.stderr)
    return 2


def privacy_options(specs: list[str], policy: str = "warn") -> PrivacyOptions:
    """PrivacyOptions from `--pii-pattern` specs; raises ValueError with a one-line message."""
    from shared.datasets.privacy import PrivacyOptions, parse_pattern

    patterns: dict[str, str] = {}
    for spec in specs:
        name, rx = parse_pattern(spec)
        if name in patterns:
            raise ValueError(f"--pii-pattern {name} is given twice.")
        patterns[name] = rx
    return PrivacyOptions(policy=policy, patterns=patterns)  # type: ignore[arg-type]


def run(args: argparse.Namespace) -> int:
    from shared.commands._files import check_in_out, write_atomically
    from shared.datasets.redact import redact_stream

    try:
        options = privacy_options(args.pii_pattern)
    except ValueError as e:
        return _fail(str(e))
    src = None if args.input == "-" else Path(args.input)
    out = Path(args.output)
    problem = check_in_out(src, out, args.force, "redact")
    if problem:
        return _fail(problem)
    try:
        report = write_atomically(src, out, lambda i, o: redact_stream(i, o, options))
    except ValueError as e:
        return _fail(f"{args.input}: {e}")
    except OSError as e:
        return _fail(f"could not redact {args.input} -> {out}: {e.strerror or e}.")
    doc = {"input": args.input, "output": str(out), **report.to_dict()}
    if args.json:
        print(json.dumps(doc, ensure_ascii=False, indent=2))
    else:
        replaced = ", ".join(f"{n} {k}" for k, n in doc["replaced"].items()) or "nothing"
        print(f"{args.input} -> {out}")
        print(
            f"  {report.lines:,} lines read, {report.changed_lines:,} rewritten; replaced: "
            f"{replaced}"
        )
        if report.unparsed_lines:
            print(
                f"  {report.unparsed_lines:,} line(s) are not valid JSON and were redacted as "
                "raw text; run `gemini-tuning validate` on OUT."
            )
    return 1 if report.unparsed_lines else 0
