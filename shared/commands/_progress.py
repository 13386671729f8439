"""The byte progress bar of the commands that read large files (`validate`, `prepare`)."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable


def byte_progress(
    label: str, total: int, stack: contextlib.ExitStack
) -> Callable[[int], None] | None:
    """A rich progress bar (bytes, rate, ETA) on stderr, only when stderr is a terminal: the
    returned function takes the bytes done so far. None when there is nothing to show."""
    if not sys.stderr.isatty() or not total:
        return None
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    bar = Progress(
        label,
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    )
    stack.enter_context(bar)
    task = bar.add_task(label, total=total)

    def update(done: int) -> None:
        bar.update(task, completed=done)

    return update
