"""Step 1 (validator function): a dataset object landed in the bucket.

Ignore what is not a trigger; create the run exactly once per (bucket, object, generation);
validate the training file with its siblings and `tuning.yaml`; write the report to the
artifacts bucket; VALIDATED publishes to the launcher, REJECTED records why.

Concurrency: 50 deliveries of one event create one run (create-if-absent) and one of them wins
RECEIVED -> VALIDATING. A delivery that finds VALIDATING under a fresh lease raises a
transient error (the platform retries and will find the result); after the lease expires (the
winner crashed) the next delivery takes over. A delivery that finds VALIDATED re-publishes to
the launcher, which is idempotent, in case the winner died between commit and publish.
"""

from __future__ import annotations

import json
from contextlib import ExitStack
from dataclasses import dataclass, replace
from typing import Any, BinaryIO

from shared import logs
from shared.backend import Backend
from shared.config import TuningConfig, parse_tuning_yaml
from shared.errors import ConfigError, NotFound, TransientError
from shared.events import DATASET_VALIDATED, Envelope, StorageObject, encode_message
from shared.pipeline import layout
from shared.pipeline.transitions import advance, error_patch, failing_run_on_permanent
from shared.runs import DatasetInfo, Run, RunStatus, age_seconds, make_run_id, utcnow

S = RunStatus
#: How long a VALIDATING claim protects the validator from a concurrent duplicate. Longer than
#: the function timeout, so only a crashed winner's claim ever expires.
VALIDATION_LEASE_SECONDS = 600
#: Errors copied onto the run document for the status page (the full list is in the report).
FINDINGS_ON_RUN = 20


@dataclass(frozen=True)
class Outcome:
    """What the step did, for logs and tests."""

    action: str  # ignored | dropped | duplicate | in_progress | validated | rejected | failed
    run_id: str | None = None
    detail: str = ""


def handle_upload(backend: Backend, obj: StorageObject, env: Envelope | None = None) -> Outcome:
    objects = layout.trigger_objects(obj.name)
    if objects is None or obj.bucket != backend.settings.datasets_bucket:
        return Outcome("ignored", detail=f"{obj.bucket}/{obj.name} is not a dataset trigger")
    run_id = make_run_id(obj.bucket, obj.name, obj.generation)
    age = env.age_seconds() if env else None
    if age is not None and age > backend.settings.max_event_age_seconds:
        logs.warning(
            f"dropping event older than {backend.settings.max_event_age_seconds}s "
            f"({age:.0f}s): re-upload the file to start a run",
            run_id=run_id,
            event_id=env.id if env else None,
        )
        return Outcome("dropped", run_id, f"event age {age:.0f}s")

    blobs = backend.blobs
    dataset = DatasetInfo(
        bucket=obj.bucket,
        name=obj.name,
        generation=obj.generation,
        uri=blobs.uri(obj.bucket, obj.name),
        size=obj.size,
        md5=obj.md5,
    )
    created = backend.store.create(Run.new(run_id, dataset, simulated=backend.simulated))
    if created:
        logs.info(f"new run for {dataset.uri}", run_id=run_id)
    run = _claim(backend, run_id)
    if isinstance(run, Outcome):
        return run
    with failing_run_on_permanent(backend, run_id, "validation", [S.VALIDATING]):
        return _validate(backend, run, obj, objects)


def _claim(backend: Backend, run_id: str) -> Run | Outcome:
    """Win the right to validate, or say why this delivery has nothing to do."""
    patch = {"validation": {"started_at": utcnow()}}
    run = advance(backend, run_id, [S.RECEIVED], S.VALIDATING, note="validating", patch=patch)
    if run is not None:
        return run
    current = backend.store.get(run_id)
    if current is None:  # pragma: no cover - create() just succeeded or found it
        raise TransientError(f"run {run_id} vanished after create")
    if current.status == S.VALIDATED:
        if not current.config.get("dry_run"):
            _publish_validated(backend, run_id)
        return Outcome("duplicate", run_id, "already validated; launcher notified again")
    if current.status == S.VALIDATING:
        started = current.validation.started_at or current.updated_at
        if age_seconds(started) < VALIDATION_LEASE_SECONDS:
            raise TransientError(f"run {run_id} is being validated by another delivery")
        taken = backend.store.update(run_id, patch, expected=[S.VALIDATING])
        if taken is None:
            return Outcome("duplicate", run_id, "another delivery finished validation")
        logs.warning("took over a validation whose lease expired", run_id=run_id)
        return taken
    return Outcome("duplicate", run_id, f"run is already {current.status}")


