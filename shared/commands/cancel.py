"""`gemini-tuning cancel RUN_ID [--root DIR]`: stop a queued or training run."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from shared.commands._deps import add_root_argument, deps_for


def add_parser(sub: Any) -> None:
    p = sub.add_parser("cancel", help="cancel a queued run or a training run's tuning job")
    p.add_argument("run_id", metavar="RUN_ID")
    add_root_argument(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from shared import logs
    from shared.errors import PermanentError
    from shared.pipeline.cancel import cancel_run

    logs.set_level("WARNING")  # the step's info entries are for the pipeline's logs, not here
    deps = deps_for(args)
    try:
        print(cancel_run(deps, args.run_id))
    except PermanentError as e:
        print(f"error: {e.message}", file=sys.stderr)
        return 1
    except Exception as e:  # the store's or Vertex's client: credentials, network
        print(f"error: could not cancel {args.run_id}: {type(e).__name__}: {e}", file=sys.stderr)
        return 2
    return 0
