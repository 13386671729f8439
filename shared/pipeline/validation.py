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
from collections.abc import Callable, Mapping
from contextlib import ExitStack
from dataclasses import dataclass, replace
from typing import Any, BinaryIO

from shared import logs
from shared.bounds import MAX_FINDING_CHARS, VALIDATION_LEASE_SECONDS, clip
from shared.catalog import ModelProblem
from shared.clock import older_than, utcnow
from shared.errors import (
    ConfigError,
    NotFound,
    PermanentError,
    PreconditionFailed,
    TransientError,
)
from shared.events import DATASET_VALIDATED, Envelope, StorageObject, encode_message
from shared.pipeline import config_checks, layout
from shared.pipeline.entry import too_old
from shared.pipeline.transitions import advance, failed, failing_run_on_permanent
from shared.ports import Deps
from shared.runs import (
    Change,
    DatasetInfo,
    Run,
    RunStatus,
    StoredCopy,
    ValidationInfo,
    make_run_id,
)
from shared.tuning_config import TuningConfig, parse_tuning_yaml

#: Errors copied onto the run document for the status page (the full list is in the report).
FINDINGS_ON_RUN = 20
#: ... and at most this many of one code, so one noisy kind cannot hide the others (the report
#: has every finding, with full counts per code).
FINDINGS_PER_CODE = 3


@dataclass(frozen=True)
class Outcome:
    """What the step did, for logs and tests."""

    action: str  # ignored | dropped | duplicate | in_progress | validated | rejected | failed
    run_id: str | None = None
    detail: str = ""


def handle_upload(deps: Deps, obj: StorageObject, env: Envelope | None = None) -> Outcome:
    objects = layout.trigger_objects(obj.name)
    if objects is None or obj.bucket != deps.settings.datasets_bucket:
        return Outcome("ignored", detail=f"{obj.bucket}/{obj.name} is not a dataset trigger")
    run_id = make_run_id(obj.bucket, obj.name, obj.generation)
    if env is not None and too_old(env, deps.settings, run_id=run_id):
        return Outcome("dropped", run_id, "event older than MAX_EVENT_AGE_SECONDS")
    return validate_new_run(deps, run_id, obj, objects)


def validate_new_run(
    deps: Deps,
    run_id: str,
    obj: StorageObject,
    objects: layout.DatasetObjects,
    *,
    retry_of: str | None = None,
    retune_of: str | None = None,
    pinned: Mapping[str, tuple[str, str]] | None = None,
    adjust: Callable[[TuningConfig], TuningConfig] | None = None,
) -> Outcome:
    """Create run `run_id` for the training file `obj` (pinned to its generation) if absent,
    win the right to validate it, and validate. The upload path and `retry` share it, so a
    retried run is checked exactly as a new upload would be. `retune` pins the siblings to the
    generations an earlier run validated (`pinned`: role -> (name, generation)) and changes the
    configuration read from tuning.yaml (`adjust`: another base model, hyperparameters unset)."""
    blobs = deps.blobs
    refused: tuple[str, str] | None = None  # (code, message): a run that says why, no traceback
    try:
        uri = blobs.uri(obj.bucket, obj.name)
    except PermanentError as e:  # a local name that is no safe path: a symlink out, a backslash
        code = e.code if e.code == "unsafe_object_name" else "invalid_dataset_name"
        uri, refused = f"{obj.bucket}/{obj.name}", (code, e.message)
    folder = obj.name.split("/")[1] if obj.name.count("/") == 2 else None
    problem = layout.dataset_name_problem(folder) if folder is not None else None
    if refused is None and problem is not None:
        refused = ("invalid_dataset_name", f"{problem}; rename the folder")
    dataset = DatasetInfo(
        bucket=obj.bucket,
        name=obj.name,
        generation=obj.generation,
        uri=uri,
        size=obj.size,
        md5=obj.md5,
    )
    new_run = Run.new(run_id, dataset, simulated=deps.simulated)
    new_run.retry_of = retry_of
    new_run.retune_of = retune_of
    if retry_of is not None:
        new_run.history[0].note = f"retry of run {retry_of}"
    if retune_of is not None:
        new_run.history[0].note = f"retune of run {retune_of}"
    created = deps.store.create(new_run)
    if created:
        logs.info(f"new run for {dataset.uri}", run_id=run_id)
    run = _claim(deps, run_id)
    if isinstance(run, Outcome):
        return run
    if refused is not None:
        code, message = refused
        return _reject(deps, run_id, [_run_finding(code, obj.name, message)], {}, None, message)
    with failing_run_on_permanent(
        deps, run_id, "validation", [RunStatus.VALIDATING], release=_unlease
    ):
        return _validate(deps, run, obj, objects, pinned=pinned, adjust=adjust)


