"""`gemini-tuning status [RUN_ID] [--root DIR] [--watch] [--json]`."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from shared.commands._deps import add_root_argument, deps_for


def _count(text: str) -> int:
    """--limit: 0 would print "no runs yet" whatever the store holds, and SQLite reads -1 as
    "no limit", so only whole numbers from 1 are accepted."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text}: list at least 1 run")
    return value


def add_parser(sub: Any) -> None:
    p = sub.add_parser("status", help="show tuning runs (a table, one run, or JSON)")
    p.add_argument("run_id", nargs="?", metavar="RUN_ID", help="show one run in detail")
    add_root_argument(p)
    p.add_argument(
        "--watch",
        action="store_true",
        help="refresh every 2 seconds until Ctrl-C (with RUN_ID: until that run ends)",
    )
    p.add_argument("--json", action="store_true", help="print JSON (a list, or one object)")
    p.add_argument("--limit", type=_count, default=50, help="runs to list (default 50)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from shared import status
    from shared.errors import PipelineError

    try:
        deps = deps_for(args)
        if deps.settings.backend == "local":
            db = deps.layout.runs_db
            if not db.is_file():
                print(
                    f"error: no local pipeline at {deps.layout.root} "
                    f"(no {db.relative_to(deps.layout.root)}); "
                    "pass the --root of `gemini-tuning local`, or set BACKEND=gcp for the cloud",
                    file=sys.stderr,
                )
                return 2
    except (PipelineError, RuntimeError, OSError) as e:
        print(f"error: cannot open the run store: {e}", file=sys.stderr)
        return 2

    tty = sys.stdout.isatty()
    # Watching into a pipe or file: one compact JSON document per line (JSON Lines).
    indent = None if args.watch and not tty else 1
    ended = False  # the watched run reached a final status

    def once() -> int:
        nonlocal ended
        if args.run_id:
            r = store.get(args.run_id)
            if r is None:
                print(
                    f"error: no run {args.run_id!r}; list runs with `gemini-tuning status`",
                    file=sys.stderr,
                )
                return 1
            ended = r.is_terminal
            if args.json:
                print(json.dumps(status.run_view(r), ensure_ascii=False, indent=indent))
            else:
                print(status.render_run_detail(r))
            _note_if_nothing_advances(deps, [r])
            return 0
        runs = store.list_recent(limit=args.limit)
        if args.json:
            print(json.dumps([status.run_view(r) for r in runs], ensure_ascii=False, indent=indent))
        elif not runs:
            print("no runs yet: drop a dataset into the bucket's incoming/ folder")
        else:
            from rich.console import Console

            # A pipe gets whole lines, not a table squeezed to 80 columns.
            Console(width=None if tty else 250).print(status.render_table(runs))
        if not args.json:
            _lifecycle_lines(deps)
        _note_if_nothing_advances(deps, runs)
        return 0

    where = "Firestore" if deps.settings.backend == "gcp" else str(deps.settings.local_root)
    try:
        store = deps.store
        if not args.watch:
            return once()
        if not args.run_id:
            print(
                "watching every run: refreshed every 2 s until Ctrl-C (it does not end by "
                "itself; `status RUN_ID --watch` ends when that run does)",
                file=sys.stderr,
            )
        while True:
            if tty:
                print("\033[2J\033[H", end="")
            code = once()
            sys.stdout.flush()
            if code != 0 or ended:
                return code
            time.sleep(2)
    except KeyboardInterrupt:
        return 0
    except BrokenPipeError:
        raise  # the reader went away: `shared.cli` ends quietly
    except Exception as e:  # the store's client: credentials, permissions, network
        hint = (
            " Check GCP_PROJECT, FIRESTORE_DATABASE, RUNS_COLLECTION and your credentials "
            "(`gcloud auth application-default login`)."
            if deps.settings.backend == "gcp"
            else ""
        )
        print(
            f"error: cannot read runs from {where}: {type(e).__name__}: {e}.{hint}", file=sys.stderr
        )
        return 2


def _lifecycle_lines(deps: Any) -> None:
    """The retirement watch's due warnings under the table: which base model ends when, its
    replacement and the `retune` command (the poller sends each once; this shows them all)."""
    from shared.pipeline.watch import banner_lines

    for line in banner_lines(deps):
        print(line)


def _note_if_nothing_advances(deps: Any, runs: list[Any]) -> None:
    """Locally, runs move only while `gemini-tuning local` runs: say so when it does not."""
    if deps.settings.backend != "local" or all(r.is_terminal for r in runs):
        return
    from shared.host.runtime import runtime_running

    if not runtime_running(deps.layout):
        print(
            f"note: no `gemini-tuning local` is running on {deps.layout.root}: unfinished runs "
            f"will not advance until you start it (gemini-tuning local --root {deps.layout.root})",
            file=sys.stderr,
        )
