"""The model catalog: which Gemini models can be tuned, their limits, and where they are in life.

Google adds models and retires old ones every few months, so the facts are data
(`shared/catalog.json`, each with its source and the date it was read), never literals in the
validator or the launcher, and a deployment can override or add models without a release:
`MODEL_CATALOG_OVERRIDES` holds JSON (inline, or a path to a file) in the same shape as the
`models` section, merged field by field over the built-in entries, e.g.

    {"gemini-3.5-flash": {"price_per_million_training_tokens": 4.0},
     "gemini-3.9-flash": {"display_name": "...", "limits": {...}, "lifecycle": {...}}}

Where each model answers is data too (`serving`: the locations that serve the base model and a
model tuned on it, `hosts`: the host of each location, taken from the Vertex AI discovery
document), so every Vertex call picks its location here and a team can see where its data goes.

Lifecycle rules (Vertex AI "Model versions and lifecycle"): a tuned model shares its base model's
retirement date, and Vertex blocks *new* tuning one month before it, so a model inside that month
is refused like a retired one; within `WARN_DAYS` of the block the run is warned.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from functools import cache
from importlib import resources
from typing import Any, Literal

from shared.errors import ConfigError

MB = 1024 * 1024
GB = 1024 * MB
#: Vertex blocks new tuning jobs this long before a base model's retirement date.
TUNING_BLOCK_DAYS = 30
#: Warn when a model's tuning block starts within this many days.
WARN_DAYS = 60

Status = Literal["available", "retiring", "blocked", "retired", "unlisted"]


@dataclass(frozen=True)
class ModelLimits:
    """What Vertex AI accepts for supervised tuning of one base model (what the validator reads)."""

    name: str
    max_tokens_per_example: int
    max_validation_examples: int
    max_training_file_bytes: int
    adapter_sizes: tuple[int, ...]
    #: With more than `VALIDATION_FRACTION_FROM` validation examples, they may also be at most
    #: this share of the training examples (None: no such rule).
    max_validation_fraction: float | None = None
    max_training_examples: int = 10_000_000
    max_multimodal_training_examples: int = 300_000
    max_images_per_example: int = 30
    max_image_bytes: int = 20 * MB
    max_audio_per_example: int = 1
    max_pdfs_per_example: int = 4
    max_videos_per_example: int = 1
    # USD per 1M training tokens; None where no public price is known to us.
    training_price_per_million_tokens: float | None = None
    #: USD per 1M input / output tokens of online prediction (the evaluation's own cost);
    #: None where no public price is known to us (MODEL_CATALOG_OVERRIDES can add them).
    input_price_per_million_tokens: float | None = None
    output_price_per_million_tokens: float | None = None
    #: The same at batch-inference prices (the catalog's `batch.discount` off the online price
    #: unless the model gives its own `price_per_million_batch_*_tokens`).
    batch_input_price_per_million_tokens: float | None = None
    batch_output_price_per_million_tokens: float | None = None

    def prices(self, *, batch: bool) -> tuple[float | None, float | None]:
        """(input, output) USD per 1M tokens, online or at batch prices."""
        if batch:
            return (
                self.batch_input_price_per_million_tokens,
                self.batch_output_price_per_million_tokens,
            )
        return self.input_price_per_million_tokens, self.output_price_per_million_tokens


#: The fraction rule applies only above this many validation examples.
VALIDATION_FRACTION_FROM = 1000


@dataclass(frozen=True)
class Lifecycle:
    released: date | None = None
    retires: date | None = None  #: earliest announced retirement (None: not announced)
    shut_down: bool = False  #: gone, with no date on record
    replacement: str | None = None

    @property
    def tuning_blocked_from(self) -> date | None:
        return None if self.retires is None else self.retires - timedelta(days=TUNING_BLOCK_DAYS)


@dataclass(frozen=True)
class Thinking:
    """How to turn thinking off or to its minimum for a fair, cheap evaluation of tuned models:
    `budget` (2.5: `thinking_budget`, an int) or `level` (3.x: `thinking_level`, a name)."""

    control: Literal["budget", "level"]
    lowest: int | str


def lowest_thinking(info: ModelInfo | None) -> tuple[int | None, str | None]:
    """(thinking_budget, thinking_level) that turn thinking off or to its minimum for this
    model family; at most one is set (both None when the catalog does not know)."""
    if info is None or info.thinking is None:
        return None, None
    if info.thinking.control == "budget":
        return int(info.thinking.lowest), None
    return None, str(info.thinking.lowest)


#: In a `serving` list: the deployment's own region (`VERTEX_LOCATION`).
TUNING_REGION = "@tuning"
ServingKind = Literal["base", "tuned"]


@dataclass(frozen=True)
class Serving:
    """Locations that answer for the base model and for a model tuned on it, in the catalog's
    order (`TUNING_REGION` stands for the deployment's region)."""

    base: tuple[str, ...]
    tuned: tuple[str, ...]


@dataclass(frozen=True)
class ServingPlace:
    location: str
    host: str


def resource_location(name: str) -> str | None:
    """The location a resource name names (`projects/p/locations/us/endpoints/7` -> "us"), or
    None for a name without one (`publishers/google/models/x`, a short model name)."""
    parts = name.strip().split("/")
    for i, part in enumerate(parts[:-1]):
        if part == "locations" and parts[i + 1]:
            return parts[i + 1]
    return None


@dataclass(frozen=True)
class ModelInfo:
    name: str
    display_name: str
    limits: ModelLimits
    lifecycle: Lifecycle
    tuning_regions: tuple[str, ...] | None = None  #: None: not recorded (no region check)
    serving: Serving | None = None  #: None: not recorded (calls go to the deployment region)
    thinking: Thinking | None = None
    #: True: Vertex keeps a checkpoint about every epoch (screening can pick one); None: unknown.
    checkpoints_per_epoch: bool | None = None
    sources: Mapping[str, str] = field(default_factory=dict)  #: fact -> source key

    def status(self, today: date) -> Status:
        lc = self.lifecycle
        if lc.shut_down or (lc.retires is not None and today >= lc.retires):
            return "retired"
        blocked = lc.tuning_blocked_from
        if blocked is not None and today >= blocked:
            return "blocked"
        if blocked is not None and (blocked - today).days <= WARN_DAYS:
            return "retiring"
        return "available"


@dataclass(frozen=True)
class ModelProblem:
    """One reason a model cannot (error) or should not (warning) be tuned here today."""

    severity: Literal["error", "warning"]
    code: str
    message: str


@dataclass(frozen=True)
class EpochRange:
    """The epochs Vertex AI may choose when tuning.yaml leaves `epoch` unset (it picks them from
    the dataset size); `documented` False: Google publishes no range, this is a rule of thumb."""

    low: int
    high: int
    source: str
    documented: bool = False


@dataclass(frozen=True)
class Catalog:
    models: Mapping[str, ModelInfo]
    default_model: str
    sources: Mapping[str, Mapping[str, Any]]
    allow_unlisted: bool = False
    #: location -> host (no scheme), from the Vertex AI discovery document.
    hosts: Mapping[str, str] = field(default_factory=dict)
    #: multi-region -> region prefixes it keeps data inside (`jurisdictions` in catalog.json).
    jurisdictions: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    #: `epochs_when_unset` in catalog.json (None: not recorded; estimates then say so).
    epochs_when_unset: EpochRange | None = None

    def __iter__(self) -> Iterator[ModelInfo]:
        return iter(self.models.values())

    def normalize(self, name: str) -> str:
        """Accept the forms people paste: `gemini-3.5-flash`, `gemini-3.5-flash-001`,
        `publishers/google/models/gemini-3.5-flash`, `projects/.../models/gemini-3.5-flash`."""
        short = name.strip().rsplit("/", 1)[-1]
        if short in self.models:
            return short
        for known in sorted(self.models, key=len, reverse=True):  # a version suffix: -001
            if short.startswith(known + "-") and short[len(known) + 1 :][:1].isdigit():
                return known
        return short

    def get(self, name: str) -> ModelInfo | None:
        return self.models.get(self.normalize(name))

    def limits_for(self, name: str) -> ModelLimits | None:
        info = self.get(name)
        return None if info is None else info.limits

    def problems(self, name: str, *, location: str | None, today: date) -> list[ModelProblem]:
        """Why `name` cannot or should not be tuned in `location` on `today` (empty: fine)."""
        info = self.get(name)
        if info is None:
            if self.allow_unlisted:
                return [
                    ModelProblem(
                        "warning",
                        "model_unlisted",
                        f"{name!r} is not in the model catalog; this deployment allows unlisted "
                        "models, so limits, lifecycle and price are not checked.",
                    )
                ]
            return [
                ModelProblem(
                    "error",
                    "model_unknown",
                    f"{name!r} is not a tunable Gemini model this deployment knows. Use one of: "
                    f"{', '.join(self.tunable(today))} (`gemini-tuning models` lists them).",
                )
            ]
        out: list[ModelProblem] = []
        status = info.status(today)
        lc = info.lifecycle
        instead = f" Use {lc.replacement} instead." if lc.replacement else ""
        if status == "retired":
            when = f" on {lc.retires.isoformat()}" if lc.retires else ""
            out.append(
                ModelProblem(
                    "error",
                    "model_retired",
                    f"{info.name} was retired{when}; Vertex AI no longer tunes it.{instead}",
                )
            )
        elif status == "blocked":
            assert lc.retires is not None
            out.append(
                ModelProblem(
                    "error",
                    "model_retiring_blocked",
                    f"{info.name} retires on {lc.retires.isoformat()} and Vertex AI refuses new "
                    f"tuning jobs in the last {TUNING_BLOCK_DAYS} days before that.{instead}",
                )
            )
        elif status == "retiring":
            assert lc.retires is not None
            out.append(
                ModelProblem(
                    "warning",
                    "model_retiring",
                    f"{info.name} retires on {lc.retires.isoformat()} (new tuning is blocked from "
                    f"{lc.tuning_blocked_from}); a model tuned on it retires with it.{instead}",
                )
            )
        if location and info.tuning_regions is not None and location not in info.tuning_regions:
            out.append(
                ModelProblem(
                    "error",
                    "model_not_in_region",
                    f"{info.name} can be tuned only in {', '.join(info.tuning_regions)}; this "
                    f"deployment tunes in {location} (VERTEX_LOCATION). Choose another model or "
                    "deploy to one of those regions.",
                )
            )
        return out

    def host(self, location: str) -> str:
        """The Vertex AI host serving `location` (no scheme), from the catalog's host table."""
        host = self.hosts.get(location)
        if host is None:
            raise ConfigError(
                f"Vertex AI has no endpoint for location {location!r} in the catalog's host table "
                f"(known: {', '.join(sorted(self.hosts))}). Check VERTEX_LOCATION and the model's "
                "serving locations (MODEL_CATALOG_OVERRIDES)."
            )
        return host

    def serving_locations(self, name: str, kind: ServingKind, region: str) -> list[str]:
        """Where `name`'s base or tuned model answers for a deployment in `region`, in catalog
        order (a model without `serving` answers in the deployment region)."""
        info = self.get(name)
        listed = (
            (TUNING_REGION,)
            if info is None or info.serving is None
            else getattr(info.serving, kind)
        )
        out: list[str] = []
        for loc in listed:
            loc = region if loc == TUNING_REGION else loc
            if loc not in out:
                out.append(loc)
        return out

    def serving_location(self, name: str, kind: ServingKind, region: str) -> str:
        """The one location a call to `name` uses from a deployment in `region`: the region
        itself when it serves the model, else the multi-region that keeps the call in the
        region's jurisdiction, else the first location the catalog lists."""
        places = self.serving_locations(name, kind, region)
        if region in places:
            return region
        for multi, prefixes in self.jurisdictions.items():
            if multi in places and region.startswith(prefixes):
                return multi
        return places[0]

    def serving_places(self, name: str, kind: ServingKind, region: str) -> list[ServingPlace]:
        return [
            ServingPlace(loc, self.host(loc)) for loc in self.serving_locations(name, kind, region)
        ]

    def tunable(self, today: date) -> list[str]:
        return [m.name for m in self if m.status(today) in ("available", "retiring")]


# ---- loading -------------------------------------------------------------------------------


def _date(v: Any, where: str) -> date | None:
    if v is None:
        return None
    try:
        return date.fromisoformat(str(v))
    except ValueError:
        raise ConfigError(f"{where}: {v!r} is not a date; write YYYY-MM-DD.") from None


def _discounted(price: Any, discount: float) -> float | None:
    return None if price is None else round(float(price) * (1 - discount), 6)


def _model(name: str, raw: Mapping[str, Any], batch_discount: float = 0.0) -> ModelInfo:
    where = f"model catalog: {name}"
    try:
        lim = dict(raw["limits"])
        batch_in = raw.get("price_per_million_batch_input_tokens")
        batch_out = raw.get("price_per_million_batch_output_tokens")
        limits = ModelLimits(
            name=name,
            max_tokens_per_example=int(lim["max_tokens_per_example"]),
            max_validation_examples=int(lim["max_validation_examples"]),
            max_training_file_bytes=int(lim["max_training_file_bytes"]),
            adapter_sizes=tuple(int(a) for a in lim["adapter_sizes"]),
            max_validation_fraction=lim.get("max_validation_fraction"),
            max_training_examples=int(lim.get("max_training_examples", 10_000_000)),
            max_multimodal_training_examples=int(
                lim.get("max_multimodal_training_examples", 300_000)
            ),
            training_price_per_million_tokens=raw.get("price_per_million_training_tokens"),
            input_price_per_million_tokens=raw.get("price_per_million_input_tokens"),
            output_price_per_million_tokens=raw.get("price_per_million_output_tokens"),
            batch_input_price_per_million_tokens=(
                batch_in
                if batch_in is not None
                else _discounted(raw.get("price_per_million_input_tokens"), batch_discount)
            ),
            batch_output_price_per_million_tokens=(
                batch_out
                if batch_out is not None
                else _discounted(raw.get("price_per_million_output_tokens"), batch_discount)
            ),
        )
        lc = raw.get("lifecycle") or {}
        th = raw.get("thinking")
        return ModelInfo(
            name=name,
            display_name=str(raw.get("display_name") or name),
            limits=limits,
            lifecycle=Lifecycle(
                released=_date(lc.get("released"), f"{where}.lifecycle.released"),
                retires=_date(lc.get("retires"), f"{where}.lifecycle.retires"),
                shut_down=bool(lc.get("shut_down", False)),
                replacement=lc.get("replacement"),
            ),
            tuning_regions=tuple(raw["tuning_regions"]) if raw.get("tuning_regions") else None,
            serving=_serving(raw.get("serving"), where),
            thinking=Thinking(th["control"], th["lowest"]) if th else None,
            checkpoints_per_epoch=raw.get("checkpoints_per_epoch"),
            sources=dict(raw.get("sources") or {}),
        )
    except (KeyError, TypeError, ValueError) as e:
        raise ConfigError(
            f"{where}: missing or invalid {e}. Each model needs limits "
            "(max_tokens_per_example, max_validation_examples, max_training_file_bytes, "
            "adapter_sizes) and may give lifecycle, tuning_regions, thinking, price."
        ) from None


def _serving(raw: Any, where: str) -> Serving | None:
    if raw is None:
        return None
    if not isinstance(raw, Mapping) or not all(
        isinstance(raw.get(k), list) and raw[k] and all(isinstance(x, str) for x in raw[k])
        for k in ("base", "tuned")
    ):
        raise ConfigError(
            f'{where}.serving: expected {{"base": [locations], "tuned": [locations]}} '
            f'(a location such as "us", "eu", "global", a region, or "{TUNING_REGION}").'
        )
    return Serving(tuple(raw["base"]), tuple(raw["tuned"]))


def _merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        out[k] = (
            _merge(out[k], v) if isinstance(v, Mapping) and isinstance(out.get(k), Mapping) else v
        )
    return out


@cache
def _builtin_raw() -> dict[str, Any]:
    text = resources.files("shared").joinpath("catalog.json").read_text(encoding="utf-8")
    doc: dict[str, Any] = json.loads(text)
    return doc


def read_overrides(value: str) -> dict[str, Any]:
    """`MODEL_CATALOG_OVERRIDES`: inline JSON (starts with `{`) or a path to a JSON file."""
    text = value.strip()
    source = "MODEL_CATALOG_OVERRIDES"
    if not text.startswith("{"):
        source = text
        try:
            with open(text, encoding="utf-8") as fh:
                text = fh.read()
        except OSError as e:
            raise ConfigError(f"MODEL_CATALOG_OVERRIDES: cannot read {source}: {e}") from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        raise ConfigError(f"{source}: not valid JSON ({e.msg} at line {e.lineno}).") from None
    if not isinstance(doc, dict) or not all(isinstance(v, dict) for v in doc.values()):
        raise ConfigError(f"{source}: expected an object of model name -> fields.")
    return doc


def load_catalog(
    overrides: Mapping[str, Any] | None = None, *, allow_unlisted: bool = False
) -> Catalog:
    raw = _builtin_raw()
    models_raw: dict[str, Any] = dict(raw["models"])
    for name, fields in (overrides or {}).items():
        models_raw[name] = _merge(models_raw.get(name, {}), fields)
    discount = batch_discount(raw)
    models = {name: _model(name, m, discount) for name, m in models_raw.items()}
    hosts = dict(raw["hosts"]["by_location"])
    jurisdictions = {
        k: tuple(v) for k, v in (raw.get("jurisdictions") or {}).items() if not k.startswith("_")
    }
    return Catalog(
        models,
        raw["default_model"],
        raw["sources"],
        allow_unlisted,
        hosts,
        jurisdictions,
        _epochs(raw.get("epochs_when_unset")),
    )


def batch_discount(raw: Mapping[str, Any]) -> float:
    """The batch-inference discount on online prices (`batch.discount`, a share in [0, 1))."""
    value = (raw.get("batch") or {}).get("discount", 0.0)
    if not isinstance(value, int | float) or isinstance(value, bool) or not 0 <= value < 1:
        raise ConfigError(
            f"model catalog: batch.discount must be a share in [0, 1), not {value!r}."
        )
    return float(value)


def _epochs(raw: Any) -> EpochRange | None:
    if raw is None:
        return None
    try:
        low, high = int(raw["low"]), int(raw["high"])
    except (KeyError, TypeError, ValueError):
        raise ConfigError(
            "model catalog: epochs_when_unset needs whole numbers low and high."
        ) from None
    if not 1 <= low <= high:
        raise ConfigError(f"model catalog: epochs_when_unset {low}..{high} is not a range from 1.")
    return EpochRange(low, high, str(raw.get("source", "")), bool(raw.get("documented_by_google")))


def catalog_from_env(env: Mapping[str, str] | None = None) -> Catalog:
    e = os.environ if env is None else env
    text = e.get("MODEL_CATALOG_OVERRIDES", "").strip()
    allow = e.get("ALLOW_UNLISTED_MODELS", "").strip().lower() in ("1", "true", "yes")
    return load_catalog(read_overrides(text) if text else None, allow_unlisted=allow)


#: The catalog as shipped (deployment overrides live on `Settings.catalog`).
BUILTIN = load_catalog()
DEFAULT_MODEL = BUILTIN.default_model


def limits_for(name: str) -> ModelLimits | None:
    """Built-in limits for a model name in any accepted form, or None when unknown."""
    return BUILTIN.limits_for(name)


def with_limits(info: ModelInfo, **changes: Any) -> ModelInfo:
    """A copy of `info` with some limits changed (tests and what-if checks)."""
    return replace(info, limits=replace(info.limits, **changes))