def _lease(run: Run) -> None:
    run.validation.started_at = utcnow()


def _unlease(run: Run) -> None:
    """This delivery failed: the next one may validate at once (no 10-minute wait)."""
    run.validation.started_at = None


def release_validation_leases(deps: Deps, reason: str) -> list[str]:
    """Clear the lease of every VALIDATING run, so the redelivered upload validates at once:
    only for a caller that knows no validator is running (the local runtime at start, holding
    its root's lock). The ids released; the run's history is unchanged (it is still
    validating), the log line says why."""
    released = []
    for run in deps.store.list_by_status([RunStatus.VALIDATING]):
        if run.validation.started_at is not None and deps.store.update(
            run.run_id, _unlease, expected=[RunStatus.VALIDATING]
        ):
            logs.warning(f"validation lease released: {reason}", run_id=run.run_id)
            released.append(run.run_id)
    return released


def _claim(deps: Deps, run_id: str) -> Run | Outcome:
    """Win the right to validate, or say why this delivery has nothing to do."""
    run = advance(
        deps, run_id, [RunStatus.RECEIVED], RunStatus.VALIDATING, note="validating", change=_lease
    )
    if run is not None:
        return run
    current = deps.store.get(run_id)
    if current is None:  # pragma: no cover - create() just succeeded or found it
        raise TransientError(f"run {run_id} vanished after create")
    if current.status == RunStatus.VALIDATED:
        if not current.dry_run:
            _publish_validated(deps, run_id)
        return Outcome("duplicate", run_id, "already validated; launcher notified again")
    if current.status == RunStatus.VALIDATING:
        started = current.validation.started_at  # None: released by a failed delivery
        if started is not None and not older_than(started, VALIDATION_LEASE_SECONDS, missing=True):
            raise TransientError(f"run {run_id} is being validated by another delivery")
        taken = deps.store.update(run_id, _lease, expected=[RunStatus.VALIDATING])
        if taken is None:
            return Outcome("duplicate", run_id, "another delivery finished validation")
        logs.warning("took over a validation whose lease expired", run_id=run_id)
        return taken
    return Outcome("duplicate", run_id, f"run is already {current.status}")


def _validate(
    deps: Deps,
    run: Run,
    obj: StorageObject,
    objects: layout.DatasetObjects,
    *,
    pinned: Mapping[str, tuple[str, str]] | None = None,
    adjust: Callable[[TuningConfig], TuningConfig] | None = None,
) -> Outcome:
    """Configuration, model, then the data (on the run's own copies), then the verdict: each
    step can end the run with findings that say what to change. A retune passes `pinned`
    (exactly the files an earlier run validated) and `adjust` (its change to the config)."""
    run_id = run.run_id
    if pinned is not None:
        siblings = {role: name for role, (name, _) in pinned.items()}
        generations = {role: gen for role, (_, gen) in pinned.items()}
    else:
        siblings, generations = _pinned_siblings(deps, obj, objects)
    checked = _checked_config(deps, run_id, obj, siblings, generations, adjust)
    if isinstance(checked, Outcome):
        return checked
    config, model_warnings = checked
    validated = _validate_copies(deps, run_id, obj, siblings, generations, config)
    if isinstance(validated, Outcome):
        return validated
    copies, report = validated
    report_uri = _save_report(deps, run_id, report, config)

    def record_files(r: Run) -> None:
        _record_files(r, deps, obj.bucket, siblings, generations)

    summary = {**report.summary(), "counts": dict(report.counts)}
    if not report.valid:
        findings = [_finding_dict(f) for f in _on_run(report.errors)]
        first = findings[0]["message"] if findings else "the dataset is invalid"
        where = _where(findings[0]) if findings else ""
        return _reject(
            deps, run_id, findings, summary, report_uri, first + where, files=record_files
        )

    pd = report.stats.get("personal_data") or {}
    redacted: dict[str, Any] = {}
    trains_on = copies
    if config.privacy.policy == "redact" and pd.get("counts"):
        redacted = _redact(deps, run_id, obj, siblings, copies, config.privacy)
        trains_on = redacted["copies"]
        config = replace(
            config,
            train_dataset=redacted["train_uri"],
            validation_dataset=redacted.get("validation_uri", config.validation_dataset),
        )
    note = "dataset valid" + ("; dry run: no tuning job will be created" if config.dry_run else "")
    if redacted:
        replaced = sum(sum(f["replaced"].values()) for f in redacted["files"].values())
        note += f"; training on a redacted copy ({replaced} personal-data values replaced)"
    warnings = model_warnings + [_finding_dict(f) for f in _on_run(report.warnings)]

    def accept(r: Run) -> None:
        _record_validation(r, True, summary, warnings, report_uri)
        r.config = config
        record_files(r)
        r.dataset.trains_on = dict(trains_on)
        if redacted:
            r.dataset.redacted_train_uri = redacted["train_uri"]
            r.dataset.redacted_validation_uri = redacted.get("validation_uri")
            r.dataset.redaction = redacted["files"]

    if (
        advance(deps, run_id, [RunStatus.VALIDATING], RunStatus.VALIDATED, note=note, change=accept)
        is None
    ):
        return Outcome("duplicate", run_id, "another delivery finished validation first")
    if not config.dry_run:
        _publish_validated(deps, run_id)
    return Outcome("validated", run_id, note)


