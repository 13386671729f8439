"""Typed run changes for tests: `job(state="RUNNING")` sets fields of the run's `job` section.

Setting an unknown field fails (a typo must not pass silently), like the steps' own changes.
"""

from __future__ import annotations

from typing import Any

from shared.runs import Change, Run, RunError


def _section(name: str, values: dict[str, Any]) -> Change:
    def change(r: Run) -> None:
        target = getattr(r, name)
        for key, value in values.items():
            if not hasattr(target, key):
                raise AttributeError(f"run.{name} has no field {key!r}")
            setattr(target, key, value)

    return change


def job(**values: Any) -> Change:
    return _section("job", values)


def validation(**values: Any) -> Change:
    return _section("validation", values)


def error(stage: str = "test", code: str = "test", message: str = "") -> Change:
    def change(r: Run) -> None:
        r.error = RunError(stage, code, message)

    return change
