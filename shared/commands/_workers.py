"""`--workers N`, parsed the same way by every command that takes it: a whole number in range,
and 0 refused with what to write instead (0 handlers would leave every run waiting forever; 0
validator processes would validate nothing)."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable

#: `validate --workers auto`: one process per core, at most this many (each maps the file).
AUTO_WORKERS_MAX = 8


def workers_type(hi: int, *, auto: bool = False) -> Callable[[str], int]:
    """An argparse `type` for 1..hi (and `auto` when `auto`: one per core, at most
    `AUTO_WORKERS_MAX`); every refusal names the accepted values."""
    accepted = f"a whole number from 1 to {hi}" + (" or auto (one per core)" if auto else "")

    def parse(text: str) -> int:
        if auto and text.strip().lower() == "auto":
            return min(AUTO_WORKERS_MAX, os.cpu_count() or 1)
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {accepted}") from None
        if value == 0:
            raise argparse.ArgumentTypeError(f"0 workers would do nothing: use {accepted}")
        if not 1 <= value <= hi:
            raise argparse.ArgumentTypeError(f"{value} is out of range: use {accepted}")
        return value

    return parse
