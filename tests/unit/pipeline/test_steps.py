"""Pipeline behaviour on the real local adapters: the main flow and the delivery faults."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from shared.errors import InvalidMessage, PermanentError, TransientError, handling
from shared.events import Envelope
from shared.pipeline import deadletter, launch, poll, validation
from shared.runs import RunStatus
from shared.simulator.config import SimConfig
from tests import changes

from .conftest import ZH_EXAMPLES, World, dataset_bytes, make_world

S = RunStatus
TEST_SET = dataset_bytes([(q.replace("？", "呢？"), a) for q, a in ZH_EXAMPLES[:4]])


def finish_training(world: World) -> None:
    world.advance_clock(1000)
    poll.poll_once(world.deps)
    world.pump()


def test_drop_to_succeeded_with_reports_and_events(world: World) -> None:
    obj = world.drop_dataset(test=TEST_SET)
    before = (world.root / "bucket" / obj.name).read_bytes()
    out = validation.handle_upload(world.deps, obj)
    assert out.action == "validated"
    rid = out.run_id
    assert rid
    world.pump()
    run = world.run(rid)
    assert run.status == S.TRAINING and run.job.name and run.job.simulated
    assert run.tuning.train_dataset == run.dataset.uri  # the seed's fields, from the layout
    assert run.tuning.test_dataset == run.dataset.test_uri
    assert run.tuning.validation_dataset is None
    finish_training(world)
    run = world.run(rid)
    assert run.status == S.SUCCEEDED, run.history
    assert set(run.evaluation.metrics) == {"exact_match", "bleu", "chrf", "rouge_l"}
    # The simulated tuned model knows the training answers; the base model does not.
    assert run.evaluation.metrics["chrf"]["tuned"] > run.evaluation.metrics["chrf"]["base"]  # type: ignore[operator]
    assert run.evaluation.simulated and run.simulated
    assert "judge" not in run.evaluation.summary  # the paid autorater is off by default
    for uri in (
        run.validation.report_uri,
        run.evaluation.report_uri,
        run.evaluation.predictions_uri,
    ):
        assert uri and uri.startswith("file://") and Path(uri[7:]).is_file()
        assert "/artifacts/" in uri
    json.loads(Path(run.evaluation.report_uri[7:]).read_text())  # type: ignore[index]
    assert [h.status for h in run.history] == [
        S.RECEIVED,
        S.VALIDATING,
        S.VALIDATED,
        S.TRAINING,
        S.TRAINED,
        S.EVALUATING,
        S.SUCCEEDED,
    ]
    assert world.events(rid) == [
        "VALIDATING",
        "VALIDATED",
        "TRAINING",
        "TRAINED",
        "EVALUATING",
        "SUCCEEDED",
    ]
    assert (world.root / "bucket" / obj.name).read_bytes() == before


def test_evaluation_judge_true_adds_a_simulated_pairwise_summary(world: World) -> None:
    obj = world.drop_dataset(test=TEST_SET, tuning_yaml="evaluation: {judge: true}\n")
    rid = validation.handle_upload(world.deps, obj).run_id or ""
    world.pump()
    finish_training(world)
    run = world.run(rid)
    assert run.status == S.SUCCEEDED, run.history
    judged = run.evaluation.summary["judge"]
    assert judged["simulated"] is True
    pw = judged["pairwise"]
    # The simulated tuned model answers from its training data; the base model does not.
    assert pw["judged"] == 4 and pw["candidate_wins"] > pw["baseline_wins"]
    assert pw["win_rate"] == pytest.approx((pw["candidate_wins"] + pw["ties"] / 2) / pw["judged"])
    report = json.loads(Path(run.evaluation.report_uri[7:]).read_text())  # type: ignore[index]
    assert report["judge"] == judged


def test_duplicate_events_make_one_run_and_one_job(world: World) -> None:
    obj = world.drop_dataset()
    first = validation.handle_upload(world.deps, obj)
    again = validation.handle_upload(world.deps, obj)
    assert again.action == "duplicate" and again.run_id == first.run_id
    world.pump()
    validation.handle_upload(world.deps, obj)  # late duplicate after training started
    world.pump()
    assert len(world.store.list_recent()) == 1
    assert len(world.tuner.find_jobs(first.run_id or "")) == 1


def test_concurrent_deliveries_from_threads_make_one_run_and_one_job(world: World) -> None:
    obj = world.drop_dataset()
    outcomes: list[str] = []
    errors: list[Exception] = []

    def deliver() -> None:
        try:
            outcomes.append(validation.handle_upload(world.deps, obj).action)
        except TransientError as e:  # "being validated by another delivery": retried later
            errors.append(e)

    threads = [threading.Thread(target=deliver) for _ in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count("validated") == 1
    for _ in errors:  # the platform redelivers what raised
        assert validation.handle_upload(world.deps, obj).action == "duplicate"
    world.pump()
    runs = world.store.list_recent()
    assert len(runs) == 1
    assert len(world.tuner.find_jobs(runs[0].run_id)) == 1


def test_reupload_is_a_new_run(world: World) -> None:
    a = validation.handle_upload(world.deps, world.drop_dataset())
    b = validation.handle_upload(world.deps, world.drop_dataset())
    assert a.run_id != b.run_id


def test_malformed_dataset_is_rejected_with_line_numbers_and_untouched(world: World) -> None:
    bad = dataset_bytes(ZH_EXAMPLES[:2]) + b'{"contents": [}\n' + dataset_bytes(ZH_EXAMPLES[2:3])
    obj = world.drop_dataset(train=bad)
    out = validation.handle_upload(world.deps, obj)
    assert out.action == "rejected"
    run = world.run(out.run_id or "")
    assert run.status == S.REJECTED
    assert run.error and run.error.stage == "validation"
    assert any(f["line"] == 3 for f in run.validation.findings)
    assert run.validation.report_uri
    assert (world.root / "bucket" / obj.name).read_bytes() == bad
    world.pump()
    assert world.tuner.find_jobs(run.run_id) == []


def test_bad_tuning_yaml_rejects_before_reading_the_data(world: World) -> None:
    out = validation.handle_upload(world.deps, world.drop_dataset(tuning_yaml="epochs: 3\n"))
    run = world.run(out.run_id or "")
    assert run.status == S.REJECTED
    assert run.validation.findings[0]["code"] == "invalid_config"
    assert "unknown key(s) 'epochs'" in (run.error.message if run.error else "")


@pytest.mark.parametrize(
    "name",
    [
        "train.jsonl",
        "other/ds/train.jsonl",
        "incoming/ds/notes.txt",
        "incoming/ds/validation.jsonl",
        "incoming/ds/.train.jsonl.part",
    ],
)
def test_objects_that_are_not_triggers_start_no_run(world: World, name: str) -> None:
    obj = world.drop(name, dataset_bytes(ZH_EXAMPLES))
    assert validation.handle_upload(world.deps, obj).action == "ignored"
    assert world.store.list_recent() == []


def test_events_older_than_the_limit_are_dropped(world: World) -> None:
    old = (datetime.now(UTC) - timedelta(days=2)).isoformat()
    env = Envelope(id="e1", type="t", source="s", time=old)
    assert validation.handle_upload(world.deps, world.drop_dataset(), env).action == "dropped"
    assert world.store.list_recent() == []


def test_dry_run_validates_only(world: World) -> None:
    out = validation.handle_upload(world.deps, world.drop_dataset(tuning_yaml="dry_run: true\n"))
    world.pump()
    run = world.run(out.run_id or "")
    assert run.status == S.VALIDATED and run.tuning.dry_run is True
    assert world.tuner.find_jobs(run.run_id) == []


def test_concurrency_limit_queues_and_the_poller_starts_oldest_first(tmp_path: Path) -> None:
    world = make_world(tmp_path, max_jobs=1)
    ids = [
        validation.handle_upload(world.deps, world.drop_dataset(f"ds{i}")).run_id or ""
        for i in range(3)
    ]
    world.pump()
    assert [world.run(i).status for i in ids] == [S.TRAINING, S.QUEUED, S.QUEUED]
    finish_training(world)
    assert world.run(ids[0]).status in (S.SUCCEEDED, S.EVALUATING, S.TRAINED)
    assert [world.run(i).status for i in ids[1:]] == [S.TRAINING, S.QUEUED]


def test_launcher_crash_after_create_finds_the_job_by_label(world: World) -> None:
    rid = validation.handle_upload(world.deps, world.drop_dataset()).run_id or ""
    run = world.run(rid)
    # The launcher claims the slot and creates the job, then dies before recording it.
    claimed = world.store.transition(
        rid, [S.VALIDATED], S.TRAINING, change=changes.job(state="CREATING")
    )
    assert claimed
    world.tuner.create_job(launch.job_spec(claimed))
    assert world.run(rid).job.name is None
    world.pump()  # the dataset-validated message is redelivered
    run = world.run(rid)
    assert run.job.name and len(world.tuner.find_jobs(rid)) == 1


def test_quota_refusal_leaves_the_run_queued(tmp_path: Path) -> None:
    world = make_world(tmp_path, max_jobs=5, sim=SimConfig(training_seconds=100, quota=1))
    a = validation.handle_upload(world.deps, world.drop_dataset("a")).run_id or ""
    b = validation.handle_upload(world.deps, world.drop_dataset("b")).run_id or ""
    world.pump()
    assert world.run(a).status == S.TRAINING
    run_b = world.run(b)
    assert run_b.status == S.QUEUED and "quota" in run_b.history[-1].note.lower()
    finish_training(world)
    assert world.run(b).status == S.TRAINING


def test_permanent_refusal_fails_the_run_with_the_api_message(tmp_path: Path) -> None:
    world = make_world(tmp_path, sim=SimConfig(permanent_error="base model is not available"))
    rid = validation.handle_upload(world.deps, world.drop_dataset()).run_id or ""
    world.pump()
    run = world.run(rid)
    assert run.status == S.FAILED and run.error and run.error.stage == "launch"
    assert "base model is not available" in run.error.message


def test_transient_errors_are_retried_then_succeed(tmp_path: Path) -> None:
    world = make_world(tmp_path, sim=SimConfig(training_seconds=100, transient_errors=2))
    rid = validation.handle_upload(world.deps, world.drop_dataset()).run_id or ""
    attempts = 0
    while True:  # what the platform does: redeliver until the handler returns
        attempts += 1
        try:
            launch.handle_validated(world.deps, rid)
            break
        except TransientError:
            assert attempts < 10
    assert attempts == 3
    assert world.run(rid).job.name and len(world.tuner.find_jobs(rid)) == 1


def test_failed_job_records_the_job_error(tmp_path: Path) -> None:
    world = make_world(
        tmp_path,
        sim=SimConfig(
            training_seconds=100, fail_jobs="all", fail_message="dataset has too few examples"
        ),
    )
    rid = validation.handle_upload(world.deps, world.drop_dataset()).run_id or ""
    world.pump()
    finish_training(world)
    run = world.run(rid)
    assert run.status == S.FAILED and run.error and run.error.stage == "training"
    assert "too few examples" in run.error.message


def test_dead_lettered_message_fails_the_run_with_the_reason(world: World) -> None:
    rid = validation.handle_upload(world.deps, world.drop_dataset()).run_id or ""
    assert deadletter.record_dead_letter(
        world.deps, {"run_id": rid}, "boom: KeyError 'x'", attempts=5, stage="launch"
    )
    run = world.run(rid)
    assert run.status == S.FAILED and run.error
    assert "after 5 attempts" in run.error.message and "boom" in run.error.message


def test_poller_reads_only_active_runs(world: World) -> None:
    for i in range(5):
        rid = validation.handle_upload(
            world.deps, world.drop_dataset(f"bad{i}", train=b"not json\n")
        ).run_id
        assert world.run(rid or "").status == S.REJECTED
    store = world.store
    before = store.reads
    report = poll.poll_once(world.deps)
    assert report.checked == 0
    assert store.reads - before == 0


def test_a_permanent_evaluation_error_fails_the_run_instead_of_leaving_it_evaluating(
    world: World,
) -> None:
    from shared.errors import PermanentError
    from shared.pipeline import evaluate

    rid = validation.handle_upload(world.deps, world.drop_dataset(test=TEST_SET)).run_id or ""
    world.pump()
    # test.jsonl is replaced during training by one whose examples all lack a model turn.
    world.drop(
        "incoming/ds/test.jsonl", b'{"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}\n'
    )
    world.advance_clock(1000)
    poll.poll_once(world.deps)
    with pytest.raises(PermanentError):
        world.pump()
    run = world.run(rid)
    assert run.status == S.FAILED and run.error and run.error.stage == "evaluation"
    assert evaluate.handle_evaluation_request(world.deps, rid).startswith("nothing to do")


def test_cancel_a_queued_run_and_a_training_run(tmp_path: Path) -> None:
    from shared.errors import PermanentError
    from shared.pipeline.cancel import cancel_run

    world = make_world(tmp_path, max_jobs=1)
    a = validation.handle_upload(world.deps, world.drop_dataset("a")).run_id or ""
    b = validation.handle_upload(world.deps, world.drop_dataset("b")).run_id or ""
    world.pump()
    assert (world.run(a).status, world.run(b).status) == (S.TRAINING, S.QUEUED)
    assert "cancelled" in cancel_run(world.deps, b)
    assert world.run(b).status == S.CANCELLED
    assert "cancel requested" in cancel_run(world.deps, a)
    world.advance_clock(5)  # the simulator takes a moment to stop the job
    poll.poll_once(world.deps)
    run = world.run(a)
    assert run.status == S.CANCELLED and run.job.state == "CANCELLED"
    with pytest.raises(PermanentError, match="already ended"):
        cancel_run(world.deps, a)
    with pytest.raises(PermanentError, match="no run"):
        cancel_run(world.deps, "nope")


def test_a_sibling_replaced_during_validation_fails_the_run_with_what_to_do(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    obj = world.drop_dataset(test=TEST_SET)
    blobs = world.deps.blobs
    real_stat = blobs.stat

    def stat_then_replace(bucket: str, name: str) -> object:
        info = real_stat(bucket, name)
        if name.endswith("test.jsonl"):  # someone uploads a new test.jsonl right after the look
            world.drop(name, TEST_SET + b"\n")
        return info

    monkeypatch.setattr(blobs, "stat", stat_then_replace)
    out = validation.handle_upload(world.deps, obj)
    run = world.run(out.run_id or "")
    assert out.action == "failed" and run.status == S.FAILED and run.error
    assert run.error.code == "superseded" and "upload train.jsonl again" in run.error.message


def test_the_eval_set_is_the_generation_that_was_validated(world: World) -> None:
    """Overwriting test.jsonl while the run trains must not score the run on an unvalidated
    file: the run fails and says why (and the new file is left for a new run)."""
    rid = validation.handle_upload(world.deps, world.drop_dataset(test=TEST_SET)).run_id or ""
    world.pump()
    run = world.run(rid)
    assert run.dataset.test_name == "incoming/ds/test.jsonl" and run.dataset.test_generation
    world.drop("incoming/ds/test.jsonl", b'{"not": "validated"}\n')  # a new generation
    world.advance_clock(1000)
    poll.poll_once(world.deps)
    with pytest.raises(PermanentError, match="replaced or deleted after validation"):
        world.pump()
    run = world.run(rid)
    assert run.status == S.FAILED and run.error is not None
    assert run.error.code == "eval_set_replaced" and run.error.stage == "evaluation"


def test_messages_without_a_known_run_are_acknowledged_not_retried(world: World) -> None:
    for run_id in (None, "no-such-run"):
        with pytest.raises(InvalidMessage):
            launch.handle_validated(world.deps, run_id)
        assert handling(InvalidMessage("x")) == "acknowledge"


@pytest.mark.parametrize("data", [b"", b"\x1f\x8b\x08\x00" + b"\x00" * 20, "{}\n".encode("utf-16")])
def test_a_finding_about_the_whole_file_names_no_line(world: World, data: bytes) -> None:
    out = validation.handle_upload(world.deps, world.drop_dataset(train=data))
    run = world.run(out.run_id or "")
    assert run.status == S.REJECTED and run.error is not None
    assert "line None" not in run.error.message and "None" not in run.error.message
    assert run.error.message.endswith("(incoming/ds/train.jsonl)"), run.error.message


def test_a_dataset_folder_name_submit_refuses_is_rejected_by_the_validator(world: World) -> None:
    name = "incoming/" + "x" * 101 + "/train.jsonl"
    run = world.run(validation.handle_upload(world.deps, world.drop(name, b"{}\n")).run_id or "")
    assert run.status == S.REJECTED and run.error is not None
    assert run.error.code == "invalid_dataset_name" and "rename the folder" in run.error.message


def test_the_run_keeps_a_few_findings_of_each_code_so_one_kind_cannot_hide_the_others() -> None:
    from types import SimpleNamespace

    noisy = [SimpleNamespace(code="near_duplicate_examples", line=i) for i in range(30)]
    other = [SimpleNamespace(code="short_model_answer", line=99)]
    kept = validation._on_run(noisy + other)
    assert [f.code for f in kept].count("near_duplicate_examples") == validation.FINDINGS_PER_CODE
    assert kept[-1].code == "short_model_answer"


@pytest.mark.parametrize(
    ("drop", "code", "path"),
    [
        ({"tuning_yaml": "epochs: 3\n"}, "invalid_config", ""),
        (
            {"tuning_yaml": "source_model_name: gemini-2.0-flash\n"},
            "model_retired",
            "source_model_name",
        ),
        ({"tuning_yaml": "continue_from: {run: nope}\n"}, "invalid_continue_from", "continue_from"),
    ],
)
def test_run_level_findings_have_the_validators_shape(
    world: World, drop: dict[str, str], code: str, path: str
) -> None:
    from shared.datasets import CODES

    run = world.run(validation.handle_upload(world.deps, world.drop_dataset(**drop)).run_id or "")  # type: ignore[arg-type]
    assert run.status == S.REJECTED
    f = run.validation.findings[0]
    assert f == {
        "code": code,
        "file": "incoming/ds/tuning.yaml",
        "line": None,
        "path": path,
        "message": f["message"],
    }
    assert CODES[code] == "error" and f["message"]


def test_a_refused_dataset_name_is_a_registered_finding(world: World) -> None:
    from shared.datasets import CODES

    name = "incoming/" + "x" * 101 + "/train.jsonl"
    run = world.run(validation.handle_upload(world.deps, world.drop(name, b"{}\n")).run_id or "")
    (f,) = run.validation.findings
    assert f["code"] in CODES and f["path"] == "" and f["file"] == name


def test_every_model_problem_code_of_the_catalog_is_registered() -> None:
    import re
    from pathlib import Path

    from shared.datasets import CODES

    source = (Path(__file__).parents[3] / "shared" / "catalog.py").read_text(encoding="utf-8")
    found = re.findall(r'ModelProblem\(\s*"(error|warning)",\s*"(\w+)"', source)
    assert len(found) >= 6
    for severity, code in found:
        assert CODES.get(code) == severity, code
