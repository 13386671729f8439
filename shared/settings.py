"""Deployment settings: what one installation is (project, buckets, topics, quotas, defaults).

Read once per function instance from the environment (`Settings.from_env()`; Terraform sets
every variable in `SETTINGS_ENV` on every function) or built explicitly by the local host. The
tuning defaults they carry are a `TuningConfig` that `tuning.yaml` overrides per dataset.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from shared.catalog import BUILTIN, Catalog, catalog_from_env
from shared.errors import ConfigError
from shared.tuning_config import TuningConfig, apply_overrides, check_int

#: Chat webhook formats the notifier can post (shared/notify.py has one formatter each; a test
#: keeps the two lists equal).
NOTIFY_FORMATS = ("slack", "google_chat", "wecom", "feishu", "dingtalk")

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
    "PRODUCTION_COLLECTION": "Firestore collection of the production model record (promotions)",
    "MAX_CONCURRENT_JOBS": "tuning jobs allowed at once (the project's quota)",
    "MAX_EVENT_AGE_SECONDS": "events older than this are dropped with a log line",
    "DEFAULT_SOURCE_MODEL": "base model when tuning.yaml does not name one",
    "DEFAULT_EPOCHS": "epochs when tuning.yaml does not say (empty: Vertex AI's recommended)",
    "DEFAULT_LEARNING_RATE_MULTIPLIER": "learning-rate multiplier default (empty: recommended)",
    "DEFAULT_ADAPTER_SIZE": "adapter size default (empty: Vertex AI's recommended)",
    "MODEL_CATALOG_OVERRIDES": "JSON (inline or a file path) that overrides or adds catalog models",
    "ALLOW_UNLISTED_MODELS": "true: accept base models the catalog does not list (unchecked)",
    "PII_POLICY": "personal data in datasets: warn, redact or reject (tuning.yaml may be stricter)",
    "PII_PATTERNS": "JSON object of a team's own personal-data patterns, name -> regex",
    "TUNING_SERVICE_ACCOUNT": "service account tuning jobs run as (empty: Vertex's own agent)",
    "DEFAULT_EVAL_SAMPLE_SIZE": "examples the evaluator samples by default",
    "MAX_RUN_USD": "refuse to start a run whose estimated cost is above this (empty: no limit)",
    "MAX_MONTH_USD": "refuse runs past this estimated spend per UTC month (empty: off)",
    "MAX_TRAINING_HOURS": "cancel a tuning job that has run longer than this (empty: no limit)",
    "STUCK_AFTER_MINUTES": "warn once about a run in one working state this long (empty: off)",
    "NOTIFY_FORMAT": "the webhook's message format: slack, google_chat, wecom, feishu, dingtalk",
}
#: Set only on the functions that need them, from Secret Manager through Cloud Run's secret
#: environment variables (`secret_environment_variables`), never as plain text in Terraform.
SECRET_ENV = {
    "NOTIFY_URL": "chat webhook the notifier posts run outcomes to (empty: it only logs)",
}
LOCAL_ONLY_ENV = {
    "LOCAL_ROOT": "root folder of the embedded local backend",
    "LOG_FORMAT": "json forces JSON log lines outside the cloud",
    "LOG_LEVEL": "hide log entries below this severity (default INFO; the demo uses WARNING)",
    # The Vertex AI simulator's knobs (shared/simulator/config.py reads them; a test keeps the
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
    "SIM_BATCH_SECONDS": "seconds a simulated batch inference job runs (default 3)",
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
    production_collection: str = "production_models"
    max_concurrent_jobs: int = 1
    max_event_age_seconds: int = 24 * 3600
    defaults: TuningConfig = field(default_factory=TuningConfig)
    local_root: str | None = None
    tuning_service_account: str = ""
    #: The model catalog with this deployment's overrides (`MODEL_CATALOG_OVERRIDES`).
    catalog: Catalog = BUILTIN
    #: The simulator's `SIM_*` variables as found in the environment (local backend only).
    simulator_env: Mapping[str, str] = field(default_factory=dict)
    #: Guard rails (None: off). tuning.yaml may lower the per-run limits, never raise them.
    max_run_usd: float | None = None
    max_month_usd: float | None = None
    max_training_hours: float | None = None
    stuck_after_minutes: int | None = None
    #: Where the notifier posts run outcomes (None: it only logs) and in which chat's format.
    notify_url: str | None = None
    notify_format: str = "slack"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """The settings the environment gives (tables below say which variable sets what);
        any variable that is set but unusable is one `ConfigError` naming it and the fix."""
        e = _Env(os.environ if env is None else env)
        s = cls()
        backend = e.text("BACKEND", s.backend)
        if backend not in ("gcp", "local"):
            raise ConfigError(f"BACKEND={backend!r}: use 'gcp' or 'local'.")
        catalog = catalog_from_env(e.env)
        notify_url = e.text("NOTIFY_URL", "") or None
        if notify_url is not None and not notify_url.startswith(("https://", "http://")):
            raise ConfigError("NOTIFY_URL must be an https:// (or http://) webhook URL.")
        notify_format = e.text("NOTIFY_FORMAT", s.notify_format).lower()
        if notify_format not in NOTIFY_FORMATS:
            raise ConfigError(
                f"NOTIFY_FORMAT={notify_format!r}: use one of {', '.join(NOTIFY_FORMATS)}."
            )
        fields: dict[str, Any] = {
            key: e.text(name, getattr(s, key)) for name, key in _TEXT_SETTINGS
        }
        for name, key, lo, hi in _WHOLE_SETTINGS:
            fields[key] = e.whole(name, getattr(s, key), lo, hi)
        for name, key, top in _LIMIT_SETTINGS:
            fields[key] = e.limit(name, top)
        return cls(
            backend=backend,
            **fields,
            stuck_after_minutes=e.whole("STUCK_AFTER_MINUTES", None, 1, 60 * 24 * 31),
            defaults=_tuning_defaults(e, catalog),
            local_root=e.env.get("LOCAL_ROOT") or None,
            catalog=catalog,
            simulator_env={k: v for k, v in e.env.items() if k.startswith("SIM_")},
            notify_url=notify_url,
            notify_format=notify_format,
        )


#: Variable -> `Settings` field, taken as text (empty means the field's default).
_TEXT_SETTINGS = (
    ("GCP_PROJECT", "project"),
    ("VERTEX_LOCATION", "location"),
    ("DATASETS_BUCKET", "datasets_bucket"),
    ("ARTIFACTS_BUCKET", "artifacts_bucket"),
    ("TOPIC_DATASET_VALIDATED", "topic_dataset_validated"),
    ("TOPIC_EVALUATION_REQUESTED", "topic_evaluation_requested"),
    ("TOPIC_RUN_EVENTS", "topic_run_events"),
    ("FIRESTORE_DATABASE", "firestore_database"),
    ("RUNS_COLLECTION", "runs_collection"),
    ("PRODUCTION_COLLECTION", "production_collection"),
    ("TUNING_SERVICE_ACCOUNT", "tuning_service_account"),
)
#: Variable -> whole-number field with its allowed range.
_WHOLE_SETTINGS = (
    ("MAX_CONCURRENT_JOBS", "max_concurrent_jobs", 1, 100),
    ("MAX_EVENT_AGE_SECONDS", "max_event_age_seconds", 60, 7 * 24 * 3600),
)
#: Variable -> guard-rail field (a positive number up to the bound; empty: no limit).
_LIMIT_SETTINGS = (
    ("MAX_RUN_USD", "max_run_usd", 1e7),
    ("MAX_MONTH_USD", "max_month_usd", 1e8),
    ("MAX_TRAINING_HOURS", "max_training_hours", 24.0 * 31),
)
#: Variable -> tuning default (a `tuning.yaml` key) and how to read it.
_TUNING_DEFAULTS: tuple[tuple[str, str, Callable[[str], Any]], ...] = (
    ("DEFAULT_SOURCE_MODEL", "source_model_name", str),
    ("DEFAULT_EPOCHS", "epoch", int),
    ("DEFAULT_LEARNING_RATE_MULTIPLIER", "learning_rate_multiplier", float),
    ("DEFAULT_ADAPTER_SIZE", "adapter_size", int),
)


@dataclass(frozen=True)
class _Env:
    """Typed reads of one environment: a blank value is an unset one."""

    env: Mapping[str, str]

    def text(self, name: str, default: str) -> str:
        return self.env.get(name, "").strip() or default

    def whole(self, name: str, default: Any, lo: int, hi: int) -> Any:
        raw = self.text(name, "")
        if not raw:
            return default
        try:
            return check_int(name, int(raw), lo, hi)
        except ValueError:
            raise ConfigError(f"{name}={raw!r} must be a whole number.") from None

    def limit(self, name: str, hi: float) -> float | None:
        raw = self.text(name, "")
        if not raw:
            return None
        try:
            value = float(raw)
        except ValueError:
            raise ConfigError(f"{name}={raw!r} must be a number (or empty for no limit).") from None
        if not (math.isfinite(value) and 0.0 < value <= hi):
            raise ConfigError(f"{name}={raw!r} is out of range: use a number above 0 up to {hi:g}.")
        return value


def _tuning_defaults(e: _Env, catalog: Catalog) -> TuningConfig:
    """The deployment's tuning defaults, checked by the same rules as a `tuning.yaml`."""
    raw: dict[str, Any] = {}
    for name, key, conv in _TUNING_DEFAULTS:
        value = e.text(name, "")
        if value:
            try:
                raw[key] = conv(value)
            except ValueError:
                raise ConfigError(f"{name}={value!r} is not a valid value.") from None
    if sample := e.text("DEFAULT_EVAL_SAMPLE_SIZE", ""):
        try:
            raw["evaluation"] = {"sample_size": int(sample)}
        except ValueError:
            raise ConfigError("DEFAULT_EVAL_SAMPLE_SIZE must be a whole number.") from None
    policy, patterns = e.text("PII_POLICY", ""), e.text("PII_PATTERNS", "")
    if policy or patterns:
        try:
            raw["privacy"] = {"policy": policy or "warn", "patterns": json.loads(patterns or "{}")}
        except ValueError:
            raise ConfigError("PII_PATTERNS must be a JSON object of name -> regex.") from None
    return apply_overrides(
        TuningConfig(source_model_name=catalog.default_model),
        raw,
        source="environment",
        catalog=catalog,
    )
