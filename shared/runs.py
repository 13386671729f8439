"""The run record and its state machine.

One run per uploaded training-file generation. The record is a plain JSON-able document (one
Firestore document, one SQLite row) so people can read it in the console. Status changes only
along `TRANSITIONS`, and only through a store's compare-and-set, so a replayed or concurrent event
finds the work already done and does nothing.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import msgspec

from shared.bounds import MAX_MESSAGE_CHARS, clip
from shared.clock import utcnow
from shared.tuning_config import TuningConfig


class RunStatus(StrEnum):
    RECEIVED = "RECEIVED"
    VALIDATING = "VALIDATING"
    REJECTED = "REJECTED"
    VALIDATED = "VALIDATED"
    QUEUED = "QUEUED"
    TRAINING = "TRAINING"
    TRAINED = "TRAINED"
    EVALUATING = "EVALUATING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


#: Allowed status changes. FAILED is reachable from every working state because any stage can
#: hit a permanent error (a bad config at launch, a job error, an evaluator crash).
TRANSITIONS: dict[RunStatus, frozenset[RunStatus]] = {
    RunStatus.RECEIVED: frozenset({RunStatus.VALIDATING, RunStatus.REJECTED, RunStatus.FAILED}),
    RunStatus.VALIDATING: frozenset({RunStatus.VALIDATED, RunStatus.REJECTED, RunStatus.FAILED}),
    RunStatus.VALIDATED: frozenset({RunStatus.QUEUED, RunStatus.TRAINING, RunStatus.FAILED}),
    RunStatus.QUEUED: frozenset({RunStatus.TRAINING, RunStatus.FAILED, RunStatus.CANCELLED}),
    # TRAINING -> QUEUED: the slot was claimed but Vertex refused for quota; wait again.
    RunStatus.TRAINING: frozenset(
        {RunStatus.TRAINED, RunStatus.FAILED, RunStatus.CANCELLED, RunStatus.QUEUED}
    ),
    RunStatus.TRAINED: frozenset(
        {RunStatus.EVALUATING, RunStatus.SUCCEEDED, RunStatus.FAILED}
    ),  # SUCCEEDED: evaluation off
    RunStatus.EVALUATING: frozenset({RunStatus.SUCCEEDED, RunStatus.FAILED}),
    RunStatus.REJECTED: frozenset(),
    RunStatus.SUCCEEDED: frozenset(),
    RunStatus.FAILED: frozenset(),
    RunStatus.CANCELLED: frozenset(),
}

TERMINAL: frozenset[RunStatus] = frozenset(s for s, nxt in TRANSITIONS.items() if not nxt)
#: Runs the poller looks at (TRAINED: to re-request a lost evaluation). It never reads others.
ACTIVE_FOR_POLLER: frozenset[RunStatus] = frozenset(
    {RunStatus.QUEUED, RunStatus.TRAINING, RunStatus.TRAINED}
)
#: States a dead-lettered message may move to FAILED.
NON_TERMINAL: frozenset[RunStatus] = frozenset(s for s in RunStatus if TRANSITIONS[s])


def can_transition(src: RunStatus, dst: RunStatus) -> bool:
    return dst in TRANSITIONS[src]


_SLUG = re.compile(r"[^a-z0-9]+")


#: At most this many points are kept per training-metric series on the run (downsampled evenly;
#: a Firestore document holds at most 1 MiB).
MAX_CURVE_POINTS = 200


def downsample(points: list[list[float]], limit: int = MAX_CURVE_POINTS) -> list[list[float]]:
    """At most `limit` points, evenly spread, always keeping the first and the last."""
    if len(points) <= limit:
        return points
    step = (len(points) - 1) / (limit - 1)
    return [points[round(i * step)] for i in range(limit)]


def make_run_id(bucket: str, name: str, generation: int | str) -> str:
    """Deterministic id from the idempotency key (bucket + object + generation).

    A readable prefix (the dataset folder or file stem) helps people find their run; the hash
    suffix makes it unique. Firestore ids may not contain `/`, and Vertex labels allow only
    lowercase letters, digits, `-` and `_` up to 63 characters, so the id obeys both.
    """
    parts = name.split("/")
    stem = parts[-2] if len(parts) >= 3 else parts[-1].rsplit(".", 1)[0]
    slug = _SLUG.sub("-", stem.lower()).strip("-")[:30] or "dataset"
    digest = hashlib.sha256(f"{bucket}/{name}#{generation}".encode()).hexdigest()[:12]
    return f"{slug}-{digest}"


def retry_run_id(run_id: str, attempt: int) -> str:
    """The id of retry number `attempt` of `run_id`: deterministic, so a repeated `retry`
    finds the attempt it already made instead of creating a second one. Same shape rules as
    `make_run_id` (Firestore ids, Vertex labels: at most 63 characters)."""
    digest = hashlib.sha256(f"{run_id}#retry{attempt}".encode()).hexdigest()[:12]
    base = re.sub(r"-r[0-9]+$", "", run_id.rsplit("-", 1)[0]) or "run"
    return f"{base[:30]}-r{attempt}-{digest}"


def retune_run_id(run_id: str, model: str) -> str:
    """The id of the retune of `run_id` on `model`: deterministic, so a repeated `retune`
    finds the run it already made (same shape rules as `retry_run_id`)."""
    digest = hashlib.sha256(f"{run_id}#retune#{model}".encode()).hexdigest()[:12]
    base = re.sub(r"-(r|t)[0-9]+$", "", run_id.rsplit("-", 1)[0]) or "run"
    return f"{base[:30]}-t-{digest}"


def tuning_job_display_name(run_id: str) -> str:
    """Deterministic display name so a retry after a crash can recognise its own job."""
    return f"gtp-{run_id}"[:128]


@dataclass
class HistoryEntry:
    status: RunStatus
    at: str
    note: str = ""


@dataclass
class StoredCopy:
    """One immutable per-run copy of a dataset file, pinned to the generation it was written
    at (a copy deleted or rewritten since is noticed before a tuning job is created)."""

    bucket: str
    name: str
    generation: str
    uri: str


@dataclass
class DatasetInfo:
    bucket: str
    name: str
    generation: str
    uri: str
    size: int = 0
    md5: str | None = None
    #: Siblings as validated: object names and generations are what later steps read (pinned,
    #: so a file replaced since is noticed, not silently used); URIs are for people and Vertex.
    validation_uri: str | None = None
    test_uri: str | None = None
    config_uri: str | None = None
    validation_name: str | None = None
    validation_generation: str | None = None
    test_name: str | None = None
    test_generation: str | None = None
    config_name: str | None = None
    config_generation: str | None = None
    #: Under the `redact` personal-data policy: the masked copies Vertex AI trains on (in the
    #: artifacts bucket) and what each redaction replaced, per file.
    redacted_train_uri: str | None = None
    redacted_validation_uri: str | None = None
    redaction: dict[str, Any] = field(default_factory=dict)
    #: What the tuning job trains on, by role (`train`, `validation`): the run's own copies in
    #: the artifacts bucket (`pipeline/layout.py` `tuning_input_name`), made from the uploaded
    #: generations before the validator read them, or the redacted copies made from those.
    #: Empty for runs validated before copies existed (they train on the upload, checked).
    trains_on: dict[str, StoredCopy] = field(default_factory=dict)


@dataclass
class ValidationInfo:
    valid: bool | None = None
    started_at: str | None = None  # lease: a redelivery may take over after it expires
    summary: dict[str, Any] = field(default_factory=dict)
    findings: list[dict[str, Any]] = field(default_factory=list)  # first errors, for status
    report_uri: str | None = None


@dataclass
class Hyperparameters:
    """What the job trains with: as requested, then as Vertex AI reports them (its
    recommendations fill what the run left unset)."""

    epoch_count: int | None = None
    learning_rate_multiplier: float | None = None
    adapter_size: int | None = None


@dataclass(frozen=True)
class Checkpoint:
    """One exported checkpoint (`TunedModel.checkpoints[]`); each has its own endpoint. The
    tuning port returns it and the run document keeps it: one type."""

    checkpoint_id: str
    epoch: int | None = None
    step: int | None = None
    endpoint: str | None = None


@dataclass(frozen=True)
class TuningStats:
    """What the finished job says about the data (`supervised_tuning_data_stats`)."""

    examples: int | None = None
    billable_tokens: int | None = None
    tuning_steps: int | None = None
    truncated_examples: int | None = None
    truncated_example_indices: tuple[int, ...] = ()  #: the run keeps the first few only
    dropped_example_reasons: tuple[str, ...] = ()


@dataclass(frozen=True)
class JobStats(TuningStats):
    """The job's own view of the data as the run keeps it, beside the validator's estimate of
    billable tokens and its error against the job's figure."""

    estimated_billable_tokens: int | None = None
    estimate_error: float | None = None