def _validate(
    backend: Backend, run: Run, obj: StorageObject, objects: layout.DatasetObjects
) -> Outcome:
    from shared.datasets import validate_dataset  # heavy only for this function

    blobs, s = backend.blobs, backend.settings
    run_id = run.run_id
    # Each sibling that exists, with the generation we saw: all reads below are pinned to it,
    # so a sibling replaced mid-run cannot mix two versions into one validation.
    found = {
        role: blobs.stat(obj.bucket, name) if name is not None else None
        for role, name in (
            ("validation", objects.validation),
            ("test", objects.test),
            ("config", objects.config),
        )
    }
    generations = {role: info.generation for role, info in found.items() if info is not None}
    siblings = {role: info.name for role, info in found.items() if info is not None}
    # Configuration first: a bad tuning.yaml rejects the run before reading gigabytes.
    config: TuningConfig = s.defaults
    try:
        if "config" in siblings:
            data = blobs.read_bytes(
                obj.bucket, siblings["config"], generation=generations["config"]
            )
            config = parse_tuning_yaml(data, source=siblings["config"], base=s.defaults)
    except ConfigError as e:
        finding = {
            "code": "invalid_config",
            "file": siblings.get("config"),
            "line": None,
            "path": None,
            "message": e.message,
        }
        return _reject(backend, run_id, [finding], {"config_error": e.message}, None, e.message)

    dataset_patch: dict[str, Any] = {
        f"{role}_uri": blobs.uri(obj.bucket, name) for role, name in siblings.items()
    }
    # The resolved config names the datasets too (the seed's fields), from the same layout.
    config = replace(
        config,
        train_dataset=blobs.uri(obj.bucket, obj.name),
        validation_dataset=dataset_patch.get("validation_uri"),
        test_dataset=dataset_patch.get("test_uri"),
    )
    names = {"train": obj.name, **{r: n for r, n in siblings.items() if r != "config"}}
    try:
        with ExitStack() as stack:
            streams: dict[str, BinaryIO] = {
                "train": stack.enter_context(
                    blobs.open_read(obj.bucket, obj.name, generation=obj.generation)
                )
            }
            for role in ("validation", "test"):
                if role in siblings:
                    streams[role] = stack.enter_context(
                        blobs.open_read(obj.bucket, siblings[role], generation=generations[role])
                    )
            report = validate_dataset(
                streams["train"],
                validation=streams.get("validation"),
                test=streams.get("test"),
                names=names,
                model=config.source_model_name,
                epochs=config.epoch,
            )
    except NotFound as e:
        msg = (
            f"{e.message}: a file of this dataset was replaced while it was being validated. "
            "A new train.jsonl starts its own run; if only a sibling changed, upload "
            "train.jsonl again to validate the new set."
        )
        advance(
            backend,
            run_id,
            [S.VALIDATING],
            S.FAILED,
            note="superseded",
            patch=error_patch("validation", "superseded", msg),
        )
        return Outcome("failed", run_id, msg)

    doc = report.to_dict()
    doc["run_id"] = run_id
    doc["config"] = config.to_dict()
    report_name = layout.validation_report_name(run_id)
    blobs.write_bytes(
        s.artifacts_bucket,
        report_name,
        json.dumps(doc, ensure_ascii=False, indent=1).encode(),
        content_type="application/json",
    )
    report_uri = blobs.uri(s.artifacts_bucket, report_name)
    summary = {**report.summary(), "counts": dict(report.counts)}
    if not report.valid:
        findings = [_finding_dict(f) for f in report.errors[:FINDINGS_ON_RUN]]
        first = findings[0]["message"] if findings else "the dataset is invalid"
        where = f" ({findings[0]['file']} line {findings[0]['line']})" if findings else ""
        return _reject(
            backend,
            run_id,
            findings,
            summary,
            report_uri,
            first + where,
            dataset_patch=dataset_patch,
        )

    note = "dataset valid" + ("; dry run: no tuning job will be created" if config.dry_run else "")
    patch = {
        "validation": {
            "valid": True,
            "summary": summary,
            "report_uri": report_uri,
            "findings": [_finding_dict(f) for f in report.warnings[:FINDINGS_ON_RUN]],
        },
        "config": config.to_dict(),
        "dataset": dataset_patch,
    }
    if advance(backend, run_id, [S.VALIDATING], S.VALIDATED, note=note, patch=patch) is None:
        return Outcome("duplicate", run_id, "another delivery finished validation first")
    if not config.dry_run:
        _publish_validated(backend, run_id)
    return Outcome("validated", run_id, note)


def _finding_dict(f: Any) -> dict[str, Any]:
    return {k: getattr(f, k, None) for k in ("code", "file", "line", "path", "message")}


def _reject(
    backend: Backend,
    run_id: str,
    findings: list[dict[str, Any]],
    summary: dict[str, Any],
    report_uri: str | None,
    message: str,
    *,
    dataset_patch: dict[str, Any] | None = None,
) -> Outcome:
    patch: dict[str, Any] = {
        "validation": {
            "valid": False,
            "summary": summary,
            "findings": findings,
            "report_uri": report_uri,
        },
        **error_patch(
            "validation", findings[0]["code"] if findings else "invalid_dataset", message
        ),
    }
    if dataset_patch:
        patch["dataset"] = dataset_patch
    if (
        advance(backend, run_id, [S.VALIDATING], S.REJECTED, note="dataset rejected", patch=patch)
        is None
    ):
        return Outcome("duplicate", run_id, "another delivery finished validation first")
    return Outcome("rejected", run_id, message)


def _publish_validated(backend: Backend, run_id: str) -> None:
    data, attrs = encode_message(DATASET_VALIDATED, run_id)
    backend.bus.publish(backend.settings.topic_dataset_validated, data, attrs)
