"""The training curves of a Vertex AI tuning job, read where the console reads them.

`TuningJob.experiment` is a Vertex ML Metadata context (a `system.Experiment`); its metadata
names the backing TensorBoard (`backing_tensorboard_resource`); its child context with schema
`system.ExperimentRun` is the run. The TensorBoard run is
`<tensorboard>/experiments/<experiment id>/runs/<run id>` (the run context's id minus the
experiment's id and a dash), and its time series are `/train_total_loss`,
`/train_fraction_of_correct_next_step_preds`, `/train_num_predictions` and the `/eval_*` twins
(only with a validation set). This is how Google's notebook
`gemini/tuning/sft_gemini_summarization.ipynb` (GoogleCloudPlatform/generative-ai) reads them,
through the SDK; here the generated v1 clients make the same calls: MetadataService.GetContext,
ListContexts, TensorboardService.ListTensorboardTimeSeries and ExportTensorboardTimeSeriesData
(paged, every point). Checked against the local fake only (2026-11-30): the smoke test on a
real project must confirm the names.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from shared.errors import NotFound
from shared.ports import TrainingCurves

TENSORBOARD_KEY = "backing_tensorboard_resource"
RUN_SCHEMA = "system.ExperimentRun"


def tensorboard_run(experiment: Any, run_context: Any) -> str:
    """`<tensorboard>/experiments/<experiment id>/runs/<run id>` for an experiment and its run."""
    board = experiment.metadata.get(TENSORBOARD_KEY) if experiment.metadata else None
    if not board:
        raise NotFound(f"experiment {experiment.name} has no backing TensorBoard")
    exp_id = experiment.name.rsplit("/", 1)[-1]
    run_id = run_context.name.rsplit("/", 1)[-1].removeprefix(exp_id).lstrip("-")
    return f"{board}/experiments/{exp_id}/runs/{run_id}"


def read_curves(
    experiment_name: str,
    *,
    metadata: Any,
    tensorboard: Any,
    call: Callable[[Callable[[], Any], str], Any],
    timeout: float,
) -> TrainingCurves:
    """Every series of the experiment's run, `{name without the leading slash: [(step, value)]}`
    in step order. An experiment without a run yet gives `{}`."""
    from google.cloud.aiplatform_v1 import types

    experiment = call(
        lambda: metadata.get_context(name=experiment_name, retry=None, timeout=timeout),
        f"experiment {experiment_name}",
    )
    store = experiment_name.rsplit("/contexts/", 1)[0]
    request = types.ListContextsRequest(
        parent=store,
        filter=f'schema_title="{RUN_SCHEMA}" AND parent_contexts:"{experiment_name}"',
    )
    runs = call(
        lambda: list(metadata.list_contexts(request=request, retry=None, timeout=timeout)),
        f"runs of experiment {experiment_name}",
    )
    if not runs:
        return {}
    run = tensorboard_run(experiment, runs[0])
    series = call(
        lambda: list(
            tensorboard.list_tensorboard_time_series(parent=run, retry=None, timeout=timeout)
        ),
        f"time series of {run}",
    )
    out: dict[str, list[tuple[int, float]]] = {}
    for ts in series:
        name = str(ts.display_name).lstrip("/")
        req = types.ExportTensorboardTimeSeriesDataRequest(tensorboard_time_series=ts.name)

        def export(r: Any = req) -> list[Any]:
            pages = tensorboard.export_tensorboard_time_series_data(
                request=r, retry=None, timeout=timeout
            )
            return list(pages)

        points = call(export, f"points of {ts.name}")
        values = [(int(p.step), float(p.scalar.value)) for p in points if "scalar" in p]
        out[name] = sorted(values)
    return out
