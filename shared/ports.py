"""The small interfaces the pipeline talks to, and `Deps`, the bundle a step receives.

Adapters in `shared.gcp`, `shared.local` and `shared.simulator` implement the ports; the contract
tests in `tests/contract/` hold every implementation to the same behaviour. The pipeline imports
only this module, never an adapter or a cloud client; `shared.composition` is the one place that
builds the adapters (docs/ARCHITECTURE.md).

All object locations are `(bucket, name)` pairs; `Blobs.uri()` renders a backend's URI
(`gs://b/n` in the cloud, `file:///...` locally) for people and for Vertex AI.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, field
from typing import Any, BinaryIO, Protocol, runtime_checkable

import msgspec

from shared.errors import PermanentError
from shared.runs import Change, Checkpoint, Run, RunStatus, TuningStats
from shared.settings import Settings

# --------------------------------------------------------------------------------------------
# Object storage
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BlobInfo:
    bucket: str
    name: str
    generation: str  # opaque, compared for equality only (GCS: int as text; local: mtime ns)
    size: int
    md5: str | None = None
    content_type: str | None = None
    updated: str | None = None


@runtime_checkable
class Blobs(Protocol):
    def uri(self, bucket: str, name: str) -> str:
        """The backend's URI for an object (what Vertex AI and people see)."""
        ...

    def stat(self, bucket: str, name: str) -> BlobInfo | None:
        """Current metadata, or None when the object does not exist."""
        ...

    def open_read(self, bucket: str, name: str, *, generation: str | None = None) -> BinaryIO:
        """A buffered binary stream of the object. With `generation`, that exact version or
        `NotFound` (a later upload must not be validated under an earlier event's run)."""
        ...

    def read_bytes(self, bucket: str, name: str, *, generation: str | None = None) -> bytes: ...

    def write_bytes(
        self,
        bucket: str,
        name: str,
        data: bytes,
        *,
        content_type: str = "application/octet-stream",
        if_generation_match: str | None = None,
    ) -> BlobInfo:
        """Write an object. `if_generation_match="0"` means create-only; a mismatch raises
        `PreconditionFailed`."""
        ...

    def write_file(
        self,
        bucket: str,
        name: str,
        stream: BinaryIO,
        *,
        content_type: str = "application/octet-stream",
    ) -> BlobInfo:
        """Write an object from a seekable binary stream without holding it in memory (files
        of any size: a redacted training set)."""
        ...

    def open_write(
        self, bucket: str, name: str, *, content_type: str = "application/octet-stream"
    ) -> AbstractContextManager[BinaryIO]:
        """A writable binary stream that becomes the object when the block exits without an
        error (nothing is written otherwise). Bytes go out in bounded chunks, never held whole
        in memory or in a temporary file: on Cloud Functions `/tmp` is memory."""
        ...

    def copy(
        self,
        src_bucket: str,
        src_name: str,
        dst_bucket: str,
        dst_name: str,
        *,
        if_source_generation_match: str | None = None,
    ) -> BlobInfo:
        """Copy an object without the bytes passing through this process where the backend
        can (Cloud Storage copies server side). With `if_source_generation_match`, only that
        exact source version is copied: a source replaced or deleted since raises
        `PreconditionFailed` (or `NotFound` when there is no such object at all), so a copy
        is never of bytes nobody looked at."""
        ...

    def list(self, bucket: str, prefix: str = "") -> Iterator[BlobInfo]: ...


# --------------------------------------------------------------------------------------------
# Messaging
# --------------------------------------------------------------------------------------------


@runtime_checkable
class Bus(Protocol):
    def publish(self, topic: str, data: bytes, attributes: Mapping[str, str]) -> str:
        """Publish and wait until the service has accepted it; return the message id.
        Raise `TransientError` when it could not be accepted."""
        ...


# --------------------------------------------------------------------------------------------
# Run store
# --------------------------------------------------------------------------------------------


