"""`SimulatedTuner`: the Vertex AI tuning service played on one machine.

It refuses what the real service refuses (unknown base model, unsupported adapter size, missing
dataset, invalid labels) with Vertex's wording, so the launcher's error handling is exercised
locally; it never pretends to be real: every job says `simulated=True` and its console link is a
local page that says so.
"""

from __future__ import annotations

import html
import json
import re
import sqlite3
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlparse
from urllib.request import url2pathname

from shared import errors
from shared.catalog import BUILTIN, Catalog
from shared.local.paths import SIMULATOR_PAGES, LocalLayout
from shared.ports import TrainingCurves, TuningJob, TuningJobSpec
from shared.runs import Checkpoint, TuningStats
from shared.simulator.config import ConfigSource, SimConfig, from_env
from shared.simulator.jobs import END_STATES, JobRecord, JobTable, rfc3339, status_at
from shared.simulator.snapshots import SNAPSHOTS_DIR, take
from shared.simulator.training import (
    SimTraining,
    checkpoint_quality,
    example_tokens,
    simulate,
)

Clock = Callable[[], float]

#: Key in a job's stored spec: the path of the training data snapshot taken at creation.
TRAINED_ON = "trained_on_snapshot"

#: Job ids look like Vertex's (large integers) so nothing downstream assumes small numbers.
_ID_BASE = 7_000_000_000_000_000_000
_LABEL_KEY = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
_LABEL_VALUE = re.compile(r"^[a-z0-9_-]{0,63}$")


def control_file(root: Path) -> Path:
    """The control file of the simulator on a local root (faults, timing; re-read live)."""
    return LocalLayout(root).simulator_control


def local_path(uri: str) -> Path | None:
    """The file a `file://` URI names, or None for any other scheme."""
    parsed = urlparse(uri)
    if parsed.scheme != "file":
        return None
    return Path(url2pathname(parsed.path))


def _read_lines(path: Path) -> list[bytes]:
    try:
        with path.open("rb") as fh:
            return fh.readlines()
    except OSError as e:
        raise errors.PermanentError(f"400 Dataset {path} cannot be read: {e}") from None


def check_dataset_uri(uri: str, what: str) -> Path:
    """The dataset's path, or the PermanentError Vertex would give for an unreadable one."""
    path = local_path(uri)
    if path is None:
        raise errors.PermanentError(
            f"400 {what} {uri!r} cannot be read by the local Vertex AI simulator: it only reads "
            "file:// URIs from the local backend. Upload the dataset through the local bucket."
        )
    if not path.is_file():
        raise errors.PermanentError(f"400 {what} {uri} does not exist. Upload it, then retry.")
    return path


def check_labels(labels: Mapping[str, str]) -> None:
    """Vertex's label rules; a bad label is a 400 at create time in the cloud too."""
    if len(labels) > 64:
        raise errors.PermanentError("400 A resource can have at most 64 labels.")
    for key, value in labels.items():
        if not _LABEL_KEY.match(key) or not _LABEL_VALUE.match(value):
            raise errors.PermanentError(
                f"400 Invalid label {key!r}={value!r}: keys start with a lowercase letter; keys "
                "and values use only lowercase letters, digits, '_' and '-', at most 63 chars."
            )


