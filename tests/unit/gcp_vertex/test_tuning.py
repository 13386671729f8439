"""VertexTuner on the official REST client against the wire fake: encoding, states, errors."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from shared.errors import NotFound, PermanentError, QuotaExceeded, TransientError
from shared.gcp.vertex import ADAPTER_SIZE_NAMES, VertexTuner, console_url, normalise_state
from shared.ports import (
    JOB_ACTIVE_STATES,
    JOB_CANCELLED_STATES,
    JOB_FAILURE_STATES,
    JOB_SUCCESS_STATES,
    TuningJobSpec,
)
from tests.fakes.vertex_fake import ADAPTER_SIZE_BY_WIRE, JOB_STATE_WIRE, VertexFake
from tests.unit.gcp_vertex.conftest import FAST, LOCATION, PROJECT

Spec = Callable[..., TuningJobSpec]


def test_create_sends_the_v1_rest_shape(tuner: VertexTuner, fake: VertexFake, spec: Spec) -> None:
    job = tuner.create_job(spec())
    (req,) = fake.requests_for("create")
    assert req.path == f"/v1/{fake.parent}/tuningJobs"
    assert req.query["$alt"] == ["json;enum-encoding=int"]
    body = req.body
    assert body["baseModel"] == "gemini-3.5-flash"
    assert body["tunedModelDisplayName"] == "cs-zh tuned"
    assert body["labels"] == {
        "team": "support",
        "run_id": "cs-zh-0123456789ab",
        "display_name": "gtp-cs-zh-0123456789ab",
    }
    sft = body["supervisedTuningSpec"]
    assert sft["trainingDatasetUri"] == "gs://ds/incoming/cs-zh/train.jsonl"
    assert sft["validationDatasetUri"] == "gs://ds/incoming/cs-zh/validation.jsonl"
    assert sft["exportLastCheckpointOnly"] is True
    hp = sft["hyperParameters"]
    assert int(hp["epochCount"]) == 3 and hp["learningRateMultiplier"] == 0.5
    assert isinstance(hp["adapterSize"], int)
    assert job.state == "PENDING" and job.display_name == "gtp-cs-zh-0123456789ab"
    assert job.name.startswith(f"{fake.parent}/tuningJobs/")


def test_validation_dataset_is_omitted_when_absent(
    tuner: VertexTuner, fake: VertexFake, spec: Spec
) -> None:
    tuner.create_job(spec(validation_dataset_uri=None))
    assert "validationDatasetUri" not in fake.requests_for("create")[0].body["supervisedTuningSpec"]


@pytest.mark.parametrize("size", sorted(ADAPTER_SIZE_NAMES))
def test_adapter_size_maps_by_name_not_number(
    tuner: VertexTuner, fake: VertexFake, spec: Spec, size: int
) -> None:
    model = "gemini-3.5-flash" if size <= 16 else "gemini-3.5-flash-fake-32"
    tuner.create_job(spec(adapter_size=size, base_model=model))
    wire = fake.requests_for("create")[0].body["supervisedTuningSpec"]["hyperParameters"]
    assert ADAPTER_SIZE_BY_WIRE[wire["adapterSize"]] == size


def test_unsupported_adapter_size_is_permanent_with_the_api_message(
    tuner: VertexTuner, fake: VertexFake, spec: Spec
) -> None:
    with pytest.raises(PermanentError, match="adapter size is not supported for this base model"):
        tuner.create_job(spec(adapter_size=32))
    assert len(fake.requests_for("create")) == 1  # a 400 is never retried


def test_nonexistent_adapter_size_fails_before_calling(
    tuner: VertexTuner, fake: VertexFake, spec: Spec
) -> None:
    with pytest.raises(PermanentError, match="adapter_size 3 does not exist"):
        tuner.create_job(spec(adapter_size=3))
    assert fake.requests_for("create") == []


def test_invalid_label_fails_before_calling(
    tuner: VertexTuner, fake: VertexFake, spec: Spec
) -> None:
    with pytest.raises(PermanentError, match="lowercase letters"):
        tuner.create_job(spec(labels={"Team": "Support"}))
    assert fake.requests_for("create") == []


@pytest.mark.parametrize("state", sorted(JOB_STATE_WIRE))
def test_every_vertex_state_normalises_to_a_port_state(
    tuner: VertexTuner, fake: VertexFake, spec: Spec, state: str
) -> None:
    job = tuner.create_job(spec())
    fake.finish(job.name, state, "boom" if state == "FAILED" else None)
    got = tuner.get_job(job.name)
    assert got.state == state
    known = JOB_ACTIVE_STATES | JOB_SUCCESS_STATES | JOB_FAILURE_STATES | JOB_CANCELLED_STATES
    assert got.state in known


def test_succeeded_job_reports_tuned_model_and_endpoint(
    tuner: VertexTuner, fake: VertexFake, spec: Spec
) -> None:
    job = tuner.create_job(spec())
    fake.finish(job.name, "SUCCEEDED")
    got = tuner.get_job(job.name)
    assert got.tuned_model_endpoint and got.tuned_model_endpoint.startswith(fake.parent)
    assert got.tuned_model_name and "/models/" in got.tuned_model_name
    assert got.end_time and got.error_message is None


def test_failed_job_carries_the_service_error(
    tuner: VertexTuner, fake: VertexFake, spec: Spec
) -> None:
    job = tuner.create_job(spec())
    fake.finish(job.name, "FAILED", "dataset row 7 is malformed")
    got = tuner.get_job(job.name)
    assert got.state == "FAILED"
    assert got.error_message == "dataset row 7 is malformed" and got.error_code == 3


def test_unspecified_state_reads_as_pending() -> None:
    assert normalise_state(0) == "PENDING"


def test_console_url(tuner: VertexTuner, spec: Spec) -> None:
    job = tuner.create_job(spec())
    job_id = job.name.rsplit("/", 1)[-1]
    assert job.console_url == (
        "https://console.cloud.google.com/vertex-ai/generative/language/locations/europe-west4"
        f"/tuning/tuningJob/{job_id}?project=unit-project"
    )
    assert console_url("not/a/job", "p") is None


def test_find_jobs_filters_by_run_label_across_pages(
    tuner: VertexTuner, fake: VertexFake, spec: Spec
) -> None:
    fake.state.page_size = 2
    mine = {tuner.create_job(spec()).name for _ in range(3)}
    tuner.create_job(spec(run_id="other-run", display_name="gtp-other-run"))
    found = tuner.find_jobs(spec().run_id)
    assert {j.name for j in found} == mine
    assert fake.requests_for("list")[0].query["filter"] == ['labels.run_id="cs-zh-0123456789ab"']
    assert tuner.find_jobs("never-launched") == []


def test_find_jobs_falls_back_to_a_paged_unfiltered_list_when_the_filter_is_refused(
    tuner: VertexTuner, fake: VertexFake, spec: Spec
) -> None:
    fake.state.reject_filters = True
    fake.state.page_size = 2
    mine = {tuner.create_job(spec()).name for _ in range(3)}
    tuner.create_job(spec(run_id="other-run", display_name="gtp-other-run"))
    assert {j.name for j in tuner.find_jobs(spec().run_id)} == mine
    lists = fake.requests_for("list")
    assert lists[0].query["filter"] == ['labels.run_id="cs-zh-0123456789ab"']
    assert all("filter" not in r.query for r in lists[1:])
    assert len(lists) == 3, "one refused filtered call, then four jobs read two pages at a time"


def test_transient_errors_are_retried(tuner: VertexTuner, fake: VertexFake, spec: Spec) -> None:
    job = tuner.create_job(spec())
    fake.fail_next(1, 503, method="get")
    fake.fail_next(1, 504, method="get")
    fake.fail_next(1, 429, method="get")  # a rate limit on reads is not the tuning quota
    assert tuner.get_job(job.name).name == job.name
    assert len(fake.requests_for("get")) == 4


def test_transient_errors_past_the_deadline_raise_transient(
    tuner: VertexTuner, fake: VertexFake, spec: Spec
) -> None:
    job = tuner.create_job(spec())
    fake.fail_next(10_000, 503, method="get")
    with pytest.raises(TransientError, match="gave up after"):
        tuner.get_job(job.name)


def test_quota_on_create_raises_quota_exceeded_without_retrying(
    tuner: VertexTuner, fake: VertexFake, spec: Spec
) -> None:
    fake.fail_next(1, 429, method="create", message="Quota exceeded: concurrent tuning jobs")
    with pytest.raises(QuotaExceeded, match="concurrent tuning jobs"):
        tuner.create_job(spec())
    assert len(fake.requests_for("create")) == 1 and fake.state.jobs == {}


def test_lost_create_response_does_not_create_a_second_job(
    tuner: VertexTuner, fake: VertexFake, spec: Spec
) -> None:
    fake.lose_response(1, 503, method="create")
    job = tuner.create_job(spec())
    assert list(fake.state.jobs) == [job.name]
    assert len(fake.requests_for("create")) == 1


def test_unknown_job_is_not_found(tuner: VertexTuner, fake: VertexFake) -> None:
    with pytest.raises(NotFound):
        tuner.get_job(f"{fake.parent}/tuningJobs/424242")


def test_cancel_running_job_and_cancel_again_is_harmless(
    tuner: VertexTuner, fake: VertexFake, spec: Spec
) -> None:
    job = tuner.create_job(spec())
    fake.finish(job.name, "RUNNING")
    tuner.cancel_job(job.name)
    assert tuner.get_job(job.name).state in JOB_CANCELLED_STATES
    tuner.cancel_job(job.name)  # already ended: nothing to do, no error
    done = tuner.create_job(spec())
    fake.finish(done.name, "SUCCEEDED")
    tuner.cancel_job(done.name)
    assert tuner.get_job(done.name).state == "SUCCEEDED"


def test_unset_hyperparameters_are_not_sent(
    tuner: VertexTuner, fake: VertexFake, spec: Spec
) -> None:
    """Vertex applies its recommended values only to fields the request leaves out."""
    tuner.create_job(spec(epoch_count=None, learning_rate_multiplier=None, adapter_size=None))
    hp = fake.requests_for("create")[0].body["supervisedTuningSpec"].get("hyperParameters", {})
    assert not {"epochCount", "learningRateMultiplier", "adapterSize"} & set(hp)


def test_continued_tuning_sends_the_pre_tuned_model_not_a_base_model(
    tuner: VertexTuner, fake: VertexFake, spec: Spec
) -> None:
    tuned = f"{fake.parent}/models/123"
    tuner.create_job(spec(pre_tuned_model=tuned, pre_tuned_checkpoint="2"))
    body = fake.requests_for("create")[0].body
    assert body["preTunedModel"] == {"tunedModelName": tuned, "checkpointId": "2"}
    assert "baseModel" not in body


def test_a_finished_job_maps_stats_checkpoints_and_effective_hyperparameters() -> None:
    """The mapping reads the official v1 proto types (built here, as the client returns them)."""
    from google.cloud.aiplatform_v1 import types

    from shared.gcp.vertex_tuning import to_tuning_job

    hyper = types.SupervisedHyperParameters(
        epoch_count=4,
        learning_rate_multiplier=1.0,
        adapter_size=types.SupervisedHyperParameters.AdapterSize.ADAPTER_SIZE_EIGHT,
    )
    job = types.TuningJob(
        name="projects/p/locations/us-central1/tuningJobs/9",
        base_model="gemini-3.5-flash",
        state=types.JobState.JOB_STATE_SUCCEEDED,
        experiment="projects/p/locations/us-central1/metadataStores/default/contexts/e9",
        supervised_tuning_spec=types.SupervisedTuningSpec(hyper_parameters=hyper),
        tuned_model=types.TunedModel(
            model="projects/p/locations/us-central1/models/5@1",
            endpoint="projects/p/locations/us-central1/endpoints/7",
            checkpoints=[
                types.TunedModelCheckpoint(checkpoint_id="1", epoch=1, step=10, endpoint="e/1"),
                types.TunedModelCheckpoint(checkpoint_id="2", epoch=2, step=20, endpoint="e/2"),
            ],
        ),
        tuning_data_stats=types.TuningDataStats(
            supervised_tuning_data_stats=types.SupervisedTuningDataStats(
                tuning_dataset_example_count=227,
                total_billable_token_count=274_000,
                tuning_step_count=120,
                total_truncated_example_count=2,
                truncated_example_indices=[17, 88],
            )
        ),
    )
    got = to_tuning_job(job, "p")
    assert (got.epoch_count, got.learning_rate_multiplier, got.adapter_size) == (4, 1.0, 8)
    assert [(c.checkpoint_id, c.epoch, c.step) for c in got.checkpoints] == [
        ("1", 1, 10),
        ("2", 2, 20),
    ]
    assert got.stats is not None and got.stats.billable_tokens == 274_000
    assert got.stats.truncated_examples == 2 and got.stats.truncated_example_indices == (17, 88)
    assert got.experiment and got.base_model == "gemini-3.5-flash"


def test_jobs_run_as_the_dedicated_tuning_account_when_one_is_set(
    fake: VertexFake, spec: Spec
) -> None:
    # Least privilege (defect 9): without it the job runs as Vertex's Secure Fine-Tuned Service
    # Agent, which infra/ does not grant the datasets bucket.
    email = "gtp-tuning@unit-project.iam.gserviceaccount.com"
    tuner = VertexTuner(
        PROJECT, LOCATION, api_endpoint=fake.endpoint, service_account=email, **FAST
    )
    tuner.create_job(spec())
    (req,) = fake.requests_for("create")
    assert req.body["serviceAccount"] == email


def test_no_service_account_is_sent_when_none_is_set(
    tuner: VertexTuner, fake: VertexFake, spec: Spec
) -> None:
    tuner.create_job(spec())
    (req,) = fake.requests_for("create")
    assert "serviceAccount" not in req.body


def test_default_checkpoint_is_patched_with_an_update_mask(
    tuner: VertexTuner, fake: VertexFake, spec: Spec
) -> None:
    job = tuner.create_job(spec(export_last_checkpoint_only=False))
    fake.finish(job.name, "SUCCEEDED")
    model = tuner.get_job(job.name).tuned_model_name
    assert model and model.endswith("@1")
    tuner.set_default_checkpoint(model, "2")
    (req,) = fake.requests_for("update_model")
    assert req.path == f"/v1/{model.split('@')[0]}"
    assert req.query["updateMask"] == ["defaultCheckpointId"]
    assert req.body["defaultCheckpointId"] == "2"
    assert fake.state.default_checkpoints[model.split("@")[0]] == "2"


def test_training_curves_are_read_from_the_experiments_tensorboard(
    tuner: VertexTuner, fake: VertexFake, spec: Spec
) -> None:
    job = tuner.create_job(spec())
    assert tuner.training_curves(tuner.get_job(job.name)) == {}  # no experiment yet
    loss = [(s, 2.0 / s) for s in range(1, 8)]  # 7 points: three pages of the export
    fake.set_curves(job.name, {"train_total_loss": loss, "eval_total_loss": loss[:4]})
    running = tuner.get_job(job.name)
    assert running.experiment and running.experiment.endswith(f"-{job.name.rsplit('/', 1)[-1]}")
    curves = tuner.training_curves(running)
    assert dict(curves) == {"train_total_loss": loss, "eval_total_loss": loss[:4]}
    (listed,) = fake.requests_for("list_contexts")
    assert listed.query["filter"] == [
        f'schema_title="system.ExperimentRun" AND parent_contexts:"{running.experiment}"'
    ]
    assert len(fake.requests_for("export_time_series")) == 3 + 2  # every page, both series
