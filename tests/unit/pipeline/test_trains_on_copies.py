"""The job trains on exactly what was validated (issue 16, defects 7 and 2).

Vertex AI reads a training file by URI, not by generation. The validator therefore copies the
uploaded generations into the run's own prefix of the artifacts bucket before it reads them,
and the job trains on those copies; the launcher checks before it creates a paid job that the
copies and the held-out test set are still as validated. These tests replace and delete files
at the moments the issue names, on the real local adapters and the simulator.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import urlparse
from urllib.request import url2pathname

from shared.local.blobs import FolderBlobs
from shared.pipeline import launch, layout, poll, validation
from shared.runs import RunStatus

from .conftest import ZH_EXAMPLES, World, dataset_bytes, make_world

S = RunStatus
VALIDATED = dataset_bytes(ZH_EXAMPLES)  # six examples
REPLACEMENT = dataset_bytes(ZH_EXAMPLES[:2] * 20)  # forty others


def _path(uri: str) -> Path:
    return Path(url2pathname(urlparse(uri).path))


def _finish_training(world: World) -> None:
    world.advance_clock(1000)
    poll.poll_once(world.deps)
    world.pump()


def _job_trained_on(world: World, run_id: str) -> bytes:
    """The bytes the (simulated) Vertex AI job of this run was given."""
    jobs = world.tuner.find_jobs(run_id)
    assert len(jobs) == 1, jobs
    spec_uri = launch.job_spec(world.run(run_id)).training_dataset_uri
    return _path(spec_uri).read_bytes()


def test_train_replaced_while_queued_the_old_run_trains_on_what_it_validated(
    tmp_path: Path,
) -> None:
    world = make_world(tmp_path, max_jobs=1)
    busy = validation.handle_upload(world.deps, world.drop_dataset("busy")).run_id or ""
    old = validation.handle_upload(world.deps, world.drop_dataset("ds", train=VALIDATED))
    world.pump()
    assert (world.run(busy).status, world.run(old.run_id or "").status) == (S.TRAINING, S.QUEUED)

    new_obj = world.drop_dataset("ds", train=REPLACEMENT)  # replaced while QUEUED
    new = validation.handle_upload(world.deps, new_obj)
    assert new.run_id != old.run_id and new.action == "validated"

    _finish_training(world)
    old_run = world.run(old.run_id or "")
    assert old_run.status == S.TRAINING, old_run.error
    assert old_run.validation.summary["examples"] == 6
    assert _job_trained_on(world, old_run.run_id) == VALIDATED
    copy = old_run.dataset.trains_on["train"]
    assert copy.bucket == world.deps.settings.artifacts_bucket
    assert copy.name == layout.tuning_input_name(old_run.run_id, "train")
    assert old_run.job.stats is None or old_run.job.stats.examples == 6


class _ReplacedOnFirstRead(FolderBlobs):
    """A folder bucket where someone uploads a new train.jsonl the moment the validator
    starts reading (the issue's 106 MB file replaced mid-validation)."""

    def __init__(self, root: Path, upload: str, data: bytes) -> None:
        super().__init__(root)
        self._upload, self._data, self._done = upload, data, False

    def open_read(self, bucket: str, name: str, *, generation: str | None = None) -> BinaryIO:
        stream = super().open_read(bucket, name, generation=generation)
        if not self._done and name.endswith("train.jsonl"):
            self._done = True
            self.write_bytes("bucket", self._upload, self._data)
        return stream


def test_train_replaced_mid_validation_the_old_run_trains_on_what_it_validated(
    tmp_path: Path,
) -> None:
    world = make_world(tmp_path)
    upload = "incoming/ds/train.jsonl"
    blobs = _ReplacedOnFirstRead(world.root, upload, REPLACEMENT)
    world.deps.__dict__["blobs"] = blobs  # same folders, with a racing writer
    old = validation.handle_upload(world.deps, world.drop(upload, VALIDATED))
    assert old.action == "validated", old
    world.pump()
    old_run = world.run(old.run_id or "")
    assert old_run.status == S.TRAINING, old_run.error
    assert old_run.validation.summary["examples"] == 6
    assert _job_trained_on(world, old_run.run_id) == VALIDATED
    assert (world.root / "bucket" / upload).read_bytes() == REPLACEMENT

    info = blobs.stat("bucket", upload)
    assert info is not None
    from shared.events import StorageObject

    new_obj = StorageObject(info.bucket, info.name, info.generation, info.size, info.md5)
    new = validation.handle_upload(world.deps, new_obj)  # the new upload's own event
    assert new.run_id != old.run_id and new.action == "validated"
    assert world.run(new.run_id or "").validation.summary["examples"] == 40


def test_test_set_deleted_while_queued_fails_before_any_job(tmp_path: Path) -> None:
    world = make_world(tmp_path, max_jobs=1)
    validation.handle_upload(world.deps, world.drop_dataset("busy"))
    out = validation.handle_upload(
        world.deps, world.drop_dataset("ds", test=dataset_bytes(ZH_EXAMPLES[:3]))
    )
    rid = out.run_id or ""
    world.pump()
    assert world.run(rid).status == S.QUEUED
    (world.root / "bucket" / "incoming/ds/test.jsonl").unlink()

    _finish_training(world)
    run = world.run(rid)
    assert run.status == S.FAILED
    assert run.error is not None and run.error.code == "dataset_changed"
    assert "test file" in run.error.message and "was deleted" in run.error.message
    assert "Upload the dataset's train.jsonl again" in run.error.message
    assert world.tuner.find_jobs(rid) == []  # noticed before the paid training


def test_training_copy_deleted_before_launch_fails_before_any_job(tmp_path: Path) -> None:
    world = make_world(tmp_path, max_jobs=1)
    validation.handle_upload(world.deps, world.drop_dataset("busy"))
    rid = validation.handle_upload(world.deps, world.drop_dataset("ds")).run_id or ""
    world.pump()
    copy = world.run(rid).dataset.trains_on["train"]
    (world.root / copy.bucket / copy.name).unlink()  # e.g. the artifacts retention rule
    _finish_training(world)
    run = world.run(rid)
    assert run.status == S.FAILED and run.error is not None
    assert run.error.code == "dataset_changed" and "train file" in run.error.message
    assert world.tuner.find_jobs(rid) == []


def test_redacted_run_trains_on_the_masked_copy_of_its_own_copy(world: World) -> None:
    phone = "13912345678"
    pairs: list[Any] = [*ZH_EXAMPLES, (f"我的手机号是{phone}", "好的")]
    obj = world.drop_dataset(train=dataset_bytes(pairs), tuning_yaml="privacy: {policy: redact}\n")
    rid = validation.handle_upload(world.deps, obj).run_id or ""
    world.pump()
    run = world.run(rid)
    on = run.dataset.trains_on["train"]
    assert on.name == layout.redacted_name(rid, "train") and on.name.startswith("tuning-inputs/")
    assert launch.job_spec(run).training_dataset_uri == on.uri == run.dataset.redacted_train_uri
    assert phone.encode() not in _job_trained_on(world, rid)
