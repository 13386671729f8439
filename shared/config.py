"""Tuning configuration (per dataset) and deployment settings (per environment).

Two layers, resolved in this order:

1. `Settings` - read once from the environment (Terraform sets these on every function; the local
   runtime sets them for itself). They hold the deployment's defaults for the tuning fields.
2. `tuning.yaml` beside the dataset - optional per-dataset overrides, validated strictly: unknown
   keys and out-of-range values are `ConfigError`s whose message says what to change.

The field names are the seed's (`source_model_name`, `epoch`, ...), so a team's existing
notebook parameters map one to one.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import yaml

from shared.errors import ConfigError
from shared.models import DEFAULT_MODEL, MODEL_LIMITS, limits_for, normalize_model_name

MAX_TUNING_YAML_BYTES = 64 * 1024
EVAL_METRICS = ("exact_match", "bleu", "chrf", "rouge_l")
MAX_EPOCHS = 50
MAX_LEARNING_RATE_MULTIPLIER = 10.0
MAX_DISPLAY_NAME = 128


@dataclass(frozen=True)
class Gate:
    """Pass condition on one metric: absolute `min` and/or `min_delta` over the base model.

    Metrics are on a 0..1 scale (BLEU and chrF included), so `min: 0.3` reads the same for all.
    """

    min: float | None = None
    min_delta: float | None = None


@dataclass(frozen=True)
class EvaluationConfig:
    enabled: bool = True
    sample_size: int = 50
    metrics: tuple[str, ...] = EVAL_METRICS
    max_concurrency: int = 8
    gates: Mapping[str, Gate] = field(default_factory=dict)
    judge: bool = False  # pairwise autorater (Gen AI evaluation service): one paid call/example


@dataclass(frozen=True)
class TuningConfig:
    """Everything the launcher and the evaluator need, fully resolved."""

    source_model_name: str = DEFAULT_MODEL
    train_dataset: str | None = None
    validation_dataset: str | None = None
    test_dataset: str | None = None
    tuned_model_display_name: str | None = None
    epoch: int = 3
    learning_rate_multiplier: float = 1.0
    adapter_size: int = 4
    export_last_checkpoint_only: bool = True
    dry_run: bool = False
    evaluation: EvaluationConfig = field(default_factory=EvaluationConfig)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["evaluation"]["metrics"] = list(self.evaluation.metrics)
        d["evaluation"]["gates"] = {k: asdict(v) for k, v in self.evaluation.gates.items()}
        return d


_TOP_KEYS = {f for f in TuningConfig.__dataclass_fields__}
#: Filled in from the bucket layout by the validator, never from tuning.yaml.
DATASET_KEYS = ("train_dataset", "validation_dataset", "test_dataset")
_EVAL_KEYS = {f for f in EvaluationConfig.__dataclass_fields__}
_GATE_KEYS = {"min", "min_delta"}


def _fail(where: str, problem: str, fix: str) -> ConfigError:
    return ConfigError(f"{where}: {problem}. {fix}")


def _int(where: str, v: Any, lo: int, hi: int) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        raise _fail(where, f"expected a whole number, got {v!r}", f"Use an integer {lo}..{hi}.")
    if not lo <= v <= hi:
        raise _fail(where, f"{v} is out of range", f"Use a value from {lo} to {hi}.")
    return v


def _float(where: str, v: Any, lo_exclusive: float, hi: float) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
        raise _fail(
            where, f"expected a number, got {v!r}", f"Use a number in ({lo_exclusive}, {hi}]."
        )
    if not lo_exclusive < float(v) <= hi:
        raise _fail(where, f"{v} is out of range", f"Use a number in ({lo_exclusive}, {hi}].")
    return float(v)


def _bool(where: str, v: Any) -> bool:
    if not isinstance(v, bool):
        raise _fail(where, f"expected true or false, got {v!r}", "Write true or false.")
    return v


def _str(where: str, v: Any, *, max_len: int = 1024) -> str:
    if not isinstance(v, str) or not v.strip():
        raise _fail(where, f"expected a non-empty string, got {v!r}", "Write a quoted string.")
    if len(v) > max_len:
        raise _fail(where, f"longer than {max_len} characters", "Shorten it.")
    return v.strip()


def _unknown(where: str, got: Mapping[str, Any], allowed: set[str]) -> None:
    extra = sorted(set(got) - allowed)
    if extra:
        raise _fail(
            where,
            f"unknown key(s) {', '.join(map(repr, extra))}",
            f"Allowed keys: {', '.join(sorted(allowed))}.",
        )


def _gates(where: str, raw: Any, metrics: tuple[str, ...]) -> dict[str, Gate]:
    if not isinstance(raw, Mapping):
        raise _fail(where, "expected a mapping of metric -> {min, min_delta}", "See examples/.")
    out: dict[str, Gate] = {}
    for name, spec in raw.items():
        w = f"{where}.{name}"
        if name not in EVAL_METRICS:
            raise _fail(w, "unknown metric", f"Gate one of: {', '.join(EVAL_METRICS)}.")
        if name not in metrics:
            raise _fail(w, "gate on a metric that is not computed", "Add it to evaluation.metrics.")
        if not isinstance(spec, Mapping) or not spec:
            raise _fail(w, "expected {min: X} and/or {min_delta: X}", "Example: {min: 0.3}.")
        _unknown(w, spec, _GATE_KEYS)
        lo = spec.get("min")
        delta = spec.get("min_delta")
        out[name] = Gate(
            min=None if lo is None else _float(f"{w}.min", lo, -1e-12, 1.0),
            min_delta=None if delta is None else _float(f"{w}.min_delta", delta, -1.0, 1.0),
        )
    return out


def _evaluation(raw: Any, base: EvaluationConfig) -> EvaluationConfig:
    where = "evaluation"
    if raw is None:
        return base
    if not isinstance(raw, Mapping):
        raise _fail(where, "expected a mapping", "Indent its keys under `evaluation:`.")
    _unknown(where, raw, _EVAL_KEYS)
    ev = base
    if "enabled" in raw:
        ev = replace(ev, enabled=_bool(f"{where}.enabled", raw["enabled"]))
    if "judge" in raw:
        ev = replace(ev, judge=_bool(f"{where}.judge", raw["judge"]))
    if "sample_size" in raw:
        ev = replace(ev, sample_size=_int(f"{where}.sample_size", raw["sample_size"], 1, 5000))
    if "max_concurrency" in raw:
        ev = replace(
            ev, max_concurrency=_int(f"{where}.max_concurrency", raw["max_concurrency"], 1, 64)
        )
    if "metrics" in raw:
        m = raw["metrics"]
        if not isinstance(m, list) or not m or not all(isinstance(x, str) for x in m):
            raise _fail(
                f"{where}.metrics", "expected a non-empty list", f"Use {list(EVAL_METRICS)}."
            )
        bad = [x for x in m if x not in EVAL_METRICS]
        if bad:
            raise _fail(
                f"{where}.metrics", f"unknown metric(s) {bad}", f"Use {list(EVAL_METRICS)}."
            )
        ev = replace(ev, metrics=tuple(dict.fromkeys(m)))
    if "gates" in raw:
        ev = replace(ev, gates=_gates(f"{where}.gates", raw["gates"], ev.metrics))
    return ev


def apply_overrides(base: TuningConfig, raw: Mapping[str, Any], *, source: str) -> TuningConfig:
    """Validate `raw` (parsed YAML) and return `base` with it applied.

    `source` names the file in every error message so the user knows where to look.
    """
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{source}: expected a mapping of settings at the top level.")
    try:
        _unknown("", raw, _TOP_KEYS)
        c = base
        if "source_model_name" in raw:
            name = normalize_model_name(_str("source_model_name", raw["source_model_name"]))
            if name not in MODEL_LIMITS:
                raise _fail(
                    "source_model_name",
                    f"{raw['source_model_name']!r} is not a tunable Gemini model this tool knows",
                    f"Use one of: {', '.join(MODEL_LIMITS)}.",
                )
            c = replace(c, source_model_name=name)
        for key in ("train_dataset", "validation_dataset", "test_dataset"):
            if key in raw and raw[key] is not None:
                overrides: dict[str, Any] = {key: _str(key, raw[key])}
                c = replace(c, **overrides)
        if "tuned_model_display_name" in raw and raw["tuned_model_display_name"] is not None:
            c = replace(
                c,
                tuned_model_display_name=_str(
                    "tuned_model_display_name",
                    raw["tuned_model_display_name"],
                    max_len=MAX_DISPLAY_NAME,
                ),
            )
        if "epoch" in raw:
            c = replace(c, epoch=_int("epoch", raw["epoch"], 1, MAX_EPOCHS))
        if "learning_rate_multiplier" in raw:
            c = replace(
                c,
                learning_rate_multiplier=_float(
                    "learning_rate_multiplier",
                    raw["learning_rate_multiplier"],
                    0.0,
                    MAX_LEARNING_RATE_MULTIPLIER,
                ),
            )
        if "adapter_size" in raw:
            c = replace(c, adapter_size=_int("adapter_size", raw["adapter_size"], 1, 64))
        if "export_last_checkpoint_only" in raw:
            c = replace(
                c,
                export_last_checkpoint_only=_bool(
                    "export_last_checkpoint_only", raw["export_last_checkpoint_only"]
                ),
            )
        if "dry_run" in raw:
            c = replace(c, dry_run=_bool("dry_run", raw["dry_run"]))
        if "evaluation" in raw:
            c = replace(c, evaluation=_evaluation(raw["evaluation"], c.evaluation))
        check_adapter_size(c)
    except ConfigError as e:
        raise ConfigError(f"{source}: {e.message}") from None
    return c


def check_adapter_size(c: TuningConfig) -> None:
    """Vertex rejects an unsupported adapter size only after job creation (python-genai #908)."""
    lim = limits_for(c.source_model_name)
    if lim is not None and c.adapter_size not in lim.adapter_sizes:
        raise _fail(
            "adapter_size",
            f"{c.adapter_size} is not supported for {c.source_model_name}",
            f"Use one of {list(lim.adapter_sizes)}.",
        )


def parse_tuning_yaml(data: bytes, *, source: str, base: TuningConfig) -> TuningConfig:
    """Parse a `tuning.yaml` safely (size-capped, `yaml.safe_load`) and apply it to `base`."""
    if len(data) > MAX_TUNING_YAML_BYTES:
        raise ConfigError(
            f"{source}: {len(data)} bytes is larger than the {MAX_TUNING_YAML_BYTES} byte limit "
            "for a tuning.yaml. It holds settings only; keep examples in the JSONL files."
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise ConfigError(f"{source}: not UTF-8 text (byte {e.start}). Save it as UTF-8.") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(e, "problem", None) or str(e)
        raise ConfigError(f"{source}: invalid YAML{at}: {problem}. Fix the syntax.") from None
    if raw is None:
        return base
    if isinstance(raw, Mapping):
        from_layout = [k for k in DATASET_KEYS if k in raw]
        if from_layout:
            raise ConfigError(
                f"{source}: {', '.join(from_layout)} cannot be set here: the datasets are the "
                "files beside tuning.yaml (train.jsonl, validation.jsonl, test.jsonl). Remove "
                "the key(s) and put the files in the folder."
            )
    return apply_overrides(base, raw, source=source)


# --------------------------------------------------------------------------------------------
# Deployment settings
# --------------------------------------------------------------------------------------------

#: Every environment variable the code reads, with its meaning. Terraform must set each one that
#: is not marked local-only (a wiring test checks both directions).
SETTINGS_ENV: dict[str, str] = {
    "BACKEND": "gcp or local: which adapters the functions use",
    "GCP_PROJECT": "Google Cloud project id",
    "VERTEX_LOCATION": "Vertex AI region for tuning jobs and inference",
    "DATASETS_BUCKET": "bucket that receives incoming/ dataset uploads",
    "ARTIFACTS_BUCKET": "bucket for validation and evaluation reports",
    "TOPIC_DATASET_VALIDATED": "Pub/Sub topic validator -> launcher",
    "TOPIC_EVALUATION_REQUESTED": "Pub/Sub topic poller -> evaluator",
    "TOPIC_RUN_EVENTS": "Pub/Sub topic carrying every run state change",
    "FIRESTORE_DATABASE": "Firestore database id",
    "RUNS_COLLECTION": "Firestore collection of run documents",
    "MAX_CONCURRENT_JOBS": "tuning jobs allowed at once (the project's quota)",
    "MAX_EVENT_AGE_SECONDS": "events older than this are dropped with a log line",
    "DEFAULT_SOURCE_MODEL": "base model when tuning.yaml does not name one",
    "DEFAULT_EPOCHS": "epochs when tuning.yaml does not say",
    "DEFAULT_LEARNING_RATE_MULTIPLIER": "learning-rate multiplier default",
    "DEFAULT_ADAPTER_SIZE": "adapter size default",
    "DEFAULT_EVAL_SAMPLE_SIZE": "examples the evaluator samples by default",
    "TUNING_SERVICE_ACCOUNT": "service account tuning jobs run as (empty: Vertex's own agent)",
}
LOCAL_ONLY_ENV = {
    "LOCAL_ROOT": "root folder of the embedded local backend",
    "LOG_FORMAT": "json forces JSON log lines outside the cloud",
    "LOG_LEVEL": "hide log entries below this severity (default INFO; the demo uses WARNING)",
    # The Vertex AI simulator's knobs (shared/local/sim_config.py reads them; a test keeps the
    # two lists equal).
    "SIM_TRAINING_SECONDS": "simulated training time of a job",
    "SIM_QUEUED_FRACTION": "share of the training time a simulated job spends QUEUED",
    "SIM_CANCEL_SECONDS": "time a simulated job spends CANCELLING",
    "SIM_FAIL_JOBS": "'all' or a display-name glob of simulated jobs that fail",
    "SIM_FAIL_MESSAGE": "the error message of failing simulated jobs",
    "SIM_TRANSIENT_ERRORS": "the first k simulated tuning calls fail with 503",
    "SIM_QUOTA": "simulated concurrent-job quota (429 beyond it)",
    "SIM_PERMANENT_ERROR": "simulated job creation fails with this 400 message",
    "SIM_MODELS_TRANSIENT_ERRORS": "the first k simulated model calls fail with 503",
}


@dataclass(frozen=True)
class Settings:
    """Deployment settings. Construct with `Settings.from_env()` in entry points."""

    backend: str = "local"
    project: str = "local-project"
    location: str = "us-central1"
    datasets_bucket: str = "bucket"
    artifacts_bucket: str = "artifacts"
    topic_dataset_validated: str = "dataset-validated"
    topic_evaluation_requested: str = "evaluation-requested"
    topic_run_events: str = "run-events"
    firestore_database: str = "(default)"
    runs_collection: str = "tuning_runs"
    max_concurrent_jobs: int = 1
    max_event_age_seconds: int = 24 * 3600
    defaults: TuningConfig = field(default_factory=TuningConfig)
    local_root: str | None = None
    tuning_service_account: str = ""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        e = os.environ if env is None else env
        s = cls()

        def get(name: str, default: str) -> str:
            return e.get(name, "").strip() or default

        backend = get("BACKEND", s.backend)
        if backend not in ("gcp", "local"):
            raise ConfigError(f"BACKEND={backend!r}: use 'gcp' or 'local'.")
        raw_defaults: dict[str, Any] = {}
        for env_name, key, conv in (
            ("DEFAULT_SOURCE_MODEL", "source_model_name", str),
            ("DEFAULT_EPOCHS", "epoch", int),
            ("DEFAULT_LEARNING_RATE_MULTIPLIER", "learning_rate_multiplier", float),
            ("DEFAULT_ADAPTER_SIZE", "adapter_size", int),
        ):
            if e.get(env_name, "").strip():
                try:
                    raw_defaults[key] = conv(e[env_name].strip())
                except ValueError:
                    raise ConfigError(f"{env_name}={e[env_name]!r} is not a valid value.") from None
        if e.get("DEFAULT_EVAL_SAMPLE_SIZE", "").strip():
            try:
                raw_defaults["evaluation"] = {"sample_size": int(e["DEFAULT_EVAL_SAMPLE_SIZE"])}
            except ValueError:
                raise ConfigError("DEFAULT_EVAL_SAMPLE_SIZE must be a whole number.") from None
        defaults = apply_overrides(TuningConfig(), raw_defaults, source="environment")

        def get_int(name: str, default: int, lo: int, hi: int) -> int:
            raw = e.get(name, "").strip()
            if not raw:
                return default
            try:
                return _int(name, int(raw), lo, hi)
            except ValueError:
                raise ConfigError(f"{name}={raw!r} must be a whole number.") from None

        return cls(
            backend=backend,
            project=get("GCP_PROJECT", s.project),
            location=get("VERTEX_LOCATION", s.location),
            datasets_bucket=get("DATASETS_BUCKET", s.datasets_bucket),
            artifacts_bucket=get("ARTIFACTS_BUCKET", s.artifacts_bucket),
            topic_dataset_validated=get("TOPIC_DATASET_VALIDATED", s.topic_dataset_validated),
            topic_evaluation_requested=get(
                "TOPIC_EVALUATION_REQUESTED", s.topic_evaluation_requested
            ),
            topic_run_events=get("TOPIC_RUN_EVENTS", s.topic_run_events),
            firestore_database=get("FIRESTORE_DATABASE", s.firestore_database),
            runs_collection=get("RUNS_COLLECTION", s.runs_collection),
            max_concurrent_jobs=get_int("MAX_CONCURRENT_JOBS", s.max_concurrent_jobs, 1, 100),
            max_event_age_seconds=get_int(
                "MAX_EVENT_AGE_SECONDS", s.max_event_age_seconds, 60, 7 * 24 * 3600
            ),
            defaults=defaults,
            local_root=e.get("LOCAL_ROOT") or None,
            tuning_service_account=get("TUNING_SERVICE_ACCOUNT", ""),
        )
