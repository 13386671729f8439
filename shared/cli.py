"""The `gemini-tuning` command: one dispatcher, one module per subcommand.

Each subcommand lives in `shared/commands/<name>.py` with `add_parser(subparsers)` that registers
its arguments and sets `func` (taking the parsed args, returning the exit code). Modules import
their heavy dependencies inside `func` so `gemini-tuning --help` stays fast.

Exit codes everywhere: 0 success, 1 the input is invalid / the run failed, 2 usage or I/O error.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

#: Subcommand modules, in the order `--help` lists them. Missing modules are skipped so the
#: command works while a subcommand is being built.
COMMANDS = ("validate", "convert", "redact", "submit", "local", "status", "cancel", "demo")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gemini-tuning",
        description="Validate datasets and run the Gemini tuning pipeline (locally or on GCP).",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"shared.commands.{name}")
        except ModuleNotFoundError as e:
            if e.name == f"shared.commands.{name}":
                continue
            raise
        module.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        code: int = args.func(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
