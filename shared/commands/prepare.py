"""`gemini-tuning prepare SOURCE... --out DIR [--map FILE]`: a customer-service export (CSV,
TSV, Excel, chat JSONL; local or gs://) -> a dataset folder `submit` accepts as it is.

The sources are only read. DIR is built in a temporary folder beside it and its files are moved
into place only once written and validated, so an interrupted run leaves DIR as it was; an
existing DIR is refused unless `--force` (then only the files prepare writes are replaced).
Exit codes like `validate`: 0 prepared and valid (warnings allowed), 1 the input or the result
is invalid (nothing usable, role values the mapping does not cover, validation errors), 2 usage
or I/O error.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

if TYPE_CHECKING:
    from shared.ports import Blobs
    from shared.prepare.run import Report, Source

#: What a prepared folder holds (only these are ever replaced in an existing --out).
OUTPUTS = ("train.jsonl", "validation.jsonl", "test.jsonl", "tuning.yaml", "prepare-report.json")


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "prepare",
        help="turn a customer-service export (CSV / TSV / XLSX / chat JSONL) into a dataset folder",
        description=(
            "Read chat exports (one message per row: session, sender, text, time; or chat "
            "JSONL), build one example per session, redact personal data, drop duplicates, "
            "split train / validation / test by session and write a dataset folder that "
            "`gemini-tuning submit` uploads as it is. Sources are never modified. Exit code: "
            "0 prepared and valid, 1 invalid input or result, 2 usage or I/O error."
        ),
    )
    p.add_argument("sources", metavar="SOURCE", nargs="+", help="export files (paths or gs://B/O)")
    p.add_argument("--out", required=True, metavar="DIR", help="dataset folder to write")
    p.add_argument("--map", metavar="FILE", help="YAML naming columns and sender values")
    p.add_argument("--config", metavar="FILE", help="tuning.yaml to use (model, privacy policy)")
    p.add_argument("--model", metavar="NAME", help="base model (overrides --config)")
    p.add_argument(
        "--system-instruction", metavar="TEXT", help="system instruction for every example"
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the split (default 0)")
    p.add_argument(
        "--validation-share", type=float, default=0.1, metavar="F",
        help="share of examples for validation (default 0.1, within the model's limits)",
    )  # fmt: skip
    p.add_argument(
        "--test-share", type=float, default=0.1, metavar="F",
        help="share of examples for the held-out test set (default 0.1)",
    )  # fmt: skip
    p.add_argument(
        "--max-tokens", type=int, metavar="N",
        help="split sessions longer than N estimated tokens (default: the model's limit)",
    )  # fmt: skip
    p.add_argument("--encoding", metavar="NAME", help="override the detected text encoding")
    p.add_argument("--sheet", metavar="NAME", help="worksheet of an .xlsx file (default: first)")
    p.add_argument(
        "--pii-policy",
        choices=("warn", "reject", "redact"),
        help="personal data: redact (default; placeholders), warn (keep, count), reject (drop "
        "the conversation); default from --config's privacy section",
    )
    p.add_argument(
        "--pii-pattern", metavar="NAME=REGEX", action="append", default=[],
        help="also treat matches of REGEX as personal data (repeatable)",
    )  # fmt: skip
    p.add_argument(
        "--force", action="store_true", help="replace prepare's files in an existing DIR"
    )
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=run)


def _fail(message: str) -> int:
    print(f"gemini-tuning prepare: {message}", file=sys.stderr)
    return 2


def _blobs() -> Blobs:
    """The Cloud Storage adapter behind the `Blobs` port (tests swap in another adapter)."""
    from shared.gcp.storage import GcsBlobs

    return GcsBlobs(project=os.environ.get("GCP_PROJECT") or None)


def _source(arg: str, out: Path) -> Source:
    """A local file or a `gs://` object as a prepare source. Raises OSError saying what is
    wrong."""
    from shared.prepare.run import Source

    if arg.startswith("gs://"):
        bucket, _, name = arg[len("gs://") :].partition("/")
        if not bucket or not name:
            raise OSError(f"{arg!r}: write gs://BUCKET/OBJECT.")
        try:
            blobs = _blobs()
            info = blobs.stat(bucket, name)
        except Exception as e:  # credentials, permissions, network: one line
            raise OSError(
                f"cannot read {arg!r}: {type(e).__name__}: {e}. Check your credentials "
                "(`gcloud auth application-default login`) and the bucket name."
            ) from None
        if info is None:
            raise OSError(f"{arg!r} does not exist. Check the bucket and object name.")
        generation = info.generation

        def open_blob() -> BinaryIO:
            return blobs.open_read(bucket, name, generation=generation)

        return Source(arg, open_blob, info.size)
    path = Path(arg)
    if path.is_dir():
        raise OSError(f"{arg!r} is a folder; give the export file(s) inside it.")
    if not path.is_file():
        raise OSError(f"{arg!r} does not exist. Check the path.")
    if not os.access(path, os.R_OK):
        raise OSError(f"{arg!r} is not readable (permission denied).")
    if out.exists() and path.resolve().parent == out.resolve() and path.name in OUTPUTS:
        raise OSError(
            f"{arg!r} is inside --out and would be replaced; prepare never modifies its "
            "input. Choose another --out."
        )
    return Source(arg, lambda: path.open("rb"), path.stat().st_size, path)


def _check_out(out: Path, force: bool) -> str | None:
    if out.exists() and not out.is_dir():
        return f"--out {out} is a file; give a folder path (it is created)."
    if out.is_dir() and any(out.iterdir()) and not force:
        return (
            f"--out {out} already exists. Pass --force to replace the files prepare writes "
            f"there ({', '.join(OUTPUTS)}), or choose another folder."
        )
    if not out.parent.is_dir():
        return f"the folder {out.parent} does not exist. Create it first."
    return None


def _config(args: argparse.Namespace) -> tuple[Any, str | None, bytes | None]:
    """(TuningConfig, privacy policy the config names or None, its bytes). Raises ConfigError
    / OSError."""
    import yaml

    from shared.tuning_config import TuningConfig, parse_tuning_yaml

    if not args.config:
        return TuningConfig(), None, None
    data = Path(args.config).read_bytes()
    config = parse_tuning_yaml(data, source=args.config, base=TuningConfig())
    raw = yaml.safe_load(data) or {}
    named = isinstance(raw, dict) and isinstance(raw.get("privacy"), dict)
    return config, (config.privacy.policy if named else None), data


def run(args: argparse.Namespace) -> int:
    from shared.catalog import catalog_from_env
    from shared.commands._progress import byte_progress
    from shared.datasets.privacy import PrivacyOptions, parse_pattern
    from shared.errors import ConfigError
    from shared.prepare import encoding
    from shared.prepare.mapping import ExportMap, parse_map
    from shared.prepare.run import Options, prepare

    out = Path(args.out)
    problem = _check_out(out, args.force)
    if problem:
        return _fail(problem)
    for name, share in (
        ("--validation-share", args.validation_share),
        ("--test-share", args.test_share),
    ):
        if not 0 <= share < 0.5:
            return _fail(f"{name} must be at least 0 and below 0.5.")
    if args.max_tokens is not None and args.max_tokens < 16:
        return _fail("--max-tokens must be at least 16.")
    try:
        config, policy, config_bytes = _config(args)
        catalog = catalog_from_env()
    except ConfigError as e:
        _fail(e.message)
        return 1
    except OSError as e:
        return _fail(f"cannot read --config {args.config!r}: {e.strerror or e}.")
    model = args.model or config.source_model_name
    if catalog.get(model) is None:
        return _fail(f"unknown model {model!r}. Use one of: {', '.join(catalog.models)}.")
    patterns = dict(config.privacy.patterns)
    try:
        for spec in args.pii_pattern:
            k, rx = parse_pattern(spec)
            patterns[k] = rx
        privacy = PrivacyOptions(policy=args.pii_policy or policy or "redact", patterns=patterns)  # type: ignore[arg-type]
        mapping = ExportMap()
        if args.map:
            mapping = parse_map(Path(args.map).read_text(encoding="utf-8"), args.map)
        enc = encoding.named(args.encoding) if args.encoding else None
        sources = [_source(s, out) for s in args.sources]
    except (ValueError, OSError) as e:
        return _fail(str(e))
    options = Options(
        model=model,
        catalog=catalog,
        mapping=mapping,
        privacy=privacy,
        system_instruction=args.system_instruction,
        seed=args.seed,
        validation_share=args.validation_share,
        test_share=args.test_share,
        max_tokens=args.max_tokens,
        encoding=enc,
        sheet=args.sheet,
    )
    with contextlib.ExitStack() as stack:
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.prepare-", dir=out.parent))
        stack.callback(shutil.rmtree, tmp, True)
        total = sum(s.size or 0 for s in sources)
        progress = byte_progress("reading", total, stack) if not args.json else None
        try:
            report = prepare(sources, tmp, _with_progress(options, progress))
        except (ValueError, UnicodeDecodeError) as e:
            return _fail(_read_error(e))
        except OSError as e:
            return _fail(f"read error: {e.strerror or e}.")
        if progress is not None:
            progress(total)
        _write_config(tmp / "tuning.yaml", config_bytes, report.model, privacy.policy)
        validation = (
            _validate(tmp, report.model, privacy, catalog) if report.splits["train"] else None
        )
        doc = report.to_dict()
        doc["output"] = str(out)
        doc["validation"] = _validation_summary(validation)
        (tmp / "prepare-report.json").write_text(
            json.dumps(doc, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
        )
        if report.splits["train"]:
            _move_into_place(tmp, out)
    if args.json:
        print(json.dumps(doc, ensure_ascii=False, indent=2))
    else:
        _print_summary(report, doc, out)
    valid = validation is not None and validation.valid
    return 0 if valid and report.ok else 1


def _read_error(e: Exception) -> str:
    if isinstance(e, UnicodeDecodeError):
        return (
            f"the file is not valid {e.encoding} text past its first part ({e.reason}). Name "
            "its encoding with --encoding (utf-8, utf-8-bom, gb18030, utf-16)."
        )
    return str(e)


def _with_progress(options: Any, progress: Any) -> Any:
    from dataclasses import replace

    if progress is None:
        return options
    return replace(options, progress=lambda done, total: progress(done))


def _write_config(path: Path, given: bytes | None, model: str, policy: str) -> None:
    """The user's tuning.yaml as it is, or a small one naming the model and the policy."""
    if given is not None:
        path.write_bytes(given)
        return
    path.write_text(
        "# Written by `gemini-tuning prepare`; edit freely (see docs/prepare.md).\n"
        f"source_model_name: {model}\n"
        "# The examples were cleaned with this personal-data policy; the pipeline checks again.\n"
        f"privacy:\n  policy: {policy}\n",
        encoding="utf-8",
    )


