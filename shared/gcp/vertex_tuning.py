"""`Tuner` on Vertex AI's generated v1 `GenAiTuningServiceClient`.

Why the details matter:
- `AdapterSize` enum numbers are not the sizes (FOUR=2, TWO=6), so sizes map by enum *name*.
- Vertex's TuningJob has no display name of its own; the deterministic name from
  `shared.runs.tuning_job_display_name` rides in a label beside `run_id`, so a retry after a
  crash (or after a create whose response was lost) finds the job instead of starting a second.
- A 429 on create is the concurrent-tuning-jobs quota: `QuotaExceeded` at once (the launcher
  leaves the run QUEUED), never a retry loop that burns the function's timeout.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from shared.catalog import resource_location
from shared.clock import to_iso
from shared.errors import NotFound, PermanentError
from shared.gcp.vertex_clients import DEFAULT_RETRY, ClientsByLocation, RetryPolicy
from shared.ports import (
    JOB_CANCELLED_STATES,
    JOB_FAILURE_STATES,
    JOB_SUCCESS_STATES,
    TrainingCurves,
    TuningJob,
    TuningJobSpec,
)
from shared.runs import Checkpoint, TuningStats

T = TypeVar("T")

RUN_ID_LABEL = "run_id"
DISPLAY_NAME_LABEL = "display_name"
CONSOLE_URL = (
    "https://console.cloud.google.com/vertex-ai/generative/language/locations/{location}"
    "/tuning/tuningJob/{job_id}?project={project}"
)
#: Adapter size -> `SupervisedHyperParameters.AdapterSize` member name.
ADAPTER_SIZE_NAMES = {
    1: "ADAPTER_SIZE_ONE",
    2: "ADAPTER_SIZE_TWO",
    4: "ADAPTER_SIZE_FOUR",
    8: "ADAPTER_SIZE_EIGHT",
    16: "ADAPTER_SIZE_SIXTEEN",
    32: "ADAPTER_SIZE_THIRTY_TWO",
}
_LABEL_KEY = re.compile(r"[a-z][a-z0-9_-]{0,62}")
_LABEL_VALUE = re.compile(r"[a-z0-9_-]{0,63}")
TERMINAL_STATES = JOB_SUCCESS_STATES | JOB_FAILURE_STATES | JOB_CANCELLED_STATES
_JOB_NAME = re.compile(r"projects/[^/]+/locations/([^/]+)/tuningJobs/([^/]+)")


def adapter_size_enum(size: int) -> Any:
    """The proto enum member for an adapter size, looked up by name (never by number)."""
    from google.cloud.aiplatform_v1.types import SupervisedHyperParameters

    name = ADAPTER_SIZE_NAMES.get(size)
    if name is None:
        raise PermanentError(
            f"adapter_size {size} does not exist on Vertex AI; use one of "
            f"{sorted(ADAPTER_SIZE_NAMES)}."
        )
    return SupervisedHyperParameters.AdapterSize.__members__[name]


def normalise_state(state: Any) -> str:
    """`JobState.JOB_STATE_RUNNING` -> "RUNNING". An unset state means the job exists but has
    not reported yet, which the poller must treat as still running: "PENDING"."""
    name = getattr(state, "name", None) or str(state)
    short = name.removeprefix("JOB_STATE_")
    return "PENDING" if short in ("UNSPECIFIED", "0") else short


def console_url(job_name: str, project: str) -> str | None:
    m = _JOB_NAME.fullmatch(job_name)
    if not m:
        return None
    return CONSOLE_URL.format(location=m.group(1), job_id=m.group(2), project=project)


def job_labels(spec: TuningJobSpec) -> dict[str, str]:
    """Caller labels plus the reconciliation labels; invalid labels fail before any API call."""
    labels = {**spec.labels, RUN_ID_LABEL: spec.run_id, DISPLAY_NAME_LABEL: spec.display_name}
    for key, value in labels.items():
        if not _LABEL_KEY.fullmatch(key) or not _LABEL_VALUE.fullmatch(value):
            raise PermanentError(
                f"tuning job label {key}={value!r} is not valid on Vertex AI: keys and values "
                "use lowercase letters, digits, '-' and '_' (keys start with a letter), at most "
                "63 characters."
            )
    return labels


def _iso(job: Any, field: str) -> str | None:
    if field not in job:
        return None
    value = getattr(job, field)
    return to_iso(value) if isinstance(value, datetime) else str(value)


def _adapter_size_of(hyper: Any) -> int | None:
    name = getattr(hyper.adapter_size, "name", "")
    for size, enum_name in ADAPTER_SIZE_NAMES.items():
        if enum_name == name:
            return size
    return None


def _stats(job: Any) -> TuningStats | None:
    if "tuning_data_stats" not in job:
        return None
    tds = job.tuning_data_stats
    if "supervised_tuning_data_stats" not in tds:
        return None
    st = tds.supervised_tuning_data_stats
    return TuningStats(
        examples=int(st.tuning_dataset_example_count) or None,
        billable_tokens=int(st.total_billable_token_count) or None,
        tuning_steps=int(st.tuning_step_count) or None,
        truncated_examples=int(st.total_truncated_example_count),
        truncated_example_indices=tuple(int(i) for i in st.truncated_example_indices),
        dropped_example_reasons=tuple(str(r) for r in st.dropped_example_reasons),
    )


def _checkpoints(tuned: Any) -> tuple[Checkpoint, ...]:
    if tuned is None:
        return ()
    return tuple(
        Checkpoint(
            checkpoint_id=str(c.checkpoint_id),
            epoch=int(c.epoch) if c.epoch else None,
            step=int(c.step) if c.step else None,
            endpoint=c.endpoint or None,
        )
        for c in tuned.checkpoints
    )


def to_tuning_job(job: Any, project: str) -> TuningJob:
    """Port view of a `aiplatform_v1.TuningJob`."""
    labels = dict(job.labels)
    has_error = "error" in job and (job.error.code or job.error.message)
    tuned = job.tuned_model if "tuned_model" in job else None
    sft = job.supervised_tuning_spec if "supervised_tuning_spec" in job else None
    hyper = sft.hyper_parameters if sft is not None and "hyper_parameters" in sft else None
    base = job.base_model or (job.pre_tuned_model.base_model if "pre_tuned_model" in job else None)
    return TuningJob(
        name=job.name,
        state=normalise_state(job.state),
        display_name=labels.get(DISPLAY_NAME_LABEL) or job.tuned_model_display_name,
        labels=labels,
        error_code=int(job.error.code) if has_error else None,
        error_message=str(job.error.message) if has_error else None,
        tuned_model_name=(tuned.model or None) if tuned is not None else None,
        tuned_model_endpoint=(tuned.endpoint or None) if tuned is not None else None,
        console_url=console_url(job.name, project),
        create_time=_iso(job, "create_time"),
        end_time=_iso(job, "end_time"),
        base_model=base or None,
        epoch_count=(int(hyper.epoch_count) or None) if hyper is not None else None,
        learning_rate_multiplier=(
            (float(hyper.learning_rate_multiplier) or None) if hyper is not None else None
        ),
        adapter_size=_adapter_size_of(hyper) if hyper is not None else None,
        stats=_stats(job),
        checkpoints=_checkpoints(tuned),
        experiment=job.experiment or None,
    )


class VertexTuner:
    """Supervised tuning jobs on Vertex AI (implements `shared.ports.Tuner`)."""

    def __init__(
        self,
        project: str,
        location: str,
        client: Any = None,
        *,
        api_endpoint: str | None = None,
        retry: RetryPolicy = DEFAULT_RETRY,
        service_account: str = "",
    ) -> None:
        # Least privilege: jobs run as this account (it reads the datasets bucket only); empty
        # leaves Vertex's Secure Fine-Tuned Service Agent, which needs its own grants.
        self.service_account = service_account
        self.project = project
        self.location = location
        self.parent = f"projects/{project}/locations/{location}"
        # Jobs are created and listed in the tuning region; a job, its model and its experiment
        # are then addressed in the location their own resource names name.
        self._clients = ClientsByLocation("tuning", api_endpoint=api_endpoint, fixed=client)
        self._clients(location)  # the tuning region's client: built with the adapter, as before
        self._model_clients = ClientsByLocation("model", api_endpoint=api_endpoint)
        self._metadata_clients = ClientsByLocation("metadata", api_endpoint=api_endpoint)
        self._tensorboard_clients = ClientsByLocation("tensorboard", api_endpoint=api_endpoint)
        self._policy = retry
        self._timeout = retry.call_timeout_s

    def _call(self, fn: Callable[[], T], *, what: str, quota: bool = False) -> T:
        return self._policy.call(fn, what=what, quota=quota)

    def _located(self, name: str) -> str:
        return resource_location(name) or self.location

    def create_job(self, spec: TuningJobSpec) -> TuningJob:
        from google.cloud.aiplatform_v1 import types

        labels = job_labels(spec)
        # Only what the run sets: an unset field lets Vertex apply its recommended value.
        hyper = types.SupervisedHyperParameters()
        if spec.epoch_count is not None:
            hyper.epoch_count = spec.epoch_count
        if spec.learning_rate_multiplier is not None:
            hyper.learning_rate_multiplier = spec.learning_rate_multiplier
        if spec.adapter_size is not None:
            hyper.adapter_size = adapter_size_enum(spec.adapter_size)
        sft = types.SupervisedTuningSpec(
            training_dataset_uri=spec.training_dataset_uri,
            export_last_checkpoint_only=spec.export_last_checkpoint_only,
            hyper_parameters=hyper,
        )
        if spec.validation_dataset_uri:
            sft.validation_dataset_uri = spec.validation_dataset_uri
        job = types.TuningJob(
            tuned_model_display_name=spec.tuned_model_display_name,
            labels=labels,
            supervised_tuning_spec=sft,
        )
        if spec.pre_tuned_model:
            # Continued tuning: the base model is the tuned model's own.
            job.pre_tuned_model = types.PreTunedModel(
                tuned_model_name=spec.pre_tuned_model,
                checkpoint_id=spec.pre_tuned_checkpoint or "",
            )
        else:
            job.base_model = spec.base_model
        if self.service_account:
            job.service_account = self.service_account
        attempts = 0

        def create() -> TuningJob:
            nonlocal attempts
            attempts += 1
            if attempts > 1:
                # The previous attempt may have created the job before its response was lost.
                for existing in self.find_jobs(spec.run_id):
                    if existing.display_name == spec.display_name:
                        return existing
            created = self._clients(self.location).create_tuning_job(
                parent=self.parent, tuning_job=job, retry=None, timeout=self._timeout
            )
            return to_tuning_job(created, self.project)

        return self._call(create, what=f"create tuning job for run {spec.run_id}", quota=True)

    def get_job(self, name: str) -> TuningJob:
        job = self._call(
            lambda: self._clients(self._located(name)).get_tuning_job(
                name=name, retry=None, timeout=self._timeout
            ),
            what=f"get tuning job {name}",
        )
        return to_tuning_job(job, self.project)

    def find_jobs(self, run_id: str) -> list[TuningJob]:
        from google.cloud.aiplatform_v1 import types

        if not _LABEL_VALUE.fullmatch(run_id):
            return []  # no job can carry a label value Vertex would have refused
        label_filter = f'labels.{RUN_ID_LABEL}="{run_id}"'

        def list_all(server_filter: str) -> list[TuningJob]:
            request = types.ListTuningJobsRequest(parent=self.parent, filter=server_filter)
            pager = self._clients(self.location).list_tuning_jobs(
                request=request, retry=None, timeout=self._timeout
            )
            return [to_tuning_job(j, self.project) for j in pager]

        what = f"list tuning jobs of run {run_id}"
        try:
            jobs = self._call(lambda: list_all(label_filter), what=what)
        except PermanentError as e:
            if e.code not in ("invalid_argument", "400"):
                raise
            # Vertex does not document label filters on ListTuningJobs; if it refuses this one,
            # list every job (paged by the client) and filter here instead of failing the launch.
            jobs = self._call(lambda: list_all(""), what=f"{what} (unfiltered)")
        # Never trust a server-side filter alone for reconciliation.
        return [j for j in jobs if j.labels.get(RUN_ID_LABEL) == run_id]

    def cancel_job(self, name: str) -> None:
        """Cancel; a job that already ended is left as it is (cancel is idempotent here)."""
        try:
            self._call(
                lambda: self._clients(self._located(name)).cancel_tuning_job(
                    name=name, retry=None, timeout=self._timeout
                ),
                what=f"cancel tuning job {name}",
            )
        except PermanentError:
            job = self.get_job(name)
            if job.state in TERMINAL_STATES:
                return
            raise

    def training_curves(self, job: TuningJob) -> TrainingCurves:
        """The job's metric series from its experiment's TensorBoard run
        (`shared.gcp.vertex_curves`); `{}` while the job has no experiment or no run yet."""
        from shared.gcp.vertex_curves import read_curves

        if not job.experiment:
            return {}
        where = self._located(job.experiment)
        metadata, tensorboard = self._metadata_clients(where), self._tensorboard_clients(where)
        try:
            return read_curves(
                job.experiment,
                metadata=metadata,
                tensorboard=tensorboard,
                call=lambda fn, what: self._call(fn, what=what),
                timeout=self._timeout,
            )
        except NotFound:
            return {}

    def set_default_checkpoint(self, tuned_model_name: str, checkpoint_id: str) -> None:
        """PATCH the model's `defaultCheckpointId` with an update mask naming only that field.

        python-genai sends this PATCH without a mask; the generated v1 client requires one.
        The mask path `default_checkpoint_id` is the field's proto name; it is verified only
        against the local fake, so the smoke test must exercise it on a real project.
        """
        from google.cloud.aiplatform_v1 import types
        from google.protobuf import field_mask_pb2

        name = tuned_model_name.split("@", 1)[0]  # the model, not one of its versions
        model = types.Model(name=name, default_checkpoint_id=checkpoint_id)
        mask = field_mask_pb2.FieldMask(paths=["default_checkpoint_id"])
        client = self._model_clients(self._located(name))
        self._call(
            lambda: client.update_model(
                model=model, update_mask=mask, retry=None, timeout=self._timeout
            ),
            what=f"set default checkpoint {checkpoint_id} of {name}",
        )
