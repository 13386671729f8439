"""`gemini-tuning start --config config.yaml`: the users' original entry point, kept.

Their tool was started with `python -m gemini_tuning.start --config=config/config.yaml`, a config
naming `train_dataset` / `validation_dataset` (`gs://` paths) beside the tuning fields. This
command accepts such a file as it is and starts an ordinary run: the datasets are copied into the
deployment's datasets bucket under `incoming/<name>/` (train last, `tuning.yaml` made of the
other fields), so validation, the run record and the pipeline are exactly those of a drop. Where
a value differs from today's API (e.g. `adapter_size: AdapterSize.SMALL`), the message says what
to write instead. Relative local paths are read relative to the config file.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

DATASET_KEYS = {"train_dataset": "train.jsonl", "validation_dataset": "validation.jsonl",
                "test_dataset": "test.jsonl"}  # fmt: skip
#: Deployment facts a seed config may carry; the deployment decides them, so they are checked.
DEPLOYMENT_KEYS = ("project_id", "project", "location", "region")


def add_parser(sub: Any) -> None:
    from shared.commands._deps import add_root_argument

    p = sub.add_parser(
        "start",
        help="start a run from a seed-style config.yaml (datasets named as paths)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--config", required=True, metavar="FILE", help="the seed's config.yaml")
    p.add_argument("--name", help="dataset name under incoming/ (default: from the config)")
    add_root_argument(p)
    p.set_defaults(func=run)


def _fail(message: str, code: int = 1) -> int:
    print(f"error: {message}", file=sys.stderr)
    return code


def _name(args: argparse.Namespace, raw: dict[str, Any], config: Path) -> str:
    base = args.name or str(raw.get("tuned_model_display_name") or config.stem)
    return re.sub(r"[^A-Za-z0-9._-]+", "-", base).strip("-.")[:100] or "dataset"


def run(args: argparse.Namespace) -> int:
    from shared.commands import submit
    from shared.commands._deps import deps_for
    from shared.errors import ConfigError
    from shared.runs import make_run_id
    from shared.tuning_config import parse_tuning_yaml

    config = Path(args.config)
    try:
        raw = yaml.safe_load(config.read_text(encoding="utf-8-sig"))
    except OSError as e:
        return _fail(f"cannot read --config {config}: {e.strerror or e}", 2)
    except yaml.YAMLError as e:
        return _fail(f"{config}: invalid YAML: {e}", 1)
    if not isinstance(raw, dict):
        return _fail(f"{config}: expected a mapping of settings (the seed's config.yaml)")
    deps = deps_for(args)
    settings = deps.settings
    paths = {k: str(raw.pop(k)) for k in DATASET_KEYS if raw.get(k)}
    seen = {k: raw.pop(k) for k in DEPLOYMENT_KEYS if k in raw}
    for key, value in seen.items():
        mine = settings.project if key.startswith("project") else settings.location
        if settings.backend == "gcp" and str(value) != mine:
            print(
                f"note: {config} says {key}: {value}; this deployment runs in {mine} "
                "(Terraform decides it), so that is where the run goes",
                file=sys.stderr,
            )
    if "train_dataset" not in paths:
        return _fail(f"{config}: train_dataset is missing: name the training JSONL file")
    tuning_yaml = yaml.safe_dump(raw, allow_unicode=True, sort_keys=False) if raw else ""
    try:
        resolved = parse_tuning_yaml(
            tuning_yaml.encode(), source=str(config), base=settings.defaults,
            catalog=settings.catalog,
        )  # fmt: skip
    except ConfigError as e:
        return _fail(e.message)
    name = _name(args, raw, config)
    if any(p.startswith("gs://") for p in paths.values()):
        # Copied bucket to bucket, not validated here: the pipeline's configuration checks
        # still run first (a local folder goes through `submit`, which runs them).
        from shared.commands._config import check

        dest = f"gs://{settings.datasets_bucket}" if settings.backend == "gcp" else None
        if check(resolved, dest=dest).print("gemini-tuning start"):
            return 1
        return _start_from_gcs(deps, paths, tuning_yaml, name)
    with tempfile.TemporaryDirectory(prefix="gtp-start-") as tmp:
        folder = Path(tmp) / name
        folder.mkdir()
        for key, filename in DATASET_KEYS.items():
            if key in paths:
                src = Path(paths[key])
                src = src if src.is_absolute() else config.parent / src
                if not src.is_file():
                    return _fail(f"{config}: {key} {paths[key]!r}: no such file", 2)
                shutil.copyfile(src, folder / filename)
        if tuning_yaml:
            (folder / "tuning.yaml").write_text(tuning_yaml, encoding="utf-8")
        if settings.backend == "gcp":
            dest = f"gs://{settings.datasets_bucket}"
        else:
            dest = str(deps.layout.datasets)
            deps.layout.create()
        ns = argparse.Namespace(folder=str(folder), to=dest, name=name, no_validate=False)
        code: int = submit.run(ns)
    if code != 0:
        return code
    train = f"incoming/{name}/train.jsonl"
    info = deps.blobs.stat(settings.datasets_bucket, train)
    if info is None:  # pragma: no cover - submit just wrote it
        return _fail(f"{train} is not in the bucket after the upload", 2)
    _print_next(deps, make_run_id(info.bucket, info.name, info.generation))
    return 0


def _start_from_gcs(deps: Any, paths: dict[str, str], tuning_yaml: str, name: str) -> int:
    from shared.runs import make_run_id

    s = deps.settings
    if s.backend != "gcp":
        return _fail("gs:// datasets need the cloud deployment: set BACKEND=gcp (and GCP_PROJECT)")
    blobs = deps.blobs
    try:
        if tuning_yaml:
            blobs.write_bytes(s.datasets_bucket, f"incoming/{name}/tuning.yaml",
                              tuning_yaml.encode(), content_type="application/yaml")  # fmt: skip
        info = None
        for key in ("validation_dataset", "test_dataset", "train_dataset"):  # train last
            if key in paths:
                bucket, _, obj = paths[key][len("gs://") :].partition("/")
                info = blobs.copy(bucket, obj, s.datasets_bucket,
                                  f"incoming/{name}/{DATASET_KEYS[key]}")  # fmt: skip
                print(f"copied {paths[key]} -> gs://{s.datasets_bucket}/incoming/{name}/")
    except Exception as e:  # the client's permission / not-found errors, one line
        return _fail(f"copy into gs://{s.datasets_bucket} failed: {getattr(e, 'message', e)}", 2)
    assert info is not None
    _print_next(deps, make_run_id(info.bucket, info.name, info.generation))
    return 0


def _print_next(deps: Any, run_id: str) -> None:
    where = "" if deps.settings.backend == "gcp" else f" --root {deps.layout.root}"
    print(f"run {run_id} started; follow it with: gemini-tuning status {run_id}{where}")
    if deps.settings.backend != "gcp":
        print(
            f"(the local pipeline runs while `gemini-tuning local --root {deps.layout.root}` "
            "is running)"
        )