def _validate(folder: Path, model: str, privacy: Any, catalog: Any) -> Any:
    """The dataset validator over the written files (what the pipeline will run)."""
    from shared.datasets import validate_dataset

    with contextlib.ExitStack() as stack:
        streams = {
            role: stack.enter_context((folder / f"{role}.jsonl").open("rb"))
            for role in ("train", "validation", "test")
            if (folder / f"{role}.jsonl").exists()
        }
        return validate_dataset(
            streams["train"],
            validation=streams.get("validation"),
            test=streams.get("test"),
            model=model,
            privacy=privacy,
            catalog=catalog,  # the deployment's, with MODEL_CATALOG_OVERRIDES
        )


def _validation_summary(report: Any) -> dict[str, Any]:
    if report is None:
        return {"valid": False, "counts": {}, "errors": []}
    return {
        "valid": report.valid,
        "counts": dict(report.counts),
        "errors": [
            {"code": f.code, "file": f.file, "line": f.line, "message": f.message}
            for f in report.errors[:20]
        ],
    }


def _move_into_place(tmp: Path, out: Path) -> None:
    """Each file renamed into DIR (same file system: atomic per file); a file of ours that
    this run did not write (no test split now) is removed so the folder is consistent."""
    out.mkdir(exist_ok=True)
    for name in OUTPUTS:
        src = tmp / name
        if src.exists():
            os.replace(src, out / name)
        else:
            (out / name).unlink(missing_ok=True)