def _pinned_siblings(
    deps: Deps, obj: StorageObject, objects: layout.DatasetObjects
) -> tuple[dict[str, str], dict[str, str]]:
    """(role -> name, role -> generation) of each sibling that exists, with the generation
    seen now: every later read is pinned to it, so a sibling replaced mid-run cannot mix two
    versions into one validation."""
    found = {
        role: deps.blobs.stat(obj.bucket, name) if name is not None else None
        for role, name in (
            ("validation", objects.validation),
            ("test", objects.test),
            ("config", objects.config),
        )
    }
    siblings = {role: info.name for role, info in found.items() if info is not None}
    generations = {role: info.generation for role, info in found.items() if info is not None}
    return siblings, generations


def _checked_config(
    deps: Deps,
    run_id: str,
    obj: StorageObject,
    siblings: dict[str, str],
    generations: dict[str, str],
    adjust: Callable[[TuningConfig], TuningConfig] | None = None,
) -> tuple[TuningConfig, list[dict[str, Any]]] | Outcome:
    """The run's config (tuning.yaml over the deployment's defaults) and the model's
    warnings, or the rejection: configuration first, so a bad tuning.yaml or a model that
    cannot be tuned here today rejects the run before gigabytes are read."""
    blobs, s = deps.blobs, deps.settings
    config: TuningConfig = s.defaults
    config_file = siblings.get("config")
    try:
        if config_file is not None:
            data = blobs.read_bytes(obj.bucket, config_file, generation=generations["config"])
            config = parse_tuning_yaml(data, source=config_file, base=s.defaults, catalog=s.catalog)
        if adjust is not None:
            config = adjust(config)
    except ConfigError as e:
        found = _run_finding("invalid_config", config_file, e.message)
        return _reject(deps, run_id, [found], {"config_error": e.message}, None, e.message)
    # Retired, blocked, unknown, wrong region: before any job, with the replacement named.
    problems = config_checks.model_problems(s, config)
    model_errors = [_problem(p, config_file) for p in problems if p.severity == "error"]
    if model_errors:
        first = model_errors[0]["message"]
        return _reject(deps, run_id, model_errors, {"model_error": first}, None, first)
    model_warnings = [_problem(p, config_file) for p in problems if p.severity == "warning"]
    try:
        config = config_checks.resolve_continue_from(deps.store, config)
    except ConfigError as e:
        found = _run_finding("invalid_continue_from", config_file, e.message, path="continue_from")
        return _reject(deps, run_id, [found], {"config_error": e.message}, None, e.message)
    # The resolved config names the datasets too (the seed's fields), from the same layout.
    uri = blobs.uri
    config = replace(
        config,
        train_dataset=uri(obj.bucket, obj.name),
        validation_dataset=uri(obj.bucket, siblings["validation"])
        if "validation" in siblings
        else None,
        test_dataset=uri(obj.bucket, siblings["test"]) if "test" in siblings else None,
    )
    return config, model_warnings


