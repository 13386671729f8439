"""Retirement watch: warn before a tuned model stops answering because its base model retires.

A tuned model is discontinued with its base model (Vertex AI "Model versions and lifecycle"),
and Vertex refuses new tuning on it one month before that, so a team that learns the date from
its players has already lost the month it needed to retune. `lifecycle_warnings` is pure: from
the production record, the SUCCEEDED runs, the catalog and today it says which (model, kind,
threshold) warnings are due. `check_lifecycle` sends each one once: a create-only marker object
per key in the artifacts bucket (`lifecycle/warnings/<key>.json`) is claimed before the
`lifecycle-warning` message goes out, so many poller ticks (or two pollers) send it once.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

from shared import logs
from shared.catalog import Catalog
from shared.clock import today as utc_today
from shared.clock import utcnow
from shared.errors import PipelineError, PreconditionFailed
from shared.events import LIFECYCLE_WARNING, encode_message
from shared.ports import Deps, Promotion
from shared.runs import Run, RunStatus

#: Days before the end (or the tuning block) at which one warning each is sent.
THRESHOLDS = (90, 30, 7)
#: `retirement`: the tuned model stops answering; `tuning_block`: Vertex refuses new tuning.
Kind = Literal["retirement", "tuning_block"]
#: The poller runs the check on its first tick after a start, then once per this many seconds.
CHECK_EVERY_SECONDS = 24 * 3600
MARKERS = "lifecycle/warnings/"


@dataclass(frozen=True)
class LifecycleWarning:
    """One due warning about one base model; `key` is what makes it be sent once."""

    model: str
    kind: Kind
    threshold: int  #: 90, 30 or 7: the tightest threshold the date is within
    on: date  #: the retirement date, or the first day new tuning is refused
    days_left: int
    replacement: str | None
    runs: tuple[str, ...]  #: runs whose model is tuned on `model` (production first)
    production_run: str | None  #: the production run, when it is among them

    @property
    def key(self) -> str:
        return f"{self.model}:{self.kind}:{self.threshold}"

    @property
    def command(self) -> str:
        run = self.production_run or self.runs[0]
        model = f" --model {self.replacement}" if self.replacement else " --model MODEL"
        return f"gemini-tuning retune {run}{model}"

    def message(self) -> str:
        """One sentence for people: what ends when, what replaces it, what to run."""
        who = (
            f"the production model (run {self.production_run})"
            if self.production_run
            else f"{len(self.runs)} tuned model(s) (run {', '.join(self.runs[:3])})"
        )
        if self.kind == "retirement":
            what = (
                f"{self.model} retires on {self.on.isoformat()} (in {self.days_left} days): "
                f"{who} is tuned on it and stops answering then"
            )
        else:
            what = (
                f"Vertex AI refuses new tuning on {self.model} from {self.on.isoformat()} (in "
                f"{self.days_left} days), a month before it retires: {who} is tuned on it"
            )
        instead = (
            f"; the catalog's replacement is {self.replacement}"
            if self.replacement
            else "; the catalog names no replacement (pick one with `gemini-tuning models`)"
        )
        return f"{what}{instead}. Retune now: {self.command}"

    def to_dict(self) -> dict[str, Any]:
        """The `lifecycle-warning` message body (docs/run-events.md)."""
        return {
            "key": self.key,
            "model": self.model,
            "kind": self.kind,
            "threshold_days": self.threshold,
            "date": self.on.isoformat(),
            "days_left": self.days_left,
            "replacement": self.replacement,
            "runs": list(self.runs),
            "production_run": self.production_run,
            "command": self.command,
            "message": self.message(),
        }


def _threshold(days_left: int) -> int | None:
    """The tightest threshold `days_left` is within (20 -> 30), None when not yet or past."""
    if days_left < 0:
        return None
    inside = [t for t in THRESHOLDS if days_left <= t]
    return min(inside) if inside else None


def lifecycle_warnings(
    production: Promotion | None, runs: Sequence[Run], catalog: Catalog, today: date
) -> list[LifecycleWarning]:
    """The warnings due today for the production model's and every SUCCEEDED run's base model.
    Only the tightest threshold per (model, kind) is due: 20 days left is the 30-day warning,
    not the 90-day one as well."""
    from shared.pipeline.promote import base_model_of

    by_model: dict[str, list[str]] = {}
    prod_of: dict[str, str] = {}
    if production is not None:
        name = catalog.normalize(production.base_model)
        by_model.setdefault(name, []).append(production.run_id)
        prod_of[name] = production.run_id
    for run in runs:
        if run.status != RunStatus.SUCCEEDED:
            continue
        name = catalog.normalize(base_model_of(run))
        ids = by_model.setdefault(name, [])
        if run.run_id not in ids:
            ids.append(run.run_id)
    out: list[LifecycleWarning] = []
    for name in sorted(by_model):
        info = catalog.get(name)
        if info is None or info.lifecycle.retires is None:
            continue
        lc = info.lifecycle
        dates: list[tuple[Kind, date | None]] = [
            ("retirement", lc.retires),
            ("tuning_block", lc.tuning_blocked_from),
        ]
        for kind, on in dates:
            if on is None:
                continue
            left = (on - today).days
            threshold = _threshold(left)
            if threshold is None:
                continue
            runs_on = tuple(by_model[name])
            out.append(
                LifecycleWarning(
                    name, kind, threshold, on, left, lc.replacement, runs_on, prod_of.get(name)
                )
            )
    return out


def current_warnings(
    deps: Deps, today: date | None = None, *, all_runs: bool = True
) -> list[LifecycleWarning]:
    """The warnings due now for this deployment, whether or not the poller has sent them yet.
    `all_runs` False: the production model's only (one read, what the status page can afford
    on every reload); the poller's daily check reads every SUCCEEDED run."""
    runs = deps.store.list_by_status([RunStatus.SUCCEEDED]) if all_runs else []
    return lifecycle_warnings(
        deps.production.current(), runs, deps.settings.catalog, today or utc_today()
    )


