"""Deployment settings: what one installation is (project, buckets, topics, quotas, defaults).

Read once per function instance from the environment (`Settings.from_env()`; Terraform sets
every variable in `SETTINGS_ENV` on every function) or built explicitly by the local host. The
tuning defaults they carry are a `TuningConfig` that `tuning.yaml` overrides per dataset.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shared.catalog import BUILTIN, Catalog, catalog_from_env
from shared.errors import ConfigError
from shared.tuning_config import TuningConfig, apply_overrides, check_int

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

    @classmethod
    def for_local(cls, root: Path | str, **overrides: Any) -> Settings:
        """The embedded local backend on `root` (defaults otherwise); no environment read."""
        return cls(backend="local", local_root=str(Path(root).absolute()), **overrides)

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
        catalog = catalog_from_env(e)
        if e.get("PII_POLICY", "").strip() or e.get("PII_PATTERNS", "").strip():
            try:
                patterns = json.loads(e.get("PII_PATTERNS", "").strip() or "{}")
            except ValueError:
                raise ConfigError("PII_PATTERNS must be a JSON object of name -> regex.") from None
            raw_defaults["privacy"] = {
                "policy": e.get("PII_POLICY", "").strip() or "warn",
                "patterns": patterns,
            }
        defaults = apply_overrides(
            TuningConfig(source_model_name=catalog.default_model),
            raw_defaults,
            source="environment",
            catalog=catalog,
        )

        def get_int(name: str, default: int, lo: int, hi: int) -> int:
            raw = e.get(name, "").strip()
            if not raw:
                return default
            try:
                return check_int(name, int(raw), lo, hi)
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
            production_collection=get("PRODUCTION_COLLECTION", s.production_collection),
            max_concurrent_jobs=get_int("MAX_CONCURRENT_JOBS", s.max_concurrent_jobs, 1, 100),
            max_event_age_seconds=get_int(
                "MAX_EVENT_AGE_SECONDS", s.max_event_age_seconds, 60, 7 * 24 * 3600
            ),
            defaults=defaults,
            local_root=e.get("LOCAL_ROOT") or None,
            tuning_service_account=get("TUNING_SERVICE_ACCOUNT", ""),
            catalog=catalog,
            simulator_env={k: v for k, v in e.items() if k.startswith("SIM_")},
        )