def _validate_copies(
    deps: Deps,
    run_id: str,
    obj: StorageObject,
    siblings: dict[str, str],
    generations: dict[str, str],
    config: TuningConfig,
) -> tuple[dict[str, Any], Any] | Outcome:
    """(the run's copies, the validator's report). The copies come first, of exactly the
    generations seen: the validator reads them and the job trains on them, so a file replaced
    from now on cannot change what this run trains on (the new upload gets its own run)."""
    from shared.datasets import validate_dataset  # heavy only for this function

    blobs = deps.blobs
    names = {"train": obj.name, **{r: n for r, n in siblings.items() if r != "config"}}
    try:
        copies = copy_inputs(deps, run_id, obj, siblings, generations)
        with ExitStack() as stack:
            streams: dict[str, BinaryIO] = {
                role: stack.enter_context(
                    blobs.open_read(c.bucket, c.name, generation=c.generation)
                )
                for role, c in copies.items()
            }
            if "test" in siblings:  # not sent to tuning: read where it is, pinned
                streams["test"] = stack.enter_context(
                    blobs.open_read(obj.bucket, siblings["test"], generation=generations["test"])
                )
            report = validate_dataset(
                streams["train"],
                validation=streams.get("validation"),
                test=streams.get("test"),
                names=names,
                model=config.source_model_name,
                epochs=config.epoch,
                privacy=config.privacy,  # checked by the validator's rules when read
                catalog=deps.settings.catalog,  # the deployment's, with MODEL_CATALOG_OVERRIDES
            )
    except (NotFound, PreconditionFailed) as e:
        msg = (
            f"{e.message}: a file of this dataset was replaced while it was being validated. "
            "A new train.jsonl starts its own run; if only a sibling changed, upload "
            "train.jsonl again to validate the new set."
        )
        advance(
            deps,
            run_id,
            [RunStatus.VALIDATING],
            RunStatus.FAILED,
            note="superseded",
            change=failed("validation", "superseded", msg),
        )
        return Outcome("failed", run_id, msg)
    return copies, report


def _save_report(deps: Deps, run_id: str, report: Any, config: TuningConfig) -> str:
    """Write the validation report (with the resolved config) to the artifacts bucket."""
    s = deps.settings
    doc = report.to_dict()
    doc["run_id"] = run_id
    doc["config"] = config.to_dict()
    name = layout.validation_report_name(run_id)
    deps.blobs.write_bytes(
        s.artifacts_bucket,
        name,
        json.dumps(doc, ensure_ascii=False, indent=1).encode(),
        content_type="application/json",
    )
    return deps.blobs.uri(s.artifacts_bucket, name)


def _record_files(
    r: Run, deps: Deps, bucket: str, siblings: dict[str, str], generations: dict[str, str]
) -> None:
    """Every file of the dataset as validated: names and generations (what later steps read,
    pinned) and URIs (what people and Vertex AI see)."""
    d = r.dataset
    for role, name in siblings.items():
        uri = deps.blobs.uri(bucket, name)
        gen = generations[role]
        if role == "validation":
            d.validation_name, d.validation_generation, d.validation_uri = name, gen, uri
        elif role == "test":
            d.test_name, d.test_generation, d.test_uri = name, gen, uri
        else:
            d.config_name, d.config_generation, d.config_uri = name, gen, uri


def _record_validation(
    r: Run,
    valid: bool,
    summary: dict[str, Any],
    findings: list[dict[str, Any]],
    report_uri: str | None,
) -> None:
    """The validator's verdict on the run (its lease time kept for the history)."""
    r.validation = ValidationInfo(
        valid=valid,
        started_at=r.validation.started_at,
        summary=summary,
        findings=[_bounded(f) for f in findings[: 2 * FINDINGS_ON_RUN]],
        report_uri=report_uri,
    )


def _bounded(finding: dict[str, Any]) -> dict[str, Any]:
    """A finding as the run document carries it: its texts cut (`shared.bounds`)."""
    return {k: clip(v, MAX_FINDING_CHARS) if isinstance(v, str) else v for k, v in finding.items()}


def copy_inputs(
    deps: Deps,
    run_id: str,
    obj: StorageObject,
    siblings: dict[str, str],
    generations: dict[str, str],
) -> dict[str, StoredCopy]:
    """Copy the files Vertex AI trains on (train, and validation when there is one) into the
    run's own prefix of the artifacts bucket, each conditioned on the generation seen (the
    event's for train.jsonl). A file replaced or deleted since raises `PreconditionFailed` /
    `NotFound`: nothing that was not looked at is ever copied."""
    blobs, s = deps.blobs, deps.settings
    sources = {"train": (obj.name, obj.generation)}
    if "validation" in siblings:
        sources["validation"] = (siblings["validation"], generations["validation"])
    out: dict[str, StoredCopy] = {}
    for role, (name, generation) in sources.items():
        target = layout.tuning_input_name(run_id, role)
        info = blobs.copy(
            obj.bucket, name, s.artifacts_bucket, target, if_source_generation_match=generation
        )
        out[role] = StoredCopy(
            s.artifacts_bucket, target, info.generation, blobs.uri(s.artifacts_bucket, target)
        )
    return out