def banner_lines(deps: Deps) -> list[str]:
    """One line per due warning about the production model, for the status page and the
    terminal; never raises (a store that cannot be read leaves the banner out, not the page)."""
    try:
        return [f"LIFECYCLE: {w.message()}" for w in current_warnings(deps, all_runs=False)]
    except PipelineError as e:
        logs.warning(f"lifecycle banner not computed: {e.message}")
        return []


def _marker(key: str) -> str:
    return MARKERS + key.replace(":", "-").replace("/", "_") + ".json"


def _claim(deps: Deps, key: str) -> str | None:
    """Claim the right to send `key`: the marker's generation, or None when it was sent
    already. A claim whose send failed is left `unsent` and can be claimed again."""
    s, name = deps.settings, _marker(key)
    data = json.dumps({"key": key, "state": "claimed", "at": utcnow()}).encode()
    try:
        return deps.blobs.write_bytes(
            s.artifacts_bucket, name, data, content_type="application/json", if_generation_match="0"
        ).generation
    except PreconditionFailed:
        pass
    info = deps.blobs.stat(s.artifacts_bucket, name)
    if info is None:
        return None
    try:
        state = json.loads(deps.blobs.read_bytes(s.artifacts_bucket, name)).get("state")
    except (PipelineError, ValueError):
        return None
    if state != "unsent":
        return None
    try:
        return deps.blobs.write_bytes(
            s.artifacts_bucket, name, data, content_type="application/json",
            if_generation_match=info.generation,
        ).generation  # fmt: skip
    except PreconditionFailed:
        return None  # another poller claimed it


def send_once(deps: Deps, key: str, data: bytes, attrs: dict[str, str]) -> bool:
    """Publish a warning on run-events unless `key` was sent before; True when this call sent
    it. The marker is claimed first, so two pollers never both send it."""
    generation = _claim(deps, key)
    if generation is None:
        return False
    s = deps.settings
    try:
        deps.bus.publish(s.topic_run_events, data, attrs)
    except PipelineError as e:
        logs.warning(f"warning {key} not published: {e.message}")
        undo = json.dumps({"key": key, "state": "unsent", "at": utcnow()}).encode()
        with contextlib.suppress(PipelineError):  # the next check sees `claimed`: skipped
            deps.blobs.write_bytes(
                s.artifacts_bucket, _marker(key), undo, content_type="application/json",
                if_generation_match=generation,
            )  # fmt: skip
        return False
    return True


def check_lifecycle(deps: Deps, today: date | None = None) -> list[LifecycleWarning]:
    """Send every due warning not sent before; returns the ones this call sent."""
    sent: list[LifecycleWarning] = []
    for w in current_warnings(deps, today):
        data, attrs = encode_message(LIFECYCLE_WARNING, w.production_run or w.runs[0], w.to_dict())
        attrs.update(kind=w.kind, model=w.model, threshold_days=str(w.threshold))
        if send_once(deps, w.key, data, attrs):
            logs.warning(f"lifecycle: {w.message()}")
            sent.append(w)
    return sent


class Daily:
    """Due on the first call after the process started, then once per `every` seconds."""

    def __init__(self, every: float = CHECK_EVERY_SECONDS) -> None:
        self.every = every
        self.last: float | None = None

    def due(self, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        if self.last is not None and now - self.last < self.every:
            return False
        self.last = now
        return True