class SimulatedTuner:
    """Implements `ports.Tuner`; also offers a control API (`finish_job`) for tests and demos."""

    def __init__(
        self,
        db_path: Path,
        *,
        project: str = "local-project",
        location: str = "us-central1",
        config: SimConfig | None = None,
        control: Path | None = None,
        clock: Clock = time.time,
        catalog: Catalog = BUILTIN,
    ) -> None:
        #: The deployment's catalog (with MODEL_CATALOG_OVERRIDES), as the real service's
        #: stand-in for which base models exist.
        self.catalog = catalog
        self._table = JobTable(db_path)
        self._pages = db_path.parent / SIMULATOR_PAGES
        self._snapshots = db_path.parent / SNAPSHOTS_DIR
        self._config = ConfigSource(config or SimConfig(), control)
        self._clock = clock
        self.parent = f"projects/{project}/locations/{location}"

    @classmethod
    def from_root(
        cls,
        root: Path,
        *,
        config: SimConfig | None = None,
        env: Mapping[str, str] | None = None,
        project: str = "local-project",
        location: str = "us-central1",
        clock: Clock = time.time,
        catalog: Catalog = BUILTIN,
    ) -> SimulatedTuner:
        """The local backend's tuner on a local root (`LocalLayout`): its SQLite state and the
        control file there. Knobs: `config` as given, else read from `env` (`SIM_*`), else
        the defaults; the control file overrides either while it runs."""
        layout = LocalLayout(root)
        return cls(
            layout.simulator_db,
            project=project,
            location=location,
            config=config or from_env(SimConfig(), env or {}),
            control=layout.simulator_control,
            clock=clock,
            catalog=catalog,
        )

    # -- ports.Tuner --------------------------------------------------------------------------

    def create_job(self, spec: TuningJobSpec) -> TuningJob:
        cfg = self._call()
        if cfg.permanent_error:
            text = cfg.permanent_error
            raise errors.PermanentError(text if text[:3].isdigit() else f"400 {text}")
        base_model = self._base_model(spec)
        info = self.catalog.get(base_model)
        if info is None:
            raise errors.PermanentError(
                f"400 Base model {base_model} is not supported for supervised tuning."
            )
        limits = info.limits
        if info.status(datetime.fromtimestamp(self._clock(), UTC).date()) in ("retired", "blocked"):
            raise errors.PermanentError(
                f"400 FAILED_PRECONDITION: Base model {base_model} is no longer available for "
                "tuning (it is retired or within a month of retirement)."
            )
        if spec.adapter_size is not None and spec.adapter_size not in limits.adapter_sizes:
            raise errors.PermanentError(
                f"400 adapter size is not supported for this base model "
                f"({limits.name} accepts {', '.join(map(str, limits.adapter_sizes))}; "
                f"got {spec.adapter_size})."
            )
        train_path = check_dataset_uri(spec.training_dataset_uri, "Training dataset")
        validation_examples = 0
        if spec.validation_dataset_uri:
            val_path = check_dataset_uri(spec.validation_dataset_uri, "Validation dataset")
            validation_examples = len(example_tokens(_read_lines(val_path)))
        training = simulate(
            example_tokens(_read_lines(train_path)),
            limits,
            seed=spec.run_id,
            epochs=spec.epoch_count,
            learning_rate_multiplier=spec.learning_rate_multiplier,
            adapter_size=spec.adapter_size,
            last_checkpoint_only=spec.export_last_checkpoint_only,
            validation_examples=validation_examples,
        )
        # The same reconciliation labels the Vertex adapter sets (shared.gcp.vertex_tuning).
        labels = {**spec.labels, "run_id": spec.run_id, "display_name": spec.display_name}
        check_labels(labels)
        # What the tuned model will answer from, whatever later happens to the file.
        trained_on = take(train_path, self._snapshots)

        now = self._clock()
        with self._table.transaction() as db:
            if cfg.quota is not None:
                active = [j for j in self._table.unfinished(db, now) if not self._ended(j, now)]
                if len(active) >= cfg.quota:
                    raise errors.QuotaExceeded(
                        "429 Quota exceeded for quota metric 'Global concurrent tuning jobs' "
                        f"and limit 'Global concurrent tuning jobs per region' ({cfg.quota}) "
                        f"of service 'aiplatform.googleapis.com' for {self.parent} (simulated)."
                    )
            job_id = self._table.insert(
                db,
                {
                    "run_id": spec.run_id,
                    "display_name": spec.display_name,
                    "labels": labels,
                    "spec": {
                        **asdict(spec),
                        "labels": dict(spec.labels),
                        "base_model": base_model,
                        "sim": training.to_json(),
                        TRAINED_ON: str(trained_on),
                    },
                    "created_at": now,
                    "queued_seconds": cfg.training_seconds * cfg.queued_fraction,
                    "training_seconds": cfg.training_seconds,
                    "fail_message": cfg.fail_message if cfg.fails(spec.display_name) else None,
                    "cancel_seconds": cfg.cancel_seconds,
                },
            )
            name = f"{self.parent}/tuningJobs/{_ID_BASE + job_id}"
            self._table.set(db, job_id, name=name)
            record = self._table.get(name, db)
        assert record is not None
        self._write_page(record)
        return self._view(record, now)

    def get_job(self, name: str) -> TuningJob:
        self._call()
        return self._view(self._require(name), self._clock())

    def find_jobs(self, run_id: str) -> list[TuningJob]:
        self._call()
        now = self._clock()
        return [self._view(j, now) for j in self._table.by_run_id(run_id)]

    def cancel_job(self, name: str) -> None:
        self._call()
        now = self._clock()
        with self._table.transaction() as db:
            job = self._require(name, db)
            state = status_at(job, now).state
            if state in ("CANCELLING", "CANCELLED"):
                return
            if state in END_STATES:
                raise errors.PermanentError(
                    f"400 FAILED_PRECONDITION: Tuning job {name} is in state JOB_STATE_{state} "
                    "and cannot be cancelled."
                )
            self._table.set(db, job.id, cancel_requested_at=now)

    # -- control API (not part of the port) ---------------------------------------------------

    def finish_job(self, name: str, state: str, error_message: str | None = None) -> None:
        """Drive an active job to an end state now (what a test or a demo needs).

        Raises `PermanentError` when the job already ended in a different state: states only
        move forward.
        """
        if state not in END_STATES:
            raise ValueError(f"state must be one of {sorted(END_STATES)}, got {state!r}")
        now = self._clock()
        with self._table.transaction() as db:
            job = self._require(name, db)
            current = status_at(job, now)
            if current.state in END_STATES:
                if current.state == state:
                    return
                raise errors.PermanentError(
                    f"Job {name} already ended as {current.state}; it cannot become {state}."
                )
            message = error_message
            if state == "FAILED" and not message:
                message = self._config.get().fail_message
            self._table.set(db, job.id, forced_state=state, forced_message=message, forced_at=now)

    def endpoint_job(self, endpoint: str) -> JobRecord | None:
        """The job whose tuned endpoint this is, if it exists and has SUCCEEDED."""
        prefix = f"{self.parent}/endpoints/sim-"
        if not endpoint.startswith(prefix):
            return None
        job_no = endpoint[len(prefix) :].split("-ckpt-", 1)[0]  # a checkpoint's own endpoint
        job = self._table.get(f"{self.parent}/tuningJobs/{job_no}")
        if job is None or status_at(job, self._clock()).state != "SUCCEEDED":
            return None
        return job

    def answer_quality(self, endpoint: str, job: JobRecord) -> float:
        """How well the checkpoint behind `endpoint` answers (see `checkpoint_quality`): a
        checkpoint's own endpoint (`...-ckpt-<id>`), else the default checkpoint."""
        sim = job.spec.get("sim")
        if not sim:
            return 1.0
        _, _, cid = endpoint.partition("-ckpt-")
        chosen = cid or self.default_checkpoint(job.name)
        return checkpoint_quality(SimTraining.from_json(dict(sim)), chosen)

    def trained_on(self, job: JobRecord) -> Path:
        """The training data the job's model answers from: its snapshot, or (a job recorded
        before snapshots existed) the training file itself."""
        snap = job.spec.get(TRAINED_ON)
        if isinstance(snap, str):
            return Path(snap)
        path = local_path(str(job.spec["training_dataset_uri"]))
        assert path is not None  # create_job accepts only file:// URIs
        return path

    def now(self) -> float:
        """The simulator's clock (tests turn it by hand), shared by its batch jobs."""
        return self._clock()

    @property
    def state_dir(self) -> Path:
        """The folder of the simulator's state (its SQLite file, pages, snapshots)."""
        return self._pages.parent

    def current_config(self) -> SimConfig:
        """The effective settings now (defaults, env, then the live control file)."""
        return self._config.get()

    def consume_fault(self, key: str, budget: int) -> bool:
        """True when this call must fail: takes one error from the shared budget `key`."""
        return self._table.take_fault(key, budget)

    # -- internals ----------------------------------------------------------------------------

    def _call(self) -> SimConfig:
        """Every API call starts here: read the live config and maybe inject a 503."""
        cfg = self._config.get()
        if self.consume_fault("tuner_transient", cfg.transient_errors):
            raise errors.TransientError(
                "503 The service is currently unavailable (simulated transient error)."
            )
        return cfg

    def _ended(self, job: JobRecord, now: float) -> bool:
        return status_at(job, now).state in END_STATES

    def _require(self, name: str, db: sqlite3.Connection | None = None) -> JobRecord:
        job = self._table.get(name, db)
        if job is None:
            raise errors.NotFound(
                f"404 Tuning job {name} was not found in the local Vertex AI simulator "
                f"({self._table.path}). Check the name, or list the run's jobs."
            )
        return job

    def _base_model(self, spec: TuningJobSpec) -> str:
        """The base model, or for continued tuning the base of the simulated tuned model."""
        if not spec.pre_tuned_model:
            return spec.base_model
        m = re.fullmatch(r".*/models/sim-(\d+)(@\d+)?", spec.pre_tuned_model)
        job = self._table.get(f"{self.parent}/tuningJobs/{m.group(1)}") if m else None
        if job is None or status_at(job, self._clock()).state != "SUCCEEDED":
            raise errors.PermanentError(
                f"400 Pre-tuned model {spec.pre_tuned_model} is not a tuned model of a "
                "succeeded job in the local Vertex AI simulator."
            )
        return str(job.spec.get("base_model") or job.spec["base_model"])

    def training_curves(self, job: TuningJob) -> TrainingCurves:
        """The simulated series up to where the job is now (all of it once it ended)."""
        record = self._require(job.name)
        sim = record.spec.get("sim")
        if not sim:
            return {}
        training = SimTraining.from_json(dict(sim))
        now = self._clock()
        st = status_at(record, now)
        if st.state in ("QUEUED", "PENDING"):
            return {}
        if st.state == "RUNNING":
            start = record.created_at + record.queued_seconds
            span = max(record.training_seconds - record.queued_seconds, 1e-9)
            upto = training.steps * min(1.0, max(0.0, (now - start) / span))
        else:
            upto = training.steps
        return {k: [p for p in pts if p[0] <= upto] for k, pts in training.curves.items()}

    def _view(self, job: JobRecord, now: float) -> TuningJob:
        st = status_at(job, now)
        job_no = job.name.rsplit("/", 1)[-1]
        succeeded = st.state == "SUCCEEDED"
        sim = job.spec.get("sim")
        training = SimTraining.from_json(dict(sim)) if sim else None
        extra: dict[str, Any] = {}
        if training is not None:
            extra = {
                "epoch_count": training.epochs,
                "learning_rate_multiplier": training.learning_rate_multiplier,
                "adapter_size": training.adapter_size,
                "experiment": f"{self.parent}/metadataStores/default/contexts/sim-{job_no}",
            }
            if succeeded:
                extra["stats"] = TuningStats(
                    examples=training.examples,
                    billable_tokens=training.billable_tokens,
                    tuning_steps=training.steps,
                    truncated_examples=len(training.truncated),
                    truncated_example_indices=tuple(training.truncated[:20]),
                    dropped_example_reasons=tuple(training.dropped),
                )
                extra["checkpoints"] = tuple(
                    Checkpoint(cid, epoch, step, f"{self.parent}/endpoints/sim-{job_no}-ckpt-{cid}")
                    for cid, epoch, step in training.checkpoints
                )
        return TuningJob(
            name=job.name,
            state=st.state,
            display_name=job.display_name,
            labels=dict(job.labels),
            error_code=st.error_code,
            error_message=st.error_message,
            tuned_model_name=f"{self.parent}/models/sim-{job_no}@1" if succeeded else None,
            tuned_model_endpoint=f"{self.parent}/endpoints/sim-{job_no}" if succeeded else None,
            console_url=self._page(job).as_uri(),
            create_time=rfc3339(job.created_at),
            end_time=rfc3339(st.end_time),
            simulated=True,
            base_model=str(job.spec.get("base_model") or "") or None,
            **extra,
        )

    def _page(self, job: JobRecord) -> Path:
        return (self._pages / f"{job.name.rsplit('/', 1)[-1]}.html").resolve()

    def _write_page(self, job: JobRecord) -> None:
        """A local stand-in for the Cloud console page, saying plainly that it is simulated:
        the job's settings and its simulated training as tables and a loss chart, the raw
        spec folded away at the end."""
        from shared.charts import CURVE_COLORS, line_chart

        spec = job.spec
        sim = spec.get("sim") or {}
        rows = [
            (k, spec.get(k))
            for k in (
                "base_model", "tuned_model_display_name", "training_dataset_uri",
                "validation_dataset_uri", "epoch_count", "learning_rate_multiplier",
                "adapter_size", "export_last_checkpoint_only", "pre_tuned_model",
            )
        ]  # fmt: skip
        rows += [(f"simulated {k}", sim.get(k)) for k in
                 ("epochs", "examples", "billable_tokens", "steps")]  # fmt: skip
        table = "".join(
            f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(_setting(k, v))}</td></tr>"
            for k, v in rows
        )
        ckpts = "".join(
            f"<tr><td>{html.escape(str(c[0]))}</td><td>{c[1]}</td><td>{c[2]}</td></tr>"
            for c in sim.get("checkpoints") or []
        )
        chart = line_chart(
            sim.get("curves") or {}, CURVE_COLORS, element_id="curves",
            y_label="loss (simulated total_loss)",
        )  # fmt: skip
        raw = html.escape(json.dumps(spec, indent=2, ensure_ascii=False))
        body = (
            "<!doctype html><meta charset='utf-8'>"
            f"<title>SIMULATED tuning job {html.escape(job.display_name)}</title>"
            "<style>body{font-family:system-ui,'Noto Sans CJK SC',sans-serif;margin:2rem auto;"
            "max-width:60rem;padding:0 1rem}table{border-collapse:collapse;margin:.5rem 0}"
            "th,td{border:1px solid #ccc;padding:.25rem .5rem;text-align:left}"
            "th{background:#f1f3f4}.sim{background:#fef7e0;border:1px solid #f9ab00;"
            "padding:.6rem;border-radius:.3rem}</style>"
            "<h1>Simulated Vertex AI tuning job</h1>"
            "<p class='sim'><strong>This job is simulated by the local backend.</strong> No "
            "Google Cloud resources exist and no model was trained; the state is computed from "
            f"the clock ({job.training_seconds:g} s of simulated training). The tuned endpoint "
            "answers like a plausible tuned model: right on questions it was trained on, partly "
            "right on paraphrases, wrong on intents it never saw.</p>"
            f"<p>Name: <code>{html.escape(job.name)}</code></p>"
            f"<h2>Settings</h2><table id='settings'>{table}</table>"
            + (
                "<h2>Checkpoints</h2><table id='checkpoints'><tr><th>checkpoint</th>"
                f"<th>epoch</th><th>step</th></tr>{ckpts}</table>"
                if ckpts
                else ""
            )
            + (f"<h2>Training curves</h2>{chart}" if chart else "")
            + f"<details><summary>the job's full spec (JSON)</summary><pre>{raw}</pre></details>"
        )
        self._pages.mkdir(parents=True, exist_ok=True)
        tmp = self._page(job).with_suffix(".tmp")
        tmp.write_text(body, encoding="utf-8")
        tmp.replace(self._page(job))

    def set_default_checkpoint(self, tuned_model_name: str, checkpoint_id: str) -> None:
        """The simulated model's endpoint serves this checkpoint from now on."""
        self._call()
        m = re.fullmatch(r".*/models/sim-(\d+)(@\d+)?", tuned_model_name)
        job = self._table.get(f"{self.parent}/tuningJobs/{m.group(1)}") if m else None
        sim = job.spec.get("sim") if job is not None else None
        if job is None or not sim or status_at(job, self._clock()).state != "SUCCEEDED":
            raise errors.NotFound(f"404 Model {tuned_model_name} was not found (simulated).")
        ids = [str(c[0]) for c in sim["checkpoints"]]
        if checkpoint_id not in ids:
            raise errors.PermanentError(
                f"400 Checkpoint {checkpoint_id!r} does not exist for {tuned_model_name}; "
                f"it has {', '.join(ids)} (simulated)."
            )
        self._table.set_default_checkpoint(job.name, checkpoint_id)

    def default_checkpoint(self, job_name: str) -> str | None:
        """The checkpoint a simulated tuned endpoint serves (None: the last one)."""
        return self._table.default_checkpoint(job_name)


def _setting(name: str, value: Any) -> str:
    """A job setting as the page shows it: unset hyperparameters are Vertex AI's to choose."""
    if value is not None:
        return str(value)
    return "(left to Vertex AI)" if name in ("epoch_count", "learning_rate_multiplier",
                                             "adapter_size") else "-"  # fmt: skip