def _print_summary(report: Report, doc: dict[str, Any], out: Path) -> None:
    from rich.console import Console
    from rich.table import Table

    # soft_wrap: a message that names a file and a row stays on one line (copyable, greppable)
    # however long the path is; the terminal folds it for display.
    con = Console(highlight=False, soft_wrap=True)
    for src in doc["sources"]:
        how = ", ".join(
            f"{k} {v!r}" if k in ("delimiter", "sheet") else f"{k} {v}"
            for k, v in src.items()
            if k in ("format", "encoding", "delimiter", "sheet")
        )
        cols = ", ".join(f"{k}={v}" for k, v in (src.get("columns") or {}).items())
        con.print(f"{src['name']}: {how}" + (f"; columns {cols}" if cols else ""), markup=False)
    table = Table(title="prepare summary", show_header=False)
    table.add_row("rows read", f"{report.rows_read:,} ({report.messages:,} messages kept)")
    if report.dropped_roles:
        table.add_row(
            "rows dropped by sender",
            ", ".join(f"{k} {n:,}" for k, n in report.dropped_roles.most_common()),
        )
    table.add_row("sessions", f"{report.sessions:,}")
    table.add_row("examples built", f"{report.examples_built:,}")
    table.add_row("examples", ", ".join(f"{k} {n:,}" for k, n in report.splits.items()))
    dropped = ", ".join(f"{k} {n:,}" for k, n in report.dropped.most_common() if n)
    table.add_row("dropped", dropped or "nothing")
    if report.notes:
        table.add_row("notes", ", ".join(f"{k} {n:,}" for k, n in report.notes.items()))
    pd = ", ".join(f"{k} {n:,}" for k, n in report.personal_data.most_common()) or "none found"
    table.add_row("personal data", f"{pd} (policy {report.privacy_policy})")
    if report.template_answers.count:
        table.add_row(
            "template answers",
            f"{report.template_answers.count:,} examples end with a stock answer (kept; review)",
        )
    for split, o in report.overlap.items():
        table.add_row(
            f"{split} overlap",
            f"{o['overlapping']:,} of {o['examples']:,}"
            + (f" sampled of {o['of']:,}" if o["of"] > o["examples"] else "")
            + f" ({o['share']:.1%}) share a final exchange with training",
        )
    cost = report.cost_per_epoch
    table.add_row(
        "estimated tokens",
        f"{report.train_tokens:,} training tokens per epoch"
        + (f", ~${cost:,.2f} per epoch" if cost is not None else ", no price known"),
    )
    con.print(table)
    for value, t in report.unmapped_roles.items():
        first = t.samples[0]
        con.print(
            f"unmapped sender {value!r}: {t.count:,} row(s), first {first['file']} row "
            f"{first['line']}; add it to --map under roles: user / model / drop.",
            markup=False,
        )
    for code, t in report.problems.items():
        first = t.samples[0]
        con.print(
            f"{code}: {t.count:,} row(s), first {first['file']} row {first['line']}: "
            f"{first['detail']}",
            markup=False,
        )
    v = doc["validation"]
    if not report.splits["train"]:
        con.print("Result: [red]nothing to write[/red]; no example survived (see dropped).")
        return
    verdict = "[green]valid[/green]" if v["valid"] else "[red]invalid[/red]"
    con.print(f"Validated: {verdict}; wrote {out}/ (see prepare-report.json)")
    for e in v["errors"][:5]:
        con.print(f"  {e['code']} {e['file']}:{e['line']}: {e['message']}", markup=False)
    if v["valid"] and report.ok:
        con.print(f"Next: gemini-tuning submit {out} --to gs://YOUR-DATASETS-BUCKET")
