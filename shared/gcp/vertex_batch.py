"""`BatchPredictor` on Vertex AI's generated v1 `JobServiceClient` (batch prediction jobs).

Why the details matter (the batch-inference pages, catalog sources `batch_from_cloud_storage`):
- a job runs in the location of its model: a tuned model `projects/p/locations/L/models/ID`
  in L (the global endpoint does not take tuned models), a publisher model where the catalog
  says the base model answers for this deployment;
- input is `instances_format="jsonl"` from Cloud Storage, output `predictions_format="jsonl"`
  under a prefix; Vertex names the folder it wrote in `output_info.gcs_output_directory`;
- the run id rides in a label, so a create whose response was lost is found, not repeated.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar

from shared.catalog import BUILTIN, Catalog, resource_location
from shared.errors import PermanentError
from shared.gcp.vertex_clients import DEFAULT_RETRY, ClientsByLocation, RetryPolicy
from shared.gcp.vertex_tuning import RUN_ID_LABEL, normalise_state
from shared.ports import BatchJob, BatchJobSpec

T = TypeVar("T")


def batch_labels(spec: BatchJobSpec) -> dict[str, str]:
    """Caller labels plus the reconciliation labels, checked like tuning-job labels."""
    from shared.gcp.vertex_tuning import _LABEL_KEY, _LABEL_VALUE

    labels = {**spec.labels, RUN_ID_LABEL: spec.run_id}
    for key, value in labels.items():
        if not _LABEL_KEY.fullmatch(key) or not _LABEL_VALUE.fullmatch(value):
            raise PermanentError(
                f"batch job label {key}={value!r} is not valid on Vertex AI: lowercase letters, "
                "digits, '-' and '_' (keys start with a letter), at most 63 characters."
            )
    return labels


def _iso(job: Any, field: str) -> str | None:
    if field not in job:
        return None
    value = getattr(job, field)
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def to_batch_job(job: Any) -> BatchJob:
    """Port view of an `aiplatform_v1.BatchPredictionJob`."""
    labels = dict(job.labels)
    has_error = "error" in job and (job.error.code or job.error.message)
    info = job.output_info if "output_info" in job else None
    stats = job.completion_stats if "completion_stats" in job else None
    return BatchJob(
        name=job.name,
        state=normalise_state(job.state),
        model=job.model,
        display_name=job.display_name,
        labels=labels,
        output_dir=(info.gcs_output_directory or None) if info is not None else None,
        error_message=str(job.error.message) if has_error else None,
        succeeded=int(stats.successful_count) if stats is not None else None,
        failed=int(stats.failed_count) if stats is not None else None,
        create_time=_iso(job, "create_time"),
        end_time=_iso(job, "end_time"),
    )


class VertexBatchPredictor:
    """Batch prediction jobs for Gemini on Vertex AI (implements `ports.BatchPredictor`)."""

    def __init__(
        self,
        project: str,
        location: str,
        client: Any = None,
        *,
        catalog: Catalog = BUILTIN,
        api_endpoint: str | None = None,
        retry: RetryPolicy = DEFAULT_RETRY,
    ) -> None:
        self.project, self.location, self.catalog = project, location, catalog
        self._clients = ClientsByLocation("job", api_endpoint=api_endpoint, fixed=client)
        self._policy = retry
        self._timeout = retry.call_timeout_s

    def _call(self, fn: Callable[[], T], *, what: str) -> T:
        return self._policy.call(fn, what=what)

    def location_for(self, model: str) -> str:
        """Where a job for `model` runs: a tuned model's own location, else where the catalog
        says the base model answers for this deployment (its region first)."""
        own = resource_location(model)
        if own is not None:
            return own
        return self.catalog.serving_location(model, "base", self.location)

    def model_name(self, model: str) -> str:
        """`publishers/google/models/<id>` for a short base model name; resource names as
        given."""
        if "/" in model:
            return model
        return f"publishers/google/models/{self.catalog.normalize(model)}"

    def create_job(self, spec: BatchJobSpec) -> BatchJob:
        from google.cloud.aiplatform_v1 import types

        labels = batch_labels(spec)
        location = self.location_for(spec.model)
        client = self._clients(location)
        parent = client.common_location_path(self.project, location)
        job = types.BatchPredictionJob(
            display_name=spec.display_name,
            model=self.model_name(spec.model),
            labels=labels,
            input_config=types.BatchPredictionJob.InputConfig(
                instances_format="jsonl",
                gcs_source=types.GcsSource(uris=[spec.input_uri]),
            ),
            output_config=types.BatchPredictionJob.OutputConfig(
                predictions_format="jsonl",
                gcs_destination=types.GcsDestination(output_uri_prefix=spec.output_uri_prefix),
            ),
        )
        attempts = 0

        def create() -> BatchJob:
            nonlocal attempts
            attempts += 1
            if attempts > 1:  # the previous attempt may have created it before its answer was lost
                for existing in self._find_in(location, spec.run_id):
                    if existing.display_name == spec.display_name:
                        return existing
            created = client.create_batch_prediction_job(
                parent=parent, batch_prediction_job=job, retry=None, timeout=self._timeout
            )
            return to_batch_job(created)

        return self._call(create, what=f"create batch prediction job {spec.display_name}")

    def get_job(self, name: str) -> BatchJob:
        client = self._clients(resource_location(name) or self.location)
        job = self._call(
            lambda: client.get_batch_prediction_job(name=name, retry=None, timeout=self._timeout),
            what=f"get batch prediction job {name}",
        )
        return to_batch_job(job)

    def _find_in(self, location: str, run_id: str) -> list[BatchJob]:
        from google.cloud.aiplatform_v1 import types

        client = self._clients(location)
        request = types.ListBatchPredictionJobsRequest(
            parent=client.common_location_path(self.project, location),
            filter=f'labels.{RUN_ID_LABEL}="{run_id}"',
        )
        pager = client.list_batch_prediction_jobs(
            request=request, retry=None, timeout=self._timeout
        )
        # Never trust a server-side filter alone for reconciliation.
        return [j for j in map(to_batch_job, pager) if j.labels.get(RUN_ID_LABEL) == run_id]

    def find_jobs(self, run_id: str) -> list[BatchJob]:
        """Every location a job of this deployment can run in is listed: the region (tuned
        models) and wherever the catalog's base models answer from it (`us`, `global`...)."""
        where = dict.fromkeys([self.location, *(self.location_for(m.name) for m in self.catalog)])
        found: list[BatchJob] = []
        for loc in where:
            found += self._call(
                partial(self._find_in, loc, run_id),
                what=f"list batch jobs of run {run_id} in {loc}",
            )
        return found
