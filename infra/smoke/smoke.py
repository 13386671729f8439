"""Post-deploy smoke test: ask each configured model once, then drop a tiny dataset with
`dry_run: true` and wait for VALIDATED.

Runs in Cloud Build after `terraform apply` (and by hand after a first deploy). First one free
`countTokens` call per model at the location the pipeline will call it (the catalog's serving
location for this deployment's region), so a wrong location fails here and not after a paid
tuning job; then the real path (upload -> Eventarc -> validator -> Firestore) without creating
a paid tuning job.

    python infra/smoke/smoke.py --project P --bucket B --database D [--collection tuning_runs]
        [--vertex-location us-central1] [--model gemini-3.5-flash ...]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))  # the repository root, for shared.runs

from shared.runs import make_run_id  # noqa: E402

DATASET = HERE / "dataset"
DONE_OK = {"VALIDATED"}
DONE_BAD = {"REJECTED", "FAILED", "CANCELLED"}


def check_models(
    project: str, location: str, names: list[str], *, api_endpoint: str | None = None
) -> bool:
    """One countTokens per model where the pipeline calls it; prints each answer."""
    from shared.catalog import catalog_from_env
    from shared.gcp.vertex_models import VertexModels
    from shared.gcp.vertex_probe import probe_models

    catalog = catalog_from_env()  # MODEL_CATALOG_OVERRIDES as the functions get them
    models = VertexModels(project, location, api_endpoint=api_endpoint, catalog=catalog)
    ok = True
    for p in probe_models(names or [catalog.default_model], models):
        where = f"{p.location} ({p.host or 'no host'})"
        print(f"model {p.name} at {where}: {'ok' if p.ok else 'FAILED'}: {p.detail}")
        ok = ok and p.ok
    return ok


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--project", required=True)
    p.add_argument("--bucket", required=True, help="the datasets bucket (terraform output)")
    p.add_argument("--database", required=True, help="Firestore database id")
    p.add_argument("--collection", default="tuning_runs")
    p.add_argument("--timeout", type=float, default=600, help="seconds to wait for VALIDATED")
    p.add_argument(
        "--vertex-location",
        default=os.environ.get("VERTEX_LOCATION", "us-central1"),
        help="the deployment's VERTEX_LOCATION (terraform output vertex_location)",
    )
    p.add_argument(
        "--model",
        action="append",
        default=[],
        help="a model the deployment uses (repeatable; default: the catalog's default model)",
    )
    a = p.parse_args(argv)
    if not check_models(a.project, a.vertex_location, a.model):
        print(
            "smoke test FAILED: a model does not answer where the pipeline would call it; "
            "check the catalog's serving locations (docs/catalog.md, MODEL_CATALOG_OVERRIDES)."
        )
        return 1

    from google.cloud import firestore, storage

    bucket = storage.Client(project=a.project).bucket(a.bucket)
    prefix = f"incoming/smoke-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}/"
    # Siblings first, the trigger (train.jsonl) last: the layout's rule.
    bucket.blob(prefix + "tuning.yaml").upload_from_filename(str(DATASET / "tuning.yaml"))
    train = bucket.blob(prefix + "train.jsonl")
    train.upload_from_filename(str(DATASET / "train.jsonl"), content_type="application/jsonl")
    run_id = make_run_id(a.bucket, train.name, train.generation)
    print(f"uploaded gs://{a.bucket}/{train.name} (generation {train.generation}); run {run_id}")

    doc = firestore.Client(project=a.project, database=a.database).collection(a.collection)
    deadline, status = time.monotonic() + a.timeout, None
    while time.monotonic() < deadline:
        snap = doc.document(run_id).get()
        status = (snap.to_dict() or {}).get("status") if snap.exists else None
        if status in DONE_OK:
            print(f"smoke test passed: run {run_id} is {status}")
            return 0
        if status in DONE_BAD:
            print(f"smoke test FAILED: run {run_id} is {status}: {snap.to_dict().get('error')}")
            return 1
        time.sleep(5)
    print(
        f"smoke test FAILED: run {run_id} is {status or 'not created'} after {a.timeout:.0f}s. "
        "Check the validator's logs (terraform output console_links) and that the Eventarc "
        "trigger is active (it can take a few minutes after the first apply)."
    )
    return 1


if __name__ == "__main__":
    sys.exit(main())
