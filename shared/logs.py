"""Logging that Cloud Logging understands and a terminal user can read.

On Cloud Functions a JSON line on stdout with `severity` and `message` becomes a structured log
entry (labels searchable, `run_id` filterable); locally the same call prints a short text line.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

_LEVELS = {"DEBUG": 10, "INFO": 20, "WARNING": 30, "ERROR": 40}
_level: str | None = None


def set_level(level: str | None) -> None:
    """Hide entries below `level` in this process (the demo's clean output); None: LOG_LEVEL."""
    global _level
    _level = level


def log(severity: str, message: str, **fields: Any) -> None:
    """Emit one log entry. `fields` (run_id, event_id, stage...) become structured payload.
    `LOG_LEVEL` (default INFO) hides quieter entries, e.g. for the demo's clean output."""
    threshold = _LEVELS.get((_level or os.environ.get("LOG_LEVEL", "INFO")).upper(), 20)
    if _LEVELS.get(severity, 20) < threshold:
        return
    if os.environ.get("BACKEND", "local") == "gcp" or os.environ.get("LOG_FORMAT") == "json":
        entry = {"severity": severity, "message": message, **fields}
        print(json.dumps(entry, ensure_ascii=False, default=str), flush=True)
        return
    extra = " ".join(f"{k}={v}" for k, v in fields.items() if v is not None)
    print(
        f"[{severity.lower():7}] {message}" + (f"  ({extra})" if extra else ""),
        file=sys.stderr,
        flush=True,
    )


def info(message: str, **fields: Any) -> None:
    log("INFO", message, **fields)


def warning(message: str, **fields: Any) -> None:
    log("WARNING", message, **fields)


def error(message: str, **fields: Any) -> None:
    log("ERROR", message, **fields)