@dataclass
class JobInfo:
    name: str | None = None
    display_name: str | None = None
    state: str | None = None
    console_url: str | None = None
    tuned_model_name: str | None = None
    tuned_model_endpoint: str | None = None
    simulated: bool = False
    claimed_at: str | None = None
    #: When the claim was given up without a job (its delivery's create failed, or the local
    #: runtime holding it stopped): the redelivery may take it over at once, the poller later.
    released_at: str | None = None
    started_at: str | None = None
    ended_at: str | None = None
    error_message: str | None = None
    base_model: str | None = None
    hyperparameters: Hyperparameters = field(default_factory=Hyperparameters)
    stats: JobStats | None = None
    checkpoints: list[Checkpoint] = field(default_factory=list)
    experiment: str | None = None
    #: Training metric series, `name -> [[step, value], ...]`, at most MAX_CURVE_POINTS each.
    curves: dict[str, list[list[float]]] = field(default_factory=dict)
    #: Things a person should know about the job (truncated or dropped examples, ...).
    warnings: list[str] = field(default_factory=list)
    #: Why the pipeline asked Vertex AI to cancel the job (past its maximum training time, on
    #: request); the run's error says it once the job has stopped.
    cancel_reason: str | None = None


#: The three verdicts of an evaluation, in every view (run document, status, page, report,
#: notifications): NOT GATED is grey, never green.
PASSED, FAILED, NOT_GATED = "PASSED", "FAILED", "NOT GATED"


