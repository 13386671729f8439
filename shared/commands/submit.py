"""`gemini-tuning submit DIR --to DEST`: upload a dataset folder in the safe order.

The training file is the trigger, so it goes last: by the time its event fires, the validation
set, the test set and `tuning.yaml` are already there. By default the dataset is validated here
first, so an invalid dataset never reaches the bucket (skip with `--no-validate`).

DEST is the datasets bucket: `gs://BUCKET` or a local bucket folder (e.g. `ROOT/bucket`). The
files land in `DEST/incoming/<name>/`.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from shared.commands._dataset_folder import ORDER, dataset_files


def add_parser(sub: Any) -> None:
    p = sub.add_parser("submit", help="upload a dataset folder (train.jsonl last)")
    p.add_argument(
        "folder",
        metavar="DIR",
        help="folder with train.jsonl [+ validation.jsonl, test.jsonl, tuning.yaml]",
    )
    p.add_argument(
        "--to",
        required=True,
        metavar="DEST",
        help="datasets bucket: gs://BUCKET or a local bucket folder",
    )
    p.add_argument("--name", help="dataset name under incoming/ (default: the folder's name)")
    p.add_argument(
        "--no-validate", action="store_true", help="upload without validating here first"
    )
    p.set_defaults(func=run)


def plan(folder: Path) -> list[Path]:
    """The files to upload, train.jsonl last (a note names the others, which are not).
    Raises ValueError with what to fix."""
    files = dataset_files(folder)
    unknown = sorted(
        p.name
        for p in folder.iterdir()
        if p.is_file() and p.name not in ORDER and not p.name.startswith(".")
    )
    if unknown:
        print(
            f"note: not uploading {', '.join(unknown)} (only {', '.join(ORDER)} are used)",
            file=sys.stderr,
        )
    return files


def run(args: argparse.Namespace) -> int:
    folder = Path(args.folder)
    try:
        files = plan(folder)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    from shared.pipeline.layout import dataset_name_problem

    name = args.name or folder.resolve().name
    problem = dataset_name_problem(name)
    if problem is not None:
        print(f"error: {problem}; choose another with --name", file=sys.stderr)
        return 2
    if not args.no_validate:
        code = _validate_first(folder, files, args.to)
        if code != 0:
            return code
    dest: str = args.to
    try:
        if dest.startswith("gs://"):
            uris = _upload_gcs(dest, name, files)
        else:
            uris = _copy_local(Path(dest), name, files)
    except OSError as e:
        print(f"error: upload failed: {e}", file=sys.stderr)
        return 2
    except Exception as e:  # the cloud client's auth / permission / not-found errors
        print(
            f"error: upload to {dest} failed: {type(e).__name__}: {e}. Check the bucket name and "
            "your credentials (`gcloud auth application-default login`); files already "
            "uploaded stay, and train.jsonl is always uploaded last, so no run started early.",
            file=sys.stderr,
        )
        return 2
    for u in uris:
        print(f"uploaded {u}")
    print(f"dataset {name!r} submitted; follow it with `gemini-tuning status`")
    return 0


def _validate_first(folder: Path, files: list[Path], dest: str) -> int:
    from shared.catalog import catalog_from_env
    from shared.datasets import validate_dataset
    from shared.errors import ConfigError
    from shared.tuning_config import TuningConfig, parse_tuning_yaml

    config = TuningConfig()
    yaml_path = folder / "tuning.yaml"
    try:
        catalog = catalog_from_env()  # with this deployment's MODEL_CATALOG_OVERRIDES
        if yaml_path in files:
            config = parse_tuning_yaml(
                yaml_path.read_bytes(), source=str(yaml_path), base=config, catalog=catalog
            )
    except ConfigError as e:
        print(f"error: {e.message}", file=sys.stderr)
        return 1
    opened = {p.name: p.open("rb") for p in files if p.suffix == ".jsonl"}
    try:
        report = validate_dataset(
            opened["train.jsonl"],
            validation=opened.get("validation.jsonl"),
            test=opened.get("test.jsonl"),
            names={
                "train": str(folder / "train.jsonl"),
                "validation": str(folder / "validation.jsonl"),
                "test": str(folder / "test.jsonl"),
            },
            model=config.source_model_name,
            epochs=config.epoch,
            privacy=config.privacy,  # tuning.yaml's policy, as the pipeline applies it
            catalog=catalog,
        )
    finally:
        for f in opened.values():
            f.close()
    if not report.valid:
        from shared.datasets import CODES

        total = sum(n for c, n in report.counts.items() if CODES[c] == "error")
        shown = report.errors[:10]
        print(
            f"error: the dataset is invalid ({total:,} error(s), the first {len(shown)} below); "
            f"nothing was uploaded. Details: gemini-tuning validate {shlex.quote(str(folder))}",
            file=sys.stderr,
        )
        for finding in shown:
            where = finding.file + (f":{finding.line}" if finding.line is not None else "")
            print(
                f"  {finding.code}  {where}  {finding.path or ''}  {finding.message}",
                file=sys.stderr,
            )
        return 1
    # The pipeline's own checks for the deployment it goes to (lifecycle, region,
    # continue_from, budget against price): refused here, before anything is uploaded.
    from shared.commands._config import check

    tokens = report.summary().get("billable_tokens") or None
    code = check(config, dest=dest, billable_tokens=tokens).print("gemini-tuning submit")
    if code:
        print("error: nothing was uploaded", file=sys.stderr)
    return code


def _copy_local(bucket: Path, name: str, files: list[Path]) -> list[str]:
    """Copy with a hidden temporary name then rename, so the watcher sees whole files only."""
    if bucket.exists() and not bucket.is_dir():
        raise OSError(
            f"--to {bucket} is a file, not a bucket folder; pass the bucket folder of "
            "`gemini-tuning local` (ROOT/bucket) or gs://BUCKET"
        )
    if not bucket.is_dir():
        raise OSError(
            f"--to {bucket} does not exist; pass the bucket folder of `gemini-tuning local` "
            "(ROOT/bucket) or gs://BUCKET"
        )
    target = bucket / "incoming" / name
    target.mkdir(parents=True, exist_ok=True)
    out = []
    for src in files:
        fd, tmp = tempfile.mkstemp(prefix=f".{src.name}.", suffix=".part", dir=target)
        os.close(fd)
        shutil.copyfile(src, tmp)
        os.replace(tmp, target / src.name)
        out.append(str(target / src.name))
    return out


def _upload_gcs(dest: str, name: str, files: list[Path]) -> list[str]:
    from shared.gcp.storage import GcsBlobs  # only this path needs the client

    bucket_name = dest[len("gs://") :].strip("/").split("/", 1)[0]
    blobs = GcsBlobs(project=None)
    out = []
    for src in files:
        target = f"incoming/{name}/{src.name}"
        with src.open("rb") as stream:
            blobs.write_file(bucket_name, target, stream)
        out.append(blobs.uri(bucket_name, target))
    return out
