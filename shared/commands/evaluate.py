"""`gemini-tuning evaluate RUN_ID [--against base|production|RUN_ID]`: evaluate a finished run
again without retraining (a new baseline, the judge or the rubric switched on)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from shared.commands._deps import add_root_argument, deps_for
from shared.status.view import evaluation_notes, metric_line, metric_rows, verdict_words


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "evaluate",
        help="evaluate a finished run again (against base, production or another run)",
        description=__doc__,
    )
    p.add_argument("run_id", metavar="RUN_ID")
    p.add_argument(
        "--against",
        default="base",
        metavar="base|production|RUN_ID",
        help="the model to compare with (default: the base model)",
    )
    p.add_argument("--judge", action="store_true", default=None, help="add the pairwise judge")
    p.add_argument("--rubric", action="store_true", default=None, help="add the rubric scores")
    p.add_argument("--sample-size", type=int, metavar="N", help="examples to evaluate")
    p.add_argument(
        "--test",
        metavar="FILE",
        help="a new eval set (JSONL, local file): validated, then evaluated instead of the run's",
    )
    add_root_argument(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from shared.errors import PipelineError, TransientError
    from shared.pipeline.reevaluate import reevaluate

    if args.sample_size is not None and not 1 <= args.sample_size <= 5000:
        print("error: --sample-size must be from 1 to 5000", file=sys.stderr)
        return 2
    test_set = None
    if args.test:
        try:
            with open(args.test, "rb") as fh:
                test_set = fh.read()
        except OSError as e:
            print(f"error: cannot read --test {args.test}: {e.strerror or e}", file=sys.stderr)
            return 2
    try:
        got = reevaluate(
            deps_for(args),
            args.run_id,
            against=args.against,
            judge=args.judge,
            rubric=args.rubric,
            sample_size=args.sample_size,
            test_set=test_set,
            test_label=args.test or "test.jsonl",
        )
    except TransientError as e:
        print(
            f"error: {e.message} (run the command again: finished chunks are kept)", file=sys.stderr
        )
        return 2
    except PipelineError as e:
        print(f"error: {e.message}", file=sys.stderr)
        return 1
    sim = " [simulated]" if got.simulated else ""
    print(
        f"attempt {got.attempt} vs {got.against} ({got.baseline_model}): "
        f"{verdict_words(got.verdict)}{sim}"
    )
    print(f"  {got.reason}")
    if got.info is not None:
        for row in metric_rows(got.info):
            print(f"  {metric_line(row, got.against)}")
        for note in evaluation_notes(got.info):
            print(f"  {note}")
    print(f"report: {got.report_html_uri}")
    return 0 if got.passed is not False else 1
