"""`gemini-tuning local --root DIR`: run the whole pipeline on this machine until Ctrl-C."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from shared.commands._deps import DEFAULT_LOCAL_ROOT
from shared.commands._workers import workers_type
from shared.settings import NOTIFY_FORMATS


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0.1 <= value <= 3600:
        raise argparse.ArgumentTypeError("use a tick between 0.1 and 3600 seconds")
    return value


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "local",
        help="run the pipeline locally: a folder is the bucket, SQLite the store and the bus",
        description="Watch DIR/bucket and run validator, launcher, poller and evaluator on this "
        "machine (Vertex AI is simulated) until Ctrl-C.",
    )
    p.add_argument(
        "--root",
        type=Path,
        default=Path(os.environ.get("LOCAL_ROOT") or DEFAULT_LOCAL_ROOT),
        metavar="DIR",
        help="folder for the bucket, artifacts and state "
        "(default: $LOCAL_ROOT or ./local-pipeline)",
    )
    p.add_argument(
        "--tick",
        type=_seconds,
        default=2.0,
        metavar="SECONDS",
        help="how often the poller checks running jobs (default: 2)",
    )
    p.add_argument(
        "--workers",
        type=workers_type(8),
        default=3,
        metavar="N",
        help="handlers running at once (1-8, default: 3)",
    )
    p.add_argument(
        "--port",
        type=_port,
        metavar="N",
        help="serve the status page on http://127.0.0.1:N/ (runs, findings, reports)",
    )
    p.add_argument(
        "--notify",
        type=_url,
        metavar="URL",
        help="post run outcomes (succeeded, rejected, failed, cancelled) and warnings to this "
        "chat webhook",
    )
    p.add_argument(
        "--notify-format",
        choices=NOTIFY_FORMATS,
        default="slack",
        help="the webhook's message format (default: slack)",
    )
    p.set_defaults(func=run)


def _url(text: str) -> str:
    if not text.startswith(("http://", "https://")) or len(text) < 10:
        raise argparse.ArgumentTypeError(f"{text!r} is not an http(s) URL")
    return text


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{text}: use a port from 1 to 65535")
    return value


def run(args: argparse.Namespace) -> int:
    root: Path = args.root
    if root.exists() and not root.is_dir():
        print(
            f"error: --root {root} is a file; pass a folder (it is created if missing)",
            file=sys.stderr,
        )
        return 2
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S", stream=sys.stderr
    )
    from shared import composition
    from shared.errors import ConfigError
    from shared.host.runtime import LocalRuntime, RuntimeOptions

    try:
        env = dict(os.environ)
        if args.notify:
            env.update(NOTIFY_URL=args.notify, NOTIFY_FORMAT=args.notify_format)
        deps = composition.local_deps(root, env=env)
        runtime = LocalRuntime(
            root, options=RuntimeOptions(tick=args.tick, workers=args.workers), deps=deps
        )
    except ConfigError as e:
        print(f"error: {e.message}", file=sys.stderr)
        return 2
    except (FileNotFoundError, ImportError, AttributeError) as e:
        print(f"error: cannot load the functions: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"error: cannot use --root {root}: {e.strerror or e}", file=sys.stderr)
        return 2
    from shared.host.runtime import runtime_running

    if runtime_running(runtime.layout):
        print(
            f"error: another `gemini-tuning local` is already running on {root}; two would "
            "deliver the same messages twice. Stop it first, or pass another --root.",
            file=sys.stderr,
        )
        return 2
    page = None
    if args.port is not None:
        from shared.host.statuspage import StatusServer
        from shared.pipeline.watch import banner_lines

        try:
            page = StatusServer(
                runtime.layout, deps.store, args.port, banners=lambda: banner_lines(deps)
            )
        except OSError as e:
            print(
                f"error: cannot serve the status page on 127.0.0.1:{args.port}: "
                f"{e.strerror or e}; choose another --port",
                file=sys.stderr,
            )
            return 2
    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    runtime.start()
    if page is not None:
        page.start()
    incoming = runtime.layout.incoming
    print(
        f"Local pipeline running (Vertex AI simulated). Drop a dataset folder to start a run:\n"
        f"  cp -r my-dataset {incoming}/\n"
        f"Reports: {runtime.layout.artifacts}   State: {runtime.layout.state}\n"
        f"Status:  gemini-tuning status --root {runtime.layout.root} [--watch]   Stop: Ctrl-C"
        + (f"\nStatus page: {page.url}" if page is not None else "")
        + (f"\nNotifying: {args.notify_format} webhook" if args.notify else ""),
        file=sys.stderr,
        flush=True,
    )
    try:
        while not stop.wait(0.5) and not runtime.stopped.is_set():
            pass
    except KeyboardInterrupt:
        pass
    finally:
        print("stopping (finishing handlers in flight)...", file=sys.stderr, flush=True)
        if page is not None:
            page.stop()
        runtime.stop()
        signal.signal(signal.SIGTERM, previous)
    if runtime.failure is not None:
        print(f"error: {runtime.failure}", file=sys.stderr)
        return 2
    return 0
