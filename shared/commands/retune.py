"""`gemini-tuning retune RUN_ID [--model M] [--epochs N] [--learning-rate-multiplier F]
[--adapter-size N] [--root DIR]`: the run's data tuned again on another base model.

The logic is `shared.pipeline.retune`; this module parses and prints.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from shared.commands._deps import add_root_argument, deps_for


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text}: must be at least 1")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text}: must be a positive number")
    return value


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "retune",
        help="tune a SUCCEEDED run's data again on another base model (before its retirement)",
        description="A new run, linked to RUN_ID, on --model (default: the catalog's "
        "replacement for RUN_ID's base model) with the same validated dataset files and "
        "tuning.yaml, validated again against the new model's limits, hyperparameters left to "
        "Vertex AI unless given, evaluated against the current production model under "
        "production_gates and auto-promoted only when they pass.",
    )
    p.add_argument("run_id", metavar="RUN_ID")
    p.add_argument("--model", metavar="M", help="the new base model (default: the replacement)")
    p.add_argument("--epochs", type=_positive_int, metavar="N", help="epoch count")
    p.add_argument(
        "--learning-rate-multiplier", type=_positive_float, metavar="F", help="learning rate"
    )
    p.add_argument("--adapter-size", type=_positive_int, metavar="N", help="LoRA adapter size")
    add_root_argument(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from shared import logs
    from shared.errors import PermanentError, PipelineError
    from shared.pipeline.retune import Hyperparameters, retune_run

    logs.set_level("WARNING")  # the step's info entries are for the pipeline's logs, not here
    hp = Hyperparameters(args.epochs, args.learning_rate_multiplier, args.adapter_size)
    try:
        deps = deps_for(args)
        result = retune_run(deps, args.run_id, model=args.model, hp=hp)
    except PermanentError as e:  # no such run, not succeeded, no replacement, a file gone
        print(f"error: {e.message}", file=sys.stderr)
        return 1
    except (PipelineError, OSError) as e:
        message = e.message if isinstance(e, PipelineError) else str(e)
        print(f"error: could not retune {args.run_id}: {message}; try again", file=sys.stderr)
        return 2
    if not result.created:
        print(f"{args.run_id} was already retuned on {result.model} as {result.run_id} "
              f"({result.status})")  # fmt: skip
        return 0
    print(f"retuning {args.run_id} on {result.model} as {result.run_id}: {result.status}")
    if result.status in ("REJECTED", "FAILED"):
        print(f"error: {result.detail}", file=sys.stderr)
        return 1
    print(
        "it is evaluated against the production model and promoted if it passes the "
        "production_gates"
        if result.auto_promote
        else "it is evaluated against the production model; its tuning.yaml has no "
        "production_gates (or no gates), so it will not be promoted on its own: read its "
        f"evaluation, then `gemini-tuning promote {result.run_id}`"
    )
    return 0
