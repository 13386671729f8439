"""The personal-data policy in the pipeline: warn, reject, or train on a redacted copy."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse
from urllib.request import url2pathname

from shared.pipeline import launch, validation
from shared.runs import RunStatus

from .conftest import ZH_EXAMPLES, World, dataset_bytes, make_world

S = RunStatus
PHONE = "13912345678"
WITH_PHONE = [*ZH_EXAMPLES, ("我的手机号是13912345678，帮我查一下订单。", "好的，已为您查询。")]


def _path(uri: str) -> Path:
    return Path(url2pathname(urlparse(uri).path))


def test_redact_trains_on_a_masked_copy_and_leaves_the_upload_alone(world: World) -> None:
    data = dataset_bytes(WITH_PHONE)
    obj = world.drop_dataset(train=data, tuning_yaml="privacy: {policy: redact}\n")
    out = validation.handle_upload(world.deps, obj)
    run = world.run(out.run_id or "")
    assert run.status == S.VALIDATED, run.error
    assert run.dataset.redacted_train_uri and run.dataset.redacted_train_uri != run.dataset.uri
    masked = _path(run.dataset.redacted_train_uri).read_bytes()
    assert PHONE.encode() not in masked and b"<PHONE_1>" in masked
    assert (world.root / "bucket" / obj.name).read_bytes() == data  # the input is untouched
    assert run.dataset.redaction["train"]["replaced"] == {"phone": 1}
    assert launch.job_spec(run).training_dataset_uri == run.dataset.redacted_train_uri
    assert "redacted copy (1 personal-data values replaced)" in run.history[-1].note


def test_reject_refuses_the_dataset_with_masked_findings(world: World) -> None:
    obj = world.drop_dataset(
        train=dataset_bytes(WITH_PHONE), tuning_yaml="privacy: {policy: reject}\n"
    )
    run = world.run(validation.handle_upload(world.deps, obj).run_id or "")
    assert run.status == S.REJECTED and run.error is not None
    assert run.error.code == "personal_data_rejected"
    assert PHONE not in str(run.to_dict())  # only masked samples, anywhere on the run
    (f,) = [f for f in run.validation.findings if f["code"] == "personal_data_rejected"]
    assert f["kind"] == "phone" and f["sample"] and PHONE not in f["sample"]  # kept on the run


def test_the_deployment_policy_is_a_floor_a_dataset_cannot_lower(tmp_path: Path) -> None:
    world = make_world(tmp_path, env={"PII_POLICY": "reject"})
    obj = world.drop_dataset(
        train=dataset_bytes(WITH_PHONE), tuning_yaml="privacy: {policy: warn}\n"
    )
    run = world.run(validation.handle_upload(world.deps, obj).run_id or "")
    assert run.status == S.REJECTED


def test_a_team_pattern_and_a_bad_pattern(world: World) -> None:
    pairs = [*ZH_EXAMPLES, ("订单GM1234567890没发货", "已为您催促发货。")]
    yaml = 'privacy: {policy: redact, patterns: {order_id: "GM\\\\d{10}"}}\n'
    obj = world.drop_dataset("team", train=dataset_bytes(pairs), tuning_yaml=yaml)
    run = world.run(validation.handle_upload(world.deps, obj).run_id or "")
    assert run.status == S.VALIDATED
    masked = _path(run.dataset.redacted_train_uri or "").read_text(encoding="utf-8")
    assert "GM1234567890" not in masked and "<ORDER_ID_1>" in masked
    bad = world.drop_dataset("bad", tuning_yaml='privacy: {patterns: {phone: "x"}}\n')
    run = world.run(validation.handle_upload(world.deps, bad).run_id or "")
    assert run.status == S.REJECTED and run.error is not None
    assert run.error.code == "invalid_config" and "privacy" in run.error.message
