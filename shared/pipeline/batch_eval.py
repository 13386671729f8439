"""Large evaluations in Vertex AI batch inference jobs: half the price, answered later.

Why: a 5,000-example evaluation asked online pays full price for every call; batch inference
takes the same requests (tuned models included) at the catalog's batch discount
(`batch_inference` source). With `evaluation.mode: batch`, or `auto` above `batch_above`
examples, the evaluator:

1. writes the seeded sample's requests once as batch input (`layout.evaluation_batch_prefix`),
2. submits one job per model (tuned, base, and production when compared) and records each on
   the run (`evaluation.batch`), then returns: the run stays EVALUATING;
3. the poller (`check_batch_evaluations`) follows the jobs on its tick and, when every job has
   ended, asks for the evaluation again;
4. the evaluator then reads the answers into `BatchAnswers` and finishes through the same
   compare core as an online evaluation (chunks, leakage, gates, judge, report): no model is
   asked online. A failed job fails the run's evaluation with the job's error.

A redelivery finds the recorded jobs (or, after a crash between create and record, the jobs
labelled with the run and the key) and never submits twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from shared import logs
from shared.clock import older_than, utcnow
from shared.errors import PermanentError, PipelineError
from shared.events import EVALUATION_REQUESTED, encode_message
from shared.ports import (
    JOB_CANCELLED_STATES,
    JOB_FAILURE_STATES,
    JOB_SUCCESS_STATES,
    BatchJob,
    BatchJobSpec,
    Deps,
    GenerationSettings,
)
from shared.runs import Run, RunStatus, tuning_job_display_name

from . import layout

if TYPE_CHECKING:  # the evaluation package loads only when a run is evaluated, not per tick
    from shared.evaluation.batch_io import Answer, BatchAnswers

ENDED = JOB_SUCCESS_STATES | JOB_FAILURE_STATES | JOB_CANCELLED_STATES
#: The poller asks for the evaluation again after this long if the first request was lost.
RESEND_SECONDS = 300


def models_to_ask(deps: Deps, run: Run, endpoint: str) -> dict[str, tuple[str, str]]:
    """role -> (what the batch job asks, the name the compare core knows it by): the tuned
    model resource (batch takes `projects/.../models/ID`, not an endpoint), the base model,
    and the production model when the evaluation compares with it."""
    ev = run.tuning.evaluation
    base = run.tuning.source_model_name
    tuned = run.job.tuned_model_name
    if not tuned:
        raise PermanentError("the run has no tuned model resource to ask in a batch job")
    out = {"tuned": (tuned, endpoint), "base": (base, base)}
    current = deps.production.current() if ev.compare_production else None
    if current is not None and current.run_id != run.run_id:
        out["production"] = (current.tuned_model_name, current.endpoint)
    return out


def _job_record(job: BatchJob, answers_for: str) -> dict[str, Any]:
    return {
        "name": job.name,
        "model": job.model,
        "answers_for": answers_for,
        "state": job.state,
        "output_dir": job.output_dir,
        "error": job.error_message,
        "succeeded": job.succeeded,
        "failed": job.failed,
        "simulated": job.simulated,
    }


def overall_state(jobs: Mapping[str, Mapping[str, Any]]) -> str:
    """RUNNING while any job runs, FAILED when one ended otherwise than succeeded, else
    SUCCEEDED."""
    states = [j["state"] for j in jobs.values()]
    if any(s not in ENDED for s in states):
        return "RUNNING"
    return "SUCCEEDED" if all(s in JOB_SUCCESS_STATES for s in states) else "FAILED"


def submit(
    deps: Deps,
    run: Run,
    examples: Iterable[Any],
    *,
    endpoint: str,
    settings: GenerationSettings,
    key: str,
) -> dict[str, Any]:
    """Write the batch input and create (or find) one job per model; recorded on the run."""
    from shared.evaluation.batch_io import request_lines
    from shared.evaluation.examples import SKIP_REASONS, iter_picked, pick

    ev, blobs, bucket = run.tuning.evaluation, deps.blobs, deps.settings.artifacts_bucket
    picked = pick(examples, size=ev.sample_size, seed=run.run_id)
    if not picked.indices:
        found = ", ".join(f"{n} {SKIP_REASONS[c]}" for c, n in picked.skipped.items())
        raise PermanentError(
            f"no example could be evaluated: read {picked.seen} example(s)"
            + (f"; skipped {found}" if found else ""),
            code="no_evaluation_examples",
        )
    prefix = layout.evaluation_batch_prefix(run.run_id, key)
    requests = 0
    with blobs.open_write(bucket, prefix + "input.jsonl", content_type="application/jsonl") as out:
        for line in request_lines(iter_picked(examples, picked.indices), settings):
            out.write(line)
            requests += 1
    input_uri = blobs.uri(bucket, prefix + "input.jsonl")
    earlier = {
        j.labels.get("eval_role"): j
        for j in deps.batch.find_jobs(run.run_id)
        if j.labels.get("eval_key") == key and j.state not in JOB_FAILURE_STATES
    }
    jobs: dict[str, dict[str, Any]] = {}
    for role, (model, answers_for) in models_to_ask(deps, run, endpoint).items():
        job = earlier.get(role) or deps.batch.create_job(
            BatchJobSpec(
                run_id=run.run_id,
                display_name=f"{tuning_job_display_name(run.run_id)}-eval-{role}",
                model=model,
                input_uri=input_uri,
                output_uri_prefix=blobs.uri(bucket, f"{prefix}{role}"),
                labels={"eval_role": role, "eval_key": key},
            )
        )
        jobs[role] = _job_record(job, answers_for)
    batch = {
        "key": key,
        "input_uri": input_uri,
        "examples": len(picked.indices),
        "requests": requests,
        "submitted_at": utcnow(),
        "jobs": jobs,
        "state": overall_state(jobs),
    }

    def change(r: Run) -> None:
        r.evaluation.batch = batch
        r.evaluation.progress = {"done": 0, "total": len(picked.indices)}

    deps.store.update(run.run_id, change, expected=[RunStatus.EVALUATING])
    logs.info(f"batch evaluation submitted: {len(jobs)} job(s), {requests} request(s)",
              run_id=run.run_id)  # fmt: skip
    return batch


def refresh(deps: Deps, run: Run) -> dict[str, Any]:
    """Each job's state now (recorded on the run when it changed)."""
    batch = dict(run.evaluation.batch or {})
    jobs = {role: dict(j) for role, j in (batch.get("jobs") or {}).items()}
    changed = False
    for role, rec in jobs.items():
        if rec["state"] in ENDED and (rec["state"] not in JOB_SUCCESS_STATES or rec["output_dir"]):
            continue
        now = _job_record(deps.batch.get_job(rec["name"]), rec["answers_for"])
        if now != rec:
            jobs[role], changed = now, True
    batch["jobs"], batch["state"] = jobs, overall_state(jobs)
    if changed:

        def change(r: Run) -> None:
            r.evaluation.batch = batch

        deps.store.update(run.run_id, change, expected=[RunStatus.EVALUATING])
    return batch


