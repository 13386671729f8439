"""The catalog check: does Vertex AI still offer what the catalog says, and what did it add?

Google retires models and adds new ones between releases of this project; a difference is a
warning (a `lifecycle-warning` message on run-events, sent once per difference, and a line on
the status page), never a silent change of behaviour: the catalog stays what the validator and
the launcher use until a person updates it (`MODEL_CATALOG_OVERRIDES`). Weekly from the poller,
and on demand with `gemini-tuning models --check`.

Three kinds of difference:

- `gone`: a catalog model that should still be served (not shut down, not past retirement)
  is unknown to Vertex AI at the tuning location;
- `new`: Vertex AI lists a Gemini model the catalog does not know (whether it can be tuned is
  not in the listing: check Google's supported-models page before adding it);
- `stage_changed`: a model's launch stage differs from the previous check's.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import date
from typing import Any, Literal

from shared import logs
from shared.catalog import Catalog
from shared.clock import age_seconds, utcnow
from shared.clock import today as utc_today
from shared.errors import PipelineError
from shared.events import LIFECYCLE_WARNING, encode_message
from shared.ports import Deps, ModelDirectory, PublisherModel

#: Where the last check's report lives (artifacts bucket): the status page's lines, the
#: previous launch stages, and when the check last ran.
REPORT = "lifecycle/catalog-check.json"
CHECK_EVERY_SECONDS = 7 * 24 * 3600
COMMAND = "gemini-tuning models --check"
DiffKind = Literal["gone", "new", "stage_changed"]


@dataclass(frozen=True)
class CatalogDifference:
    kind: DiffKind
    model: str
    launch_stage: str = ""
    previous_stage: str = ""

    @property
    def key(self) -> str:
        return f"catalog:{self.model}:{self.kind}:{self.launch_stage}"

    def message(self) -> str:
        if self.kind == "gone":
            return (
                f"Vertex AI no longer knows {self.model} at this deployment's tuning location, "
                "though the catalog says it is still served: it may have been retired early. "
                "Runs on it will fail; update its lifecycle (MODEL_CATALOG_OVERRIDES) and "
                "retune on another model"
            )
        if self.kind == "new":
            stage = f" ({self.launch_stage})" if self.launch_stage else ""
            return (
                f"Vertex AI lists {self.model}{stage}, which the catalog does not know: check "
                "whether it can be tuned (Vertex AI supervised tuning, supported models) and add "
                "it with MODEL_CATALOG_OVERRIDES to use it"
            )
        return (
            f"{self.model}'s launch stage changed from {self.previous_stage or 'unknown'} to "
            f"{self.launch_stage or 'unknown'}"
        )

    def to_dict(self, on: date) -> dict[str, Any]:
        """The `lifecycle-warning` body of a catalog difference (docs/run-events.md)."""
        return {
            "key": self.key,
            "model": self.model,
            "kind": f"catalog_{self.kind}",
            "date": on.isoformat(),
            "launch_stage": self.launch_stage,
            "command": COMMAND,
            "message": self.message(),
        }


@dataclass(frozen=True)
class CatalogReport:
    checked_at: str
    differences: tuple[CatalogDifference, ...]
    stages: Mapping[str, str] = field(default_factory=dict)  #: model -> launch stage seen
    listed: bool = True  #: False: the backend could not list, only catalog models were asked
    sent: tuple[str, ...] = ()  #: keys of the differences this check sent (not stored)

    def to_dict(self) -> dict[str, Any]:
        return {
            "checked_at": self.checked_at,
            "differences": [asdict(d) for d in self.differences],
            "stages": dict(self.stages),
            "listed": self.listed,
        }

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> CatalogReport:
        return cls(
            str(doc.get("checked_at") or ""),
            tuple(CatalogDifference(**d) for d in doc.get("differences") or []),
            dict(doc.get("stages") or {}),
            bool(doc.get("listed", True)),
        )


def expected_models(catalog: Catalog, today: date) -> list[str]:
    """Catalog models Vertex AI should still serve today (not shut down, not retired)."""
    return [m.name for m in catalog if m.status(today) != "retired"]


def compare(
    catalog: Catalog,
    found: Mapping[str, PublisherModel | None],
    listed: Sequence[PublisherModel] | None,
    previous: Mapping[str, str],
) -> list[CatalogDifference]:
    """Pure: the differences between what the catalog expects (`found`: each expected model's
    answer), what Vertex lists, and the launch stages of the previous check."""
    out: list[CatalogDifference] = []
    for name, model in sorted(found.items()):
        if model is None:
            out.append(CatalogDifference("gone", name))
        elif name in previous and model.launch_stage and previous[name] != model.launch_stage:
            out.append(CatalogDifference("stage_changed", name, model.launch_stage, previous[name]))
    for model in listed or ():
        if catalog.get(model.name) is None:
            out.append(CatalogDifference("new", model.name, model.launch_stage))
    return out


def ask(
    catalog: Catalog, directory: ModelDirectory, today: date, previous: Mapping[str, str]
) -> CatalogReport:
    """Ask `directory` about every expected catalog model and for its Gemini listing; the
    differences, not stored or sent (`models --check` shows them; `check_catalog` keeps them)."""
    found = {name: directory.get(name) for name in expected_models(catalog, today)}
    listed = directory.list_gemini()
    diffs = compare(catalog, found, listed, previous)
    stages = {n: m.launch_stage for n, m in found.items() if m is not None}
    stages.update({m.name: m.launch_stage for m in listed or ()})
    return CatalogReport(utcnow(), tuple(diffs), stages, listed is not None)


def stored_report(deps: Deps) -> CatalogReport | None:
    s = deps.settings
    if deps.blobs.stat(s.artifacts_bucket, REPORT) is None:
        return None
    try:
        doc = json.loads(deps.blobs.read_bytes(s.artifacts_bucket, REPORT))
        return CatalogReport.from_dict(doc)
    except (ValueError, TypeError):
        return None  # unreadable: the next check writes a new one


def due(deps: Deps) -> bool:
    """A week since the last stored check (or none yet)."""
    report = stored_report(deps)
    age = age_seconds(report.checked_at) if report is not None else None
    return age is None or age >= CHECK_EVERY_SECONDS


def check_catalog(deps: Deps, *, publish: bool = True, today: date | None = None) -> CatalogReport:
    """Ask the directory, compare, store the report, and send each new difference once."""
    from .lifecycle import send_once

    day = today or utc_today()
    before = stored_report(deps)
    previous = dict(before.stages) if before is not None else {}
    report = ask(deps.settings.catalog, deps.directory, day, previous)
    diffs = report.differences
    s = deps.settings
    deps.blobs.write_bytes(
        s.artifacts_bucket,
        REPORT,
        json.dumps(report.to_dict(), ensure_ascii=False, indent=1).encode(),
        content_type="application/json",
    )
    sent: list[str] = []
    for d in diffs if publish else ():
        data, attrs = encode_message(LIFECYCLE_WARNING, None, d.to_dict(day))
        attrs.update(kind=f"catalog_{d.kind}", model=d.model)
        if send_once(deps, d.key, data, attrs):
            logs.warning(f"catalog check: {d.message()}")
            sent.append(d.key)
    return replace(report, sent=tuple(sent))


def banner_lines(deps: Deps) -> list[str]:
    """The last check's differences, one line each, for the status page and the terminal."""
    try:
        report = stored_report(deps)
    except PipelineError as e:
        logs.warning(f"catalog check report not read: {e.message}")
        return []
    if report is None:
        return []
    when = report.checked_at[:10]
    return [f"CATALOG ({when}): {d.message()}" for d in report.differences]
