"""`gemini-tuning retry RUN_ID [--root DIR]`: a new attempt of an ended run."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from shared.commands._deps import add_root_argument, deps_for


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "retry",
        help="start a new attempt of an ended run from the same dataset file",
        description="Validate the run's training file (the same generation) again as a new run "
        "linked to the old one, and start it. Running it twice does not make two attempts.",
    )
    p.add_argument("run_id", metavar="RUN_ID")
    p.add_argument(
        "--yes",
        action="store_true",
        help="retry a run that SUCCEEDED (it starts another paid tuning job) without asking",
    )
    add_root_argument(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from shared import logs
    from shared.errors import PermanentError, PipelineError
    from shared.pipeline.retry import retry_run

    logs.set_level("WARNING")  # the step's info entries are for the pipeline's logs, not here
    try:
        deps = deps_for(args)
        src = deps.store.get(args.run_id)
        if src is not None and src.status == "SUCCEEDED" and not args.yes:
            print(
                f"error: run {args.run_id} SUCCEEDED; a retry starts another paid tuning job. "
                f"Run `gemini-tuning retry {args.run_id} --yes` if that is what you want.",
                file=sys.stderr,
            )
            return 1
        result = retry_run(deps, args.run_id)
    except PermanentError as e:  # no such run, still working, the file is gone
        print(f"error: {e.message}", file=sys.stderr)
        return 1
    except (PipelineError, OSError) as e:
        message = e.message if isinstance(e, PipelineError) else str(e)
        print(f"error: could not retry {args.run_id}: {message}; try again", file=sys.stderr)
        return 2
    if not result.created:
        print(f"{args.run_id} was already retried as {result.run_id} ({result.status})")
        return 0
    print(f"retrying {args.run_id} as {result.run_id}: {result.status}")
    if result.status in ("REJECTED", "FAILED"):
        print(f"error: {result.detail}", file=sys.stderr)
        return 1
    return 0
