"""The `gemini-tuning` command: one dispatcher, one module per subcommand.

Each subcommand lives in `shared/commands/<name>.py` with `add_parser(subparsers)` that registers
its arguments and sets `func` (taking the parsed args, returning the exit code). Modules import
their heavy dependencies inside `func` so `gemini-tuning --help` stays fast.

Exit codes everywhere: 0 success, 1 the input is invalid / the run failed / no such run, 2 usage
or I/O error. A reader that closes the pipe early (`| head`) ends the command quietly with 0.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

#: Subcommand modules, in the order `--help` lists them. Each must exist (a test imports them).
COMMANDS = (
    "prepare",
    "validate",
    "convert",
    "redact",
    "submit",
    "start",
    "local",
    "status",
    "cancel",
    "evaluate",
    "promote",
    "chat",
    "retry",
    "retune",
    "models",
    "demo",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gemini-tuning",
        description="Validate datasets and run the Gemini tuning pipeline (locally or on GCP).",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"shared.commands.{name}").add_parser(sub)
    return parser


def _tolerant_streams() -> None:
    """A terminal that cannot show Chinese (`PYTHONIOENCODING=ascii`, a C locale) gets `\\u`
    escapes instead of a `UnicodeEncodeError` halfway through a report (which also turned
    `validate`'s exit code into 1, "invalid")."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="backslashreplace")


def main(argv: Sequence[str] | None = None) -> int:
    _tolerant_streams()
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        code: int = args.func(args)
        sys.stdout.flush()
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return _reader_went_away()
    return code


def _reader_went_away() -> int:
    """`gemini-tuning status | head`: the reader closed the pipe, which is not an error. Point
    stdout at /dev/null so the interpreter's final flush does not complain, and end quietly."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
