"""Knobs of the Vertex AI simulator: training time and fault injection.

Three sources, later wins: defaults, environment variables (`SIM_*`, set when the local runtime
starts), and the control file `<root>/state/simulator.json`, which is re-read whenever it changes
so faults can be switched on while a demo runs. Bad values are `ConfigError`s that name the
setting and say what to write instead.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

from shared.errors import ConfigError

#: Vertex's own wording for an internal training failure (what the poller will show).
DEFAULT_FAIL_MESSAGE = (
    "Internal error occurred. Please retry in a few minutes. "
    "If you still experience errors, contact Vertex AI."
)

#: Environment variable -> field name; the control file uses the field names as keys.
ENV_VARS: dict[str, str] = {
    "SIM_TRAINING_SECONDS": "training_seconds",
    "SIM_QUEUED_FRACTION": "queued_fraction",
    "SIM_CANCEL_SECONDS": "cancel_seconds",
    "SIM_FAIL_JOBS": "fail_jobs",
    "SIM_FAIL_MESSAGE": "fail_message",
    "SIM_TRANSIENT_ERRORS": "transient_errors",
    "SIM_QUOTA": "quota",
    "SIM_PERMANENT_ERROR": "permanent_error",
    "SIM_MODELS_TRANSIENT_ERRORS": "models_transient_errors",
    "SIM_BATCH_SECONDS": "batch_seconds",
}

_ALL = frozenset({"1", "true", "yes", "all", "*"})


@dataclass(frozen=True)
class SimConfig:
    """What the simulator does. Every field has a safe default: no faults, ~10 s jobs.

    - `fail_jobs`: None (no failures), "all"/"1"/"true"/"*" (every job) or a glob matched
      against the job's display name, e.g. "*-bad-*". Failing jobs run their full time first.
    - `transient_errors`: the first k Tuner calls raise `TransientError("503 ...")`; the budget
      is shared by every process on the same root and re-arms when the value changes.
    - `quota`: at most N jobs active at once; one more raises `QuotaExceeded` (429).
    - `permanent_error`: create_job raises `PermanentError("400 <this text>")`.
    - `models_transient_errors`: like `transient_errors`, for generate / count_tokens.
    - `batch_seconds`: how long a batch inference job runs; `fail_jobs` fails those too.
    """

    training_seconds: float = 10.0
    queued_fraction: float = 0.1
    cancel_seconds: float = 1.0
    fail_jobs: str | None = None
    fail_message: str = DEFAULT_FAIL_MESSAGE
    transient_errors: int = 0
    quota: int | None = None
    permanent_error: str | None = None
    models_transient_errors: int = 0
    #: How long a simulated batch inference job takes (PENDING, then RUNNING, then done).
    batch_seconds: float = 3.0

    def fails(self, display_name: str) -> bool:
        """Whether a job with this display name is made to fail."""
        if not self.fail_jobs:
            return False
        if self.fail_jobs.strip().lower() in _ALL:
            return True
        return fnmatchcase(display_name, self.fail_jobs)

    def with_values(self, raw: Mapping[str, Any], *, source: str) -> SimConfig:
        """A copy with `raw` (field name -> value, strings allowed) validated and applied."""
        known = {f.name for f in fields(self)}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise ConfigError(
                f"{source}: unknown simulator setting(s) {', '.join(map(repr, unknown))}. "
                f"Allowed: {', '.join(sorted(known))}."
            )
        return replace(self, **{k: _coerce(k, v, source) for k, v in raw.items()})


def _coerce(name: str, value: Any, source: str) -> Any:
    where = f"{source}: {name}={value!r}"
    if name in ("training_seconds", "cancel_seconds", "batch_seconds"):
        num = _number(where, value)
        if not 0 <= num <= 7 * 24 * 3600:
            raise ConfigError(f"{where} is out of range. Use seconds from 0 to 604800.")
        return num
    if name == "queued_fraction":
        num = _number(where, value)
        if not 0 <= num <= 1:
            raise ConfigError(f"{where} is out of range. Use a fraction from 0 to 1.")
        return num
    if name in ("transient_errors", "models_transient_errors"):
        return _whole(where, value, lo=0)
    if name == "quota":
        if value is None or (isinstance(value, str) and value.strip() == ""):
            return None
        return _whole(where, value, lo=1)
    # Text settings: empty means "off".
    if value is None or value is False:
        return None if name != "fail_message" else DEFAULT_FAIL_MESSAGE
    if value is True and name == "fail_jobs":
        return "all"
    if not isinstance(value, str):
        raise ConfigError(f"{where}: expected text. Write it as a quoted string.")
    text = value.strip()
    if name == "fail_message":
        return text or DEFAULT_FAIL_MESSAGE
    return text or None


def _number(where: str, value: Any) -> float:
    try:
        num = float(value) if isinstance(value, str) else value
    except ValueError:
        num = None
    if isinstance(num, bool) or not isinstance(num, int | float) or not math.isfinite(num):
        raise ConfigError(f"{where} is not a number. Write a number of seconds such as 2.5.")
    return float(num)


def _whole(where: str, value: Any, *, lo: int) -> int:
    try:
        num = int(value.strip()) if isinstance(value, str) else value
    except ValueError:
        num = None
    if isinstance(num, bool) or not isinstance(num, int) or num < lo:
        raise ConfigError(f"{where} is not a whole number >= {lo}. Write one, e.g. {lo + 2}.")
    return num


def from_env(base: SimConfig, env: Mapping[str, str] | None = None) -> SimConfig:
    """`base` with every `SIM_*` variable that is set (and non-empty) applied."""
    e = os.environ if env is None else env
    for var, name in ENV_VARS.items():
        if e.get(var, "").strip():
            base = base.with_values({name: e[var]}, source=var)
    return base


def read_control_file(path: Path) -> dict[str, Any]:
    """The control file's settings; {} when it does not exist."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the simulator control file ({exc}).") from None
    try:
        data = json.loads(text) if text.strip() else {}
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"{path}: not valid JSON ({exc.msg} at line {exc.lineno}). "
            'Write an object such as {"training_seconds": 5, "fail_jobs": "all"}.'
        ) from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a JSON object of simulator settings.")
    return data


class ConfigSource:
    """The effective config: a fixed base plus the control file, re-read when it changes."""

    def __init__(self, base: SimConfig, control_file: Path | None = None) -> None:
        self._base = base
        self._path = control_file
        self._stamp: tuple[int, int] | None = None
        self._current = base

    def get(self) -> SimConfig:
        if self._path is None:
            return self._current
        try:
            st = self._path.stat()
            stamp: tuple[int, int] | None = (st.st_mtime_ns, st.st_size)
        except FileNotFoundError:
            stamp = None
        if stamp != self._stamp:
            raw = read_control_file(self._path) if stamp is not None else {}
            self._current = self._base.with_values(raw, source=str(self._path))
            self._stamp = stamp
        return self._current