@runtime_checkable
class RunStore(Protocol):
    def create(self, run: Run) -> bool:
        """Create-if-absent. True if this call created it, False if it already existed."""
        ...

    def get(self, run_id: str) -> Run | None: ...

    def transition(
        self,
        run_id: str,
        expected: Iterable[RunStatus],
        dst: RunStatus,
        *,
        note: str = "",
        change: Change | None = None,
    ) -> Run | None:
        """Compare-and-set: move to `dst` only if the current status is in `expected`, applying
        `change` to the run and appending history atomically (`shared.runs.transition_doc`).
        Returns the new run, or None when the status did not match (someone else did the work).
        Under heavy contention a store may raise `TransientError` instead of None (Firestore
        aborts transactions after retries); the caller's event is then redelivered and finds the
        work."""
        ...

    def update(
        self, run_id: str, change: Change, *, expected: Iterable[RunStatus] | None = None
    ) -> Run | None:
        """Change the run without a status change (e.g. `job.state`), optionally only while the
        status is in `expected`. Returns the new run or None if the condition failed."""
        ...

    def claim_training_slot(
        self,
        run_id: str,
        expected: Iterable[RunStatus],
        *,
        limit: int,
        note: str = "",
        change: Change | None = None,
    ) -> Run | None:
        """`transition(run_id, expected, TRAINING, ...)` only while fewer than `limit` runs are
        TRAINING, decided in the same atomic step as the move, so parallel launchers can never
        exceed the deployment's concurrency limit. Raises `QuotaExceeded` when every slot is
        taken; returns None when the status did not match. A run's slot is free again as soon
        as it leaves TRAINING (whatever moved it)."""
        ...

    def list_by_status(
        self, statuses: Iterable[RunStatus], *, limit: int | None = None
    ) -> list[Run]:
        """Runs in these states, oldest `created_at` first. Must read only matching runs."""
        ...

    def list_recent(self, *, limit: int = 50) -> list[Run]:
        """Newest first, for the status page."""
        ...

    def list_created_since(self, since: str) -> list[Run]:
        """Runs with `created_at >= since` (ISO-8601 UTC text), oldest first: the month's runs
        for the budget guard. Must read only those runs."""
        ...


# --------------------------------------------------------------------------------------------
# The production model record
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Promotion:
    """One change of the production model: what a serving system reads (the newest record).

    Records are numbered by `sequence` (1, 2, ...) and never rewritten, so the history is the
    audit trail. A rollback is a new record that restores an earlier model (`rolled_back`).
    """

    run_id: str
    tuned_model_name: str
    endpoint: str  #: what to send `generateContent` to (the checkpoint's own when one is named)
    base_model: str
    promoted_at: str
    promoted_by: str
    reason: str = ""
    checkpoint_id: str | None = None  #: None: the tuned model's default checkpoint
    previous: str | None = None  #: run id of the production model this one replaced
    rolled_back: bool = False  #: True when this change is a rollback to an earlier model
    #: The record a rollback of this one restores (None: nothing earlier to go back to).
    rollback_to: int | None = None
    simulated: bool = False  #: a model of the local Vertex AI simulator
    sequence: int = 0  #: set by the store: 1 for the first production model, then +1

    def to_dict(self) -> dict[str, Any]:
        """The stored document (one Firestore document, one SQLite row, one event body)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> Promotion:
        return msgspec.convert(dict(doc), cls)


# msgspec builds its type information lazily and doing that from several threads at once has
# crashed the interpreter (see `shared.runs._build_msgspec_type_info`): build it here, once.
Promotion.from_dict(Promotion("r", "m", "e", "b", "t", "u").to_dict())


@runtime_checkable
class ProductionStore(Protocol):
    """The production model record (`production_models` in Firestore, a SQLite table locally).

    Append-only and compare-and-set: `promote` writes record `expected_current + 1` only if no
    record has that number yet, so of two concurrent promotions made from the same view exactly
    one wins and the other learns it lost (None) instead of silently overwriting it.
    """

    def current(self) -> Promotion | None:
        """The production model now (the newest record), or None before the first promotion."""
        ...

    def get(self, sequence: int) -> Promotion | None: ...

    def promote(self, promotion: Promotion, *, expected_current: int | None) -> Promotion | None:
        """Make `promotion` current if the current record is still `expected_current` (None:
        there is none yet). Returns it with its `sequence`, or None when another change won."""
        ...

    def history(self, *, limit: int = 10) -> list[Promotion]:
        """The newest `limit` records, newest first."""
        ...


# --------------------------------------------------------------------------------------------
# Vertex AI tuning
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TuningJobSpec:
    """What to tune. Hyperparameters left None are Vertex AI's recommended values."""

    run_id: str
    display_name: str
    base_model: str
    training_dataset_uri: str
    validation_dataset_uri: str | None
    tuned_model_display_name: str
    epoch_count: int | None
    learning_rate_multiplier: float | None
    adapter_size: int | None
    export_last_checkpoint_only: bool
    labels: Mapping[str, str] = field(default_factory=dict)
    #: Continue tuning this tuned model (`TuningJob.pre_tuned_model`), optionally a checkpoint.
    pre_tuned_model: str | None = None
    pre_tuned_checkpoint: str | None = None