def verdict_of(passed: bool | None) -> str:
    """The verdict word of an evaluation's `passed` (None: no gate was configured)."""
    return {True: PASSED, False: FAILED, None: NOT_GATED}[passed]


@dataclass
class EvaluationInfo:
    passed: bool | None = None
    reason: str | None = None
    summary: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, dict[str, float | None]] = field(default_factory=dict)
    report_uri: str | None = None
    predictions_uri: str | None = None
    simulated: bool = False
    report_html_uri: str | None = None  #: report.html, the page people read
    progress: dict[str, int] = field(default_factory=dict)  #: {"done": n, "total": N} so far
    #: Every checkpoint's screening score, and the one evaluated and served (its id).
    checkpoints: list[dict[str, Any]] = field(default_factory=list)
    chosen_checkpoint: str | None = None
    checkpoint_note: str | None = None
    #: The same evaluation against the production model of the day (when there was one):
    #: its run, verdict under `production_gates`, metrics and reports.
    vs_production: dict[str, Any] | None = None
    #: PASSED / FAILED / NOT GATED (`verdict_of`); None: not evaluated (yet, or skipped).
    verdict: str | None = None
    #: Per metric: tuned, base, delta, their 95% intervals and the gate's outcome (if gated).
    per_metric: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: Share of the sample found in training (`shared.evaluation.leakage`) and the metrics
    #: again on the unleaked part.
    leakage: dict[str, Any] | None = None
    unleaked_metrics: dict[str, dict[str, float | None]] = field(default_factory=dict)
    #: Pairwise judge (win rate, flips, pinned metric) and rubric means, when asked for.
    judge: dict[str, Any] | None = None
    rubric: dict[str, Any] | None = None
    #: Auto-promotion's condition: passed, and (when leakage is above its threshold) the
    #: unleaked part passed too.
    promotable: bool | None = None
    #: The evaluation's own cost: estimated before the first call, actual after.
    cost: dict[str, Any] | None = None
    #: A batch evaluation (`evaluation.mode`): its request file and one Vertex AI batch
    #: inference job per model (`shared.pipeline.batch_eval`), with each job's state.
    batch: dict[str, Any] | None = None


@dataclass
class PromotionNote:
    """A production change that involved this run's model (the production record itself is
    `ports.ProductionStore`; this is the run's copy, so `status` can show it)."""

    sequence: int  #: the production record's number
    action: str  #: "promoted", "restored by rollback", "replaced", "rolled back"
    at: str
    by: str
    reason: str = ""
    checkpoint_id: str | None = None


@dataclass
class RunError:
    stage: str
    code: str
    message: str


@dataclass
class StuckWarning:
    """The run sat in `status` longer than STUCK_AFTER_MINUTES: warned once per status."""

    status: RunStatus
    since: str
    warned_at: str
    message: str


@dataclass
class StepFailure:
    """A step met an exception nothing classifies (a bug, an unexpected client error). Kept on
    the run while the platform redelivers, so people see the cause instead of a working state,
    and counted: `bounds.MAX_UNEXPECTED_FAILURES` of them end the run FAILED."""

    stage: str
    type: str
    message: str
    count: int
    at: str


