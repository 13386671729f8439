"""`gemini-tuning demo`: the whole pipeline on this machine, in about half a minute.

A temporary root, the bundled Chinese game customer-service dataset, the local runtime with the
Vertex AI simulator (short training time). It drops the dataset the way a user would, prints each
status change as the run moves, then the final summary. Exit 0 only if the run SUCCEEDED.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

EXAMPLE = "game-cs-zh"


def examples_dir() -> Path:
    return Path(__file__).resolve().parents[2] / "examples" / "datasets"


def _seconds(lo: float, hi: float) -> Any:
    """An argparse type: a number of seconds in [lo, hi], else a usage error saying so (a bad
    value would otherwise surface only as a run stuck until --timeout)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
        if not lo <= value <= hi:  # also false for nan
            raise argparse.ArgumentTypeError(f"{text}: use seconds from {lo:g} to {hi:g}")
        return value

    return parse


def add_parser(sub: Any) -> None:
    p = sub.add_parser("demo", help="run the whole pipeline locally on a bundled example")
    p.add_argument(
        "--dataset",
        metavar="DIR",
        help=f"dataset folder to run (default: examples/datasets/{EXAMPLE})",
    )
    p.add_argument(
        "--training-seconds",
        type=_seconds(0, 604800),
        default=10.0,
        help="simulated training time (default: 10)",
    )
    p.add_argument(
        "--timeout",
        type=_seconds(0.1, 86400),
        default=300.0,
        help="give up after this many seconds (default: 300)",
    )
    p.add_argument(
        "--root",
        metavar="DIR",
        help="keep the run's files here (default: a new temp folder, kept and named at the end)",
    )
    p.add_argument("--verbose", action="store_true", help="show the runtime's log lines")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    dataset = Path(args.dataset) if args.dataset else examples_dir() / EXAMPLE
    if not (dataset / "train.jsonl").is_file():
        print(f"error: {dataset}/train.jsonl not found; pass --dataset DIR", file=sys.stderr)
        return 2
    # The folder is kept (and named at the end): the summary links to reports inside it.
    root = Path(args.root).resolve() if args.root else Path(tempfile.mkdtemp(prefix="gtp-demo-"))
    return _run(args, dataset, root)


def _run(args: argparse.Namespace, dataset: Path, root: Path) -> int:
    from shared import composition, logs
    from shared.simulator import SimConfig

    if not args.verbose:
        logs.set_level("WARNING")
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(message)s",
        datefmt="%H:%M:%S",
        stream=sys.stderr,
    )
    from shared import status
    from shared.commands._dataset_folder import dataset_files
    from shared.commands.submit import _copy_local
    from shared.host.runtime import LocalRuntime, RuntimeOptions

    started = time.monotonic()
    deps = composition.local_deps(root, simulator=SimConfig(training_seconds=args.training_seconds))
    runtime = LocalRuntime(
        root, options=RuntimeOptions(tick=1.0, settle=0.2, rescan=1.0), deps=deps
    )
    runtime.start()
    store = deps.store
    print(
        f"demo: local pipeline on {root} (Vertex AI is SIMULATED: {args.training_seconds:g} s "
        "of training, answers retrieved from the training data)"
    )
    try:
        files = dataset_files(dataset)
        for path in _copy_local(runtime.layout.root / "bucket", dataset.name, files):
            print(f"demo: dropped {Path(path).relative_to(root)}")
        seen: list[str] = []
        run = None
        while time.monotonic() - started < args.timeout:
            runs = store.list_recent(limit=5)
            run = runs[0] if runs else None
            if run is not None:
                for h in run.history[len(seen) :]:
                    seen.append(str(h.status))
                    print(f"demo: {time.monotonic() - started:6.1f}s  {h.status:<10} {h.note}")
                if run.is_terminal or (run.status == "VALIDATED" and run.dry_run):
                    break
            time.sleep(0.2)
        else:
            print(f"demo: gave up after {args.timeout:g}s", file=sys.stderr)
    finally:
        runtime.stop()
    if run is None:
        print("error: no run was created; check the dataset folder", file=sys.stderr)
        return 1
    print()
    print(status.render_run_detail(run))
    print(f"\ndemo: finished in {time.monotonic() - started:.1f}s with status {run.status}")
    page = _report_page(run)
    if page is not None:
        print(f"demo: evaluation report (open in a browser): {page}")
    print(
        f"demo: files kept in {root} (the links above point there); "
        f"`gemini-tuning status --root {root}` shows the run"
        + ("" if args.root else "; delete the folder when done")
    )
    return 0 if run.status == "SUCCEEDED" else 1


def _report_page(run: Any) -> Path | None:
    """The run's report.html on disk (the demo's folder is kept, so the path stays valid)."""
    from urllib.parse import urlparse
    from urllib.request import url2pathname

    uri = getattr(run.evaluation, "report_html_uri", None)
    if not uri or urlparse(uri).scheme != "file":
        return None
    page = Path(url2pathname(urlparse(uri).path))
    return page if page.is_file() else None
