"""`gemini-tuning chat RUN_ID [--checkpoint ID] [--compare base|production] [--prompt TEXT]`.

Ask a run's tuned model as the evaluation did (`shared.pipeline.chat`): once with `--prompt`,
else one question per line of standard input until end of input (Ctrl-D).
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from shared.commands._deps import add_root_argument, existing_deps, report

if TYPE_CHECKING:
    from shared.pipeline.chat import Chat, ChatSetup

SIMULATED_NOTICE = (
    "SIMULATED: local mode, the answers come from the Vertex AI simulator (its tuned model "
    "replies with the closest training example, its base model generically), not from Gemini."
)


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "chat",
        help="ask a run's tuned model (optionally beside the base or production model)",
        description="Ask the tuned model with the dataset's system instruction and the "
        "evaluation's generation settings.",
    )
    p.add_argument("run_id", metavar="RUN_ID")
    p.add_argument("--checkpoint", metavar="ID", help="ask this checkpoint's own endpoint")
    p.add_argument(
        "--compare", choices=("base", "production"), help="show this model's answer beside it"
    )
    p.add_argument("--prompt", metavar="TEXT", help="ask once and exit (else read stdin lines)")
    add_root_argument(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from shared.errors import PipelineError
    from shared.pipeline.chat import Chat, open_chat

    if args.prompt is not None and not args.prompt.strip():
        print("error: --prompt is empty; write the question to ask", file=sys.stderr)
        return 2
    try:
        deps = existing_deps(args)
        if deps is None:
            return 2
        setup = open_chat(deps, args.run_id, checkpoint_id=args.checkpoint, compare=args.compare)
        chat = Chat(deps.models, setup)
    except (PipelineError, OSError) as e:  # a refusal, or the store: credentials, network
        return report(e, "open the chat")
    _header(setup)
    if args.prompt is not None:
        return 0 if _turn(chat, args.prompt) else 2
    interactive = sys.stdin.isatty()
    if interactive:
        print("one question per line; Ctrl-D ends", file=sys.stderr)
    failed = False
    while True:
        if interactive:
            print("you> ", end="", file=sys.stderr, flush=True)
        line = sys.stdin.readline()
        if not line:
            break
        if line.strip():
            failed = not _turn(chat, line.strip()) or failed
    return 2 if failed else 0


def _header(setup: ChatSetup) -> None:
    if setup.simulated:
        print(SIMULATED_NOTICE)
    s = setup.settings
    thinking = (
        f"thinking_budget={s.thinking_budget}"
        if s.thinking_budget is not None
        else f"thinking_level={s.thinking_level}"
        if s.thinking_level is not None
        else "model default thinking"
    )
    system = "the dataset's system instruction" if setup.system_instruction else "no system "
    if not setup.system_instruction:
        system += "instruction (the training data has none)"
    print(f"asking {setup.tuned.model} with {system}, {thinking}")
    for w in setup.warnings:
        print(f"warning: {w}", file=sys.stderr)


def _turn(chat: Chat, text: str) -> bool:
    """Print every model's answer; False when any call failed."""
    ok = True
    for reply in chat.ask(text):
        if reply.error is not None:
            ok = False
            print(f"[{reply.speaker.label}] error: {reply.error}")
            continue
        sim = " (simulated)" if reply.simulated else ""
        print(f"[{reply.speaker.label}]{sim} {reply.text}")
    return ok