@dataclass
class Run:
    """One Firestore document `tuning_runs/<run_id>` (or one SQLite row locally)."""

    run_id: str
    status: RunStatus
    dataset: DatasetInfo
    created_at: str
    updated_at: str
    config: TuningConfig | None = None  #: resolved at validation; None before
    validation: ValidationInfo = field(default_factory=ValidationInfo)
    job: JobInfo = field(default_factory=JobInfo)
    evaluation: EvaluationInfo = field(default_factory=EvaluationInfo)
    error: RunError | None = None
    history: list[HistoryEntry] = field(default_factory=list)
    simulated: bool = False
    #: Later evaluations of a finished run (`gemini-tuning evaluate`), newest last: against
    #: which baseline, the verdict, the metrics and where the reports are.
    evaluation_attempts: list[dict[str, Any]] = field(default_factory=list)
    #: Production changes of this run's model, oldest first (see `pipeline.promote`).
    promotions: list[PromotionNote] = field(default_factory=list)
    #: `gemini-tuning retry`: the run this one retries, and the run that retried this one.
    retry_of: str | None = None
    retried_by: str | None = None
    #: `gemini-tuning retune`: the run whose data this one tunes again on another base model,
    #: and the newest run that retuned this one.
    retune_of: str | None = None
    retuned_by: str | None = None
    stuck: StuckWarning | None = None
    step_failure: StepFailure | None = None

    @classmethod
    def new(cls, run_id: str, dataset: DatasetInfo, *, simulated: bool = False) -> Run:
        now = utcnow()
        return cls(
            run_id=run_id,
            status=RunStatus.RECEIVED,
            dataset=dataset,
            created_at=now,
            updated_at=now,
            history=[HistoryEntry(RunStatus.RECEIVED, now, "dataset upload received")],
            simulated=simulated,
        )

    def to_dict(self) -> dict[str, Any]:
        # Through JSON so tuples become lists: what Firestore and SQLite store, and people read.
        out: dict[str, Any] = msgspec.json.decode(msgspec.json.encode(self))
        if out.get("config") is None:
            out["config"] = {}  # the document's shape before validation, as it always was
        return out

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> Run:
        if not doc.get("config"):
            doc = {**doc, "config": None}
        return msgspec.convert(doc, cls)

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL

    @property
    def tuning(self) -> TuningConfig:
        """The resolved config; only runs past validation have one."""
        if self.config is None:
            raise ValueError(f"run {self.run_id} has no resolved config yet ({self.status})")
        return self.config

    @property
    def dry_run(self) -> bool:
        return self.config is not None and self.config.dry_run

    @property
    def entered_status_at(self) -> str:
        """When the run entered its current status (the last history entry for it)."""
        for h in reversed(self.history):
            if h.status == self.status:
                return h.at
        return self.updated_at

    def fail(self, stage: str, code: str, message: str) -> None:
        """Record why the run stopped (FAILED / REJECTED): shown by every status view."""
        self.error = RunError(stage, code, clip(message, MAX_MESSAGE_CHARS))


#: A typed change to a run, applied by a store inside its compare-and-set (read, change, write
#: as one atomic step). Steps write them as small functions of the `Run`.
Change = Callable[[Run], None]


def apply_change(doc: dict[str, Any], change: Change | None) -> dict[str, Any]:
    """The document after `change`, with `updated_at` refreshed (what `RunStore.update` writes)."""
    run = Run.from_dict(doc)
    if change is not None:
        change(run)
    run.updated_at = utcnow()
    return run.to_dict()


def transition_doc(
    doc: dict[str, Any], dst: RunStatus, *, note: str = "", change: Change | None = None
) -> dict[str, Any]:
    """The document after moving to `dst`: the change, status, `updated_at`, one history entry.

    Both stores call this inside their compare-and-set so the rules live in one place.
    """
    run = Run.from_dict(doc)
    if not can_transition(run.status, dst):
        raise ValueError(f"illegal transition {run.status} -> {dst}")
    if change is not None:
        change(run)
    run.status = dst
    run.updated_at = utcnow()
    run.history.append(HistoryEntry(dst, run.updated_at, clip(note, MAX_MESSAGE_CHARS)))
    return run.to_dict()


def _build_msgspec_type_info() -> None:
    """Convert one sample document at import time.

    msgspec builds its type information for these dataclasses lazily, on first use, and
    building it from several threads at once crashed the interpreter (SIGSEGV in
    `msgspec._utils.get_dataclass_info`, seen when 10 threads delivered the same event). Doing it
    once here, under the import lock, means threads only ever read the cached result.
    """
    sample = Run.new("warm-up", DatasetInfo("bucket", "name", "0", "uri"))
    sample.error = RunError("stage", "code", "message")
    sample.config = TuningConfig()
    sample.job.stats = JobStats()
    sample.job.checkpoints = [Checkpoint("1")]
    sample.promotions = [PromotionNote(1, "promoted", "at", "by")]
    sample.stuck = StuckWarning(RunStatus.RECEIVED, "t", "t", "m")
    sample.step_failure = StepFailure("stage", "ValueError", "m", 1, "t")
    Run.from_dict(sample.to_dict())


_build_msgspec_type_info()