def _redact(
    deps: Deps,
    run_id: str,
    obj: StorageObject,
    siblings: dict[str, str],
    copies: dict[str, StoredCopy],
    privacy: Any,
) -> dict[str, Any]:
    """Masked copies of the run's training copies, written beside them in the artifacts
    bucket. The output is streamed to the bucket as it is produced (`Blobs.open_write`):
    neither memory nor `/tmp`, which is memory on Cloud Functions, ever holds a whole copy.
    The test set is not sent to tuning and stays as it is."""
    from shared.datasets.redact import redact_stream

    blobs, s = deps.blobs, deps.settings
    originals = {"train": obj.name, **siblings}
    out: dict[str, Any] = {"files": {}, "copies": {}}
    for role, c in copies.items():
        target = layout.redacted_name(run_id, role)
        name = originals[role]
        with (
            blobs.open_read(c.bucket, c.name, generation=c.generation) as src,
            blobs.open_write(s.artifacts_bucket, target, content_type="application/jsonl") as dst,
        ):
            try:
                result = redact_stream(src, dst, privacy)
            except ValueError as e:
                raise PermanentError(f"cannot redact {name}: {e}", code="redaction_failed") from e
        info = blobs.stat(s.artifacts_bucket, target)
        if info is None:  # pragma: no cover - written just above
            raise TransientError(f"{target} vanished right after it was written")
        uri = blobs.uri(s.artifacts_bucket, target)
        out[f"{role}_uri"] = uri
        out["copies"][role] = StoredCopy(s.artifacts_bucket, target, info.generation, uri)
        out["files"][role] = {"source": blobs.uri(obj.bucket, name), **result.to_dict()}
    return out


def _problem(p: ModelProblem, config_file: str | None) -> dict[str, Any]:
    return _run_finding(p.code, config_file, p.message, path="source_model_name")


def _run_finding(code: str, file: str | None, message: str, *, path: str = "") -> dict[str, Any]:
    """A run-level finding as the run document holds it: the same `Finding` (registered code,
    its severity, `path` "" for none) as the validator's."""
    from shared.datasets.findings import finding  # the datasets package is heavy: import late

    return finding(code, file, message, path=path).to_dict()


def _where(finding: dict[str, Any]) -> str:
    """` (train.jsonl line 3)`, or ` (train.jsonl)` for a finding about the whole file."""
    line = finding.get("line")
    return f" ({finding['file']}" + (f" line {line})" if line is not None else ")")


def _on_run(findings: Any) -> list[Any]:
    """The findings the run document carries: the first few of each code, in report order."""
    seen: dict[str, int] = {}
    out = []
    for f in findings:
        if seen.get(f.code, 0) < FINDINGS_PER_CODE:
            seen[f.code] = seen.get(f.code, 0) + 1
            out.append(f)
        if len(out) == FINDINGS_ON_RUN:
            break
    return out


def _finding_dict(f: Any) -> dict[str, Any]:
    """A validator `Finding` as the run document holds it (with `kind` / `sample` if any)."""
    return dict(f.to_dict())


def _reject(
    deps: Deps,
    run_id: str,
    findings: list[dict[str, Any]],
    summary: dict[str, Any],
    report_uri: str | None,
    message: str,
    *,
    files: Change | None = None,
) -> Outcome:
    code = findings[0]["code"] if findings else "invalid_dataset"

    def reject(r: Run) -> None:
        _record_validation(r, False, summary, findings, report_uri)
        r.fail("validation", code, message)
        if files is not None:
            files(r)

    if advance(
        deps,
        run_id,
        [RunStatus.VALIDATING],
        RunStatus.REJECTED,
        note="dataset rejected",
        change=reject,
    ):
        return Outcome("rejected", run_id, message)
    return Outcome("duplicate", run_id, "another delivery finished validation first")


def _publish_validated(deps: Deps, run_id: str) -> None:
    data, attrs = encode_message(DATASET_VALIDATED, run_id)
    deps.bus.publish(deps.settings.topic_dataset_validated, data, attrs)
