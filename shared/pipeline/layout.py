"""Bucket conventions: which uploads start a run, where its siblings and reports live.

    incoming/<dataset>/train.jsonl        the trigger (upload it last)
    incoming/<dataset>/validation.jsonl   optional
    incoming/<dataset>/test.jsonl         optional held-out set for the evaluator
    incoming/<dataset>/tuning.yaml        optional overrides
    incoming/<name>.jsonl                 single-file drop: defaults for everything

Reports go to the *artifacts* bucket, never under the datasets bucket's `incoming/` (Eventarc
fires for every object in the bucket; writing there would loop):

    runs/<run_id>/...                     reports, evaluation, predictions
    tuning-inputs/<run_id>/train.jsonl    the run's immutable copies Vertex AI reads
    tuning-inputs/<run_id>/validation.jsonl
    tuning-inputs/<run_id>/redacted/...   masked copies under the `redact` policy
    batch-inference/<run_id>/<key>/       a batch evaluation's input.jsonl and each model's output
"""

from __future__ import annotations

from dataclasses import dataclass

INCOMING = "incoming/"
TRAIN = "train.jsonl"
VALIDATION = "validation.jsonl"
TEST = "test.jsonl"
TUNING_YAML = "tuning.yaml"


@dataclass(frozen=True)
class DatasetObjects:
    """Object names of one dataset drop (siblings may not exist)."""

    train: str
    validation: str | None
    test: str | None
    config: str | None


def dataset_name_problem(name: str) -> str | None:
    """Why `name` cannot be a dataset folder under incoming/, or None. `submit` and the
    validator apply the same rule, so a name `submit` accepts never ends in a rejected run."""
    if not name or name.startswith("."):
        return f"dataset name {name!r} is empty or starts with '.' (hidden folders are ignored)"
    if len(name) > 100:
        return f"dataset name {name[:20]!r}... is longer than 100 characters"
    bad = sorted({c for c in name if c in "/\\" or not c.isprintable()})
    if bad:
        return f"dataset name {name!r} contains {', '.join(map(repr, bad))}"
    return None


def trigger_objects(name: str) -> DatasetObjects | None:
    """The dataset an object name starts, or None when the object is not a trigger.

    Only `incoming/<dataset>/train.jsonl` and `incoming/<file>.jsonl` are triggers; sibling
    files, reports, hidden/temporary files and deeper paths are not.
    """
    if not name.startswith(INCOMING) or not name.endswith(".jsonl"):
        return None
    rest = name[len(INCOMING) :]
    parts = rest.split("/")
    if any(not p or p.startswith(".") for p in parts):
        return None
    if len(parts) == 1:
        return DatasetObjects(name, None, None, None)
    if len(parts) == 2 and parts[1] == TRAIN:
        folder = f"{INCOMING}{parts[0]}/"
        return DatasetObjects(
            train=name,
            validation=folder + VALIDATION,
            test=folder + TEST,
            config=folder + TUNING_YAML,
        )
    return None


def report_prefix(run_id: str) -> str:
    return f"runs/{run_id}/"


def validation_report_name(run_id: str) -> str:
    return f"{report_prefix(run_id)}validation/report.json"


#: The artifacts bucket's prefix of what tuning jobs read, one folder per run. Kept apart from
#: `runs/` (reports, predictions) so the tuning service account's read grant can be exactly
#: this prefix (an IAM condition on `resource.name`, infra/main.tf).
TUNING_INPUTS = "tuning-inputs/"


def tuning_input_name(run_id: str, role: str) -> str:
    """The run's immutable copy of its `role` file (train, validation), copied from the
    uploaded generation before validation: what is validated is what Vertex AI trains on."""
    return f"{TUNING_INPUTS}{run_id}/{role}.jsonl"


def redacted_name(run_id: str, role: str) -> str:
    """The masked copy Vertex AI trains on under the `redact` personal-data policy."""
    return f"{TUNING_INPUTS}{run_id}/redacted/{role}.jsonl"


def evaluation_prefix(run_id: str) -> str:
    """Where the evaluation writes report.json, report.html and predictions.jsonl; the
    comparison with production and each re-evaluation use folders beneath it."""
    return f"{report_prefix(run_id)}evaluation/"


def evaluation_chunks_prefix(run_id: str, key: str) -> str:
    """Where the evaluation's prediction checkpoints live (`key`: what they answer)."""
    return f"{report_prefix(run_id)}evaluation/chunks/{key}/"


#: The artifacts bucket's prefix of batch inference files, one folder per run: apart from
#: `runs/` so the AI Platform service agent that runs batch jobs can be granted exactly this
#: prefix (an IAM condition on `resource.name`, infra/main.tf).
BATCH_INFERENCE = "batch-inference/"


def evaluation_batch_prefix(run_id: str, key: str) -> str:
    """Where a batch evaluation keeps its request file (`input.jsonl`) and each model's
    answers (`<role>/`, written by Vertex AI batch inference); `key`: what they answer."""
    return f"{BATCH_INFERENCE}{run_id}/{key}/"
