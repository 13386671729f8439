"""`gemini-tuning promote RUN_ID | --rollback | --show`: the production model record.

The logic is `shared.pipeline.promote`; this module parses, picks who is asking and prints.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from typing import TYPE_CHECKING, Any

from shared.commands._deps import add_root_argument, existing_deps, report

if TYPE_CHECKING:
    from shared.ports import Promotion

SHOW_LIMIT = 5


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "promote",
        help="make a run's model the production model, roll back, or show the record",
        description="Make a SUCCEEDED run's tuned model (or one of its checkpoints) the "
        "production model that a serving system reads; --rollback restores the one before; "
        "--show prints the current production model and the last changes.",
    )
    p.add_argument("run_id", nargs="?", metavar="RUN_ID", help="the run whose model to promote")
    what = p.add_mutually_exclusive_group()
    what.add_argument("--rollback", action="store_true", help="restore the previous model")
    what.add_argument("--show", action="store_true", help="print the production record")
    p.add_argument("--checkpoint", metavar="ID", help="promote this checkpoint's endpoint")
    p.add_argument("--reason", default="", metavar="TEXT", help="why (kept on the record)")
    p.add_argument("--by", metavar="NAME", help="who promotes (default: your OS user name)")
    p.add_argument("--json", action="store_true", help="print the record as JSON")
    add_root_argument(p)
    p.set_defaults(func=run)


def _usage(args: argparse.Namespace) -> str | None:
    if args.show or args.rollback:
        flag = "--show" if args.show else "--rollback"
        if args.run_id:
            return f"{flag} takes no RUN_ID"
        if args.checkpoint:
            return f"{flag} takes no --checkpoint"
        return None
    if not args.run_id:
        return "name the RUN_ID to promote (or --rollback, or --show)"
    return None


def _who(args: argparse.Namespace) -> str:
    if args.by and args.by.strip():
        return str(args.by.strip())
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no user name in this environment (a bare container)
        return "unknown"


def describe(p: Promotion) -> str:
    """One line per record, for people."""
    cp = f" checkpoint {p.checkpoint_id}" if p.checkpoint_id else " (default checkpoint)"
    kind = "rollback to" if p.rolled_back else "promoted"
    sim = " [simulated]" if p.simulated else ""
    why = f" — {p.reason}" if p.reason else ""
    return (
        f"#{p.sequence} {p.promoted_at} {kind} {p.run_id}{cp} by {p.promoted_by}{sim}{why}\n"
        f"    endpoint {p.endpoint}"
    )


def run(args: argparse.Namespace) -> int:
    from shared import logs
    from shared.errors import PipelineError
    from shared.pipeline import promote

    logs.set_level("WARNING")  # the step's info entries are for the pipeline's logs, not here

    problem = _usage(args)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    try:
        deps = existing_deps(args)
        if deps is None:
            return 2
        if args.show:
            from shared.pipeline.watch import banner_lines

            code = _show(deps.production.current(), deps.production.history(limit=SHOW_LIMIT), args)
            if not args.json:
                for line in banner_lines(deps):
                    print(line)
            return code
        if args.rollback:
            done = promote.rollback(deps, by=_who(args), reason=args.reason)
            print(
                f"rolled back: run {done.run_id} is the production model again (was "
                f"{done.previous})"
            )
            print(describe(done))
            return 0
        result = promote.promote_run(
            deps, args.run_id, by=_who(args), reason=args.reason, checkpoint_id=args.checkpoint
        )
    except (PipelineError, OSError) as e:  # a refusal, or the store: credentials, network
        return report(e, "reach the production record")
    p = result.promotion
    if not result.changed:
        print(f"run {p.run_id} already is the production model (record #{p.sequence})")
        return 0
    print(
        f"promoted: run {p.run_id} is the production model"
        + (f" (replacing {p.previous})" if p.previous else "")
    )
    print(describe(p))
    return 0


def _show(current: Promotion | None, history: list[Promotion], args: argparse.Namespace) -> int:
    if args.json:
        doc = {
            "current": None if current is None else current.to_dict(),
            "history": [h.to_dict() for h in history],
        }
        print(json.dumps(doc, ensure_ascii=False, indent=1))
        return 0
    if current is None:
        print("no production model yet: promote one with `gemini-tuning promote RUN_ID`")
        return 0
    print(f"production model: run {current.run_id}")
    print(f"  tuned model  {current.tuned_model_name}")
    print(f"  endpoint     {current.endpoint}")
    print(f"  checkpoint   {current.checkpoint_id or 'the tuned model default'}")
    print(f"  base model   {current.base_model}")
    if current.simulated:
        print("  SIMULATED    a model of the local Vertex AI simulator, not a real one")
    print("last changes (newest first):")
    for p in history:
        print("  " + describe(p).replace("\n", "\n  "))
    return 0