#: Training metric series by name (`train_total_loss`, `eval_total_loss`,
#: `train_fraction_of_correct_next_step_preds`, ...): (step, value) pairs in step order.
TrainingCurves = Mapping[str, Sequence[tuple[int, float]]]


#: Normalised job states (Vertex's `JOB_STATE_` prefix removed).
JOB_ACTIVE_STATES = frozenset({"QUEUED", "PENDING", "RUNNING", "CANCELLING", "PAUSED", "UPDATING"})
JOB_SUCCESS_STATES = frozenset({"SUCCEEDED", "PARTIALLY_SUCCEEDED"})
JOB_FAILURE_STATES = frozenset({"FAILED", "EXPIRED"})
JOB_CANCELLED_STATES = frozenset({"CANCELLED"})


@dataclass(frozen=True)
class TuningJob:
    name: str  # projects/.../locations/.../tuningJobs/123
    state: str  # normalised, see JOB_*_STATES
    display_name: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)
    error_code: int | None = None
    error_message: str | None = None
    tuned_model_name: str | None = None
    tuned_model_endpoint: str | None = None
    console_url: str | None = None
    create_time: str | None = None
    end_time: str | None = None
    simulated: bool = False
    base_model: str | None = None
    #: The hyperparameters the job runs with (Vertex fills in its recommendations when unset).
    epoch_count: int | None = None
    learning_rate_multiplier: float | None = None
    adapter_size: int | None = None
    stats: TuningStats | None = None
    checkpoints: tuple[Checkpoint, ...] = ()
    experiment: str | None = None  #: the Vertex ML Metadata context with the training metrics


@runtime_checkable
class Tuner(Protocol):
    def create_job(self, spec: TuningJobSpec) -> TuningJob:
        """Create a supervised tuning job. `QuotaExceeded` at the concurrency quota,
        `PermanentError` for a 400-class refusal (with the API's message)."""
        ...

    def get_job(self, name: str) -> TuningJob: ...

    def find_jobs(self, run_id: str) -> list[TuningJob]:
        """Jobs carrying the label `run_id=<run_id>` (reconciliation after a crash)."""
        ...

    def cancel_job(self, name: str) -> None: ...

    def training_curves(self, job: TuningJob) -> TrainingCurves:
        """The job's training (and validation) metric series so far; empty when none exist."""
        ...

    def set_default_checkpoint(self, tuned_model_name: str, checkpoint_id: str) -> None:
        """Make `checkpoint_id` the one the tuned model's endpoint serves
        (`Model.default_checkpoint_id`). `NotFound` for an unknown model or checkpoint."""
        ...


# --------------------------------------------------------------------------------------------
# Models (inference and judging)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Generation:
    text: str
    simulated: bool = False
    #: Tokens the call was billed for, from the response's usage metadata (None: not reported);
    #: the evaluation's actual cost replaces its estimate with them.
    input_tokens: int | None = None
    output_tokens: int | None = None


@dataclass(frozen=True)
class GenerationSettings:
    """The same settings for every model compared, so the comparison is fair: thinking off or
    at its minimum (the catalog says how per family: `thinking_budget` for 2.5, `thinking_level`
    for 3.x; sending both is a 400), and an optional temperature / output cap."""

    thinking_budget: int | None = None
    thinking_level: str | None = None  #: "MINIMAL", "LOW", ...
    temperature: float | None = None
    max_output_tokens: int | None = None


@runtime_checkable
class Models(Protocol):
    def generate(
        self,
        model: str,
        contents: Sequence[Mapping[str, Any]],
        *,
        system_instruction: Mapping[str, Any] | None = None,
        settings: GenerationSettings | None = None,
    ) -> Generation:
        """One `generateContent` call on a base model name or a tuned endpoint."""
        ...

    def count_tokens(self, model: str, contents: Sequence[Mapping[str, Any]]) -> int: ...


# --------------------------------------------------------------------------------------------
# Model-based judging (Vertex AI Gen AI evaluation service)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PointwiseJudgement:
    score: float  # on the rubric's own scale (e.g. 1..5)
    explanation: str = ""
    simulated: bool = False


@dataclass(frozen=True)
class PairwiseJudgement:
    choice: str  # "CANDIDATE" | "BASELINE" | "TIE"
    explanation: str = ""
    confidence: float | None = None
    simulated: bool = False