def failure(batch: Mapping[str, Any]) -> PermanentError:
    """Why a batch evaluation cannot finish (a job ended otherwise than succeeded)."""
    bad = [
        f"the {role} model's job {j['name']} ended {j['state']}"
        + (f": {str(j['error']).rstrip('.')}" if j.get("error") else "")
        for role, j in batch["jobs"].items()
        if j["state"] not in JOB_SUCCESS_STATES
    ]
    return PermanentError(
        "batch evaluation failed: " + "; ".join(bad) + ". Evaluate again with "
        "`gemini-tuning evaluate`, or set evaluation.mode: online in tuning.yaml.",
        code="batch_job_failed",
    )


def collect(deps: Deps, run_id: str, batch: Mapping[str, Any]) -> BatchAnswers:
    """Every job's answers from its output folder, as the `Models` the compare core asks."""
    from shared.evaluation.batch_io import BatchAnswers, parse_output

    bucket = deps.settings.artifacts_bucket
    prefix = layout.evaluation_batch_prefix(run_id, batch["key"])
    answers: dict[str, dict[str, Answer]] = {}
    for role, job in batch["jobs"].items():
        folder = f"{prefix}{role}/"
        if job.get("output_dir"):  # only the folder this job wrote (a resubmission writes anew)
            folder += str(job["output_dir"]).rstrip("/").rsplit("/", 1)[-1] + "/"
        got: dict[str, Answer] = {}
        for info in deps.blobs.list(bucket, folder):
            tail = info.name.rsplit("/", 1)[-1]
            if tail.startswith("predictions") and tail.endswith(".jsonl"):
                with deps.blobs.open_read(bucket, info.name) as stream:
                    got.update(parse_output(stream, simulated=bool(job.get("simulated"))))
        if not got:
            raise PermanentError(
                f"the {role} model's batch job {job['name']} succeeded but no predictions file "
                f"was found under {deps.blobs.uri(bucket, folder)}",
                code="batch_output_missing",
            )
        answers[job["answers_for"]] = got
    return BatchAnswers(answers)


def answers_when_ready(
    deps: Deps,
    run: Run,
    examples: Iterable[Any],
    *,
    endpoint: str,
    settings: GenerationSettings,
    key: str,
) -> BatchAnswers | str:
    """The answers once every job succeeded; else what the evaluator did (submitted, still
    waiting). A failed job raises `PermanentError` (the run's evaluation fails with it)."""
    current = run.evaluation.batch
    if current is None or current.get("key") != key:
        batch = submit(deps, run, examples, endpoint=endpoint, settings=settings, key=key)
        return f"batch jobs submitted: {', '.join(batch['jobs'])} ({batch['requests']} requests)"
    batch = refresh(deps, run)
    if batch["state"] == "FAILED":
        raise failure(batch)
    if batch["state"] != "SUCCEEDED":
        states = ", ".join(f"{r} {j['state']}" for r, j in batch["jobs"].items())
        return f"waiting for batch jobs: {states}"
    return collect(deps, run.run_id, batch)


def check_batch_evaluations(deps: Deps, runs: Iterable[Run], errors: list[str]) -> list[str]:
    """The poller's part: follow every batch evaluation's jobs and, once they have all ended,
    ask the evaluator to finish (again after `RESEND_SECONDS` if that request was lost).
    Returns the runs whose jobs changed; a failure is noted in `errors`, never raised."""
    changed: list[str] = []
    for run in runs:
        if run.status != RunStatus.EVALUATING or not run.evaluation.batch:
            continue
        try:
            before = run.evaluation.batch.get("state")
            batch = refresh(deps, run)
            if batch["state"] == "RUNNING":
                continue
            if before == "RUNNING" or older_than(run.updated_at, RESEND_SECONDS, missing=True):
                data, attrs = encode_message(EVALUATION_REQUESTED, run.run_id)
                deps.bus.publish(deps.settings.topic_evaluation_requested, data, attrs)
                changed.append(run.run_id)
        except PipelineError as e:
            errors.append(f"{run.run_id}: {e.message}")
            logs.warning(f"poll: batch evaluation: {e.message}", run_id=run.run_id)
    return changed