@runtime_checkable
class Judge(Protocol):
    """An autorater: `evaluate_instances` with a custom rubric (pointwise) or a candidate vs
    baseline comparison (pairwise). Used to compare the tuned model with its base model where
    n-gram metrics miss paraphrases."""

    def pointwise(
        self, *, prompt: str, response: str, reference: str | None, metric_prompt_template: str
    ) -> PointwiseJudgement: ...

    def pairwise(
        self,
        *,
        prompt: str,
        response: str,
        baseline_response: str,
        reference: str | None,
        metric_prompt_template: str,
    ) -> PairwiseJudgement: ...


def require_metric_prompt_template(template: str) -> None:
    """The `Judge` precondition every adapter enforces the way the evaluation service does,
    so a pipeline bug shows up locally before it costs money."""
    if not isinstance(template, str) or not template.strip():
        raise PermanentError(
            "metric_prompt_template is empty; pass the rubric the autorater should apply."
        )


# --------------------------------------------------------------------------------------------
# Batch inference (Vertex AI batch prediction jobs for Gemini)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BatchJobSpec:
    """One batch inference job: every request line of `input_uri` (JSONL, one
    `{"request": GenerateContentRequest}` per line) asked of `model`, answers written under
    `output_uri_prefix`. `model`: `publishers/google/models/<id>` or a tuned model
    `projects/.../locations/.../models/<id>`."""

    run_id: str
    display_name: str
    model: str
    input_uri: str
    output_uri_prefix: str
    labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class BatchJob:
    name: str  #: projects/.../locations/.../batchPredictionJobs/123
    state: str  #: normalised like tuning jobs (see JOB_*_STATES)
    model: str = ""
    display_name: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)
    #: The folder the answers are in (`output_info.gcs_output_directory`), once known: a
    #: `predictions*.jsonl` file of `{"request", "response", "status"}` lines.
    output_dir: str | None = None
    error_message: str | None = None
    succeeded: int | None = None  #: completion_stats.successful_count
    failed: int | None = None  #: completion_stats.failed_count
    create_time: str | None = None
    end_time: str | None = None
    simulated: bool = False


@runtime_checkable
class BatchPredictor(Protocol):
    """Vertex AI batch inference: many prompts at the batch discount, answered asynchronously
    (the poller collects them). Used by the evaluator for large evaluations."""

    def create_job(self, spec: BatchJobSpec) -> BatchJob:
        """Submit. `PermanentError` for a 400-class refusal (with the API's message)."""
        ...

    def get_job(self, name: str) -> BatchJob:
        """The job now. `NotFound` for an unknown job."""
        ...

    def find_jobs(self, run_id: str) -> list[BatchJob]:
        """Jobs carrying the label `run_id=<run_id>` (a create whose response was lost)."""
        ...


# --------------------------------------------------------------------------------------------
# Which publisher models Vertex AI offers (the catalog check)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PublisherModel:
    """One Google publisher model as Vertex AI describes it (`PublisherModel`): it says nothing
    about tunability or retirement dates, which stay the catalog's."""

    name: str  #: the short id, `gemini-3.5-flash`
    launch_stage: str = ""  #: `GA`, `PUBLIC_PREVIEW`, `EXPERIMENTAL`, ... ("" not reported)


@runtime_checkable
class ModelDirectory(Protocol):
    def get(self, name: str) -> PublisherModel | None:
        """`publishers/google/models/<name>` at the deployment's tuning location, or None when
        Vertex AI does not know it there (404)."""
        ...

    def list_gemini(self) -> list[PublisherModel] | None:
        """Every Gemini publisher model Vertex AI lists, or None when this backend cannot list
        (the check then reports only the catalog's own models)."""
        ...


# --------------------------------------------------------------------------------------------
# What a pipeline step receives
# --------------------------------------------------------------------------------------------


class Deps(Protocol):
    """The ports and settings of one deployment, as a step sees them.

    `shared.composition.LazyDeps` builds the real ones (each port on first use, so a function
    that never calls Vertex AI never imports its client); tests pass any object with these
    attributes. A step never learns which adapters it got, except through `simulated`, which
    only labels what it records.
    """

    @property
    def settings(self) -> Settings: ...

    @property
    def blobs(self) -> Blobs: ...

    @property
    def bus(self) -> Bus: ...

    @property
    def store(self) -> RunStore: ...

    @property
    def tuner(self) -> Tuner: ...

    @property
    def models(self) -> Models: ...

    @property
    def judge(self) -> Judge: ...

    @property
    def production(self) -> ProductionStore: ...

    @property
    def batch(self) -> BatchPredictor: ...

    @property
    def directory(self) -> ModelDirectory: ...

    @property
    def simulated(self) -> bool:
        """True when tuning and inference are played by the local simulator."""
        ...
