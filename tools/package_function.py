"""Build one Cloud Function's source zip: `functions/<name>/*` at the root plus `shared/`.

Terraform builds the deployed zip itself (infra/modules/function, `archive_file` over the same
file set), so this script exists for what Terraform cannot do here: test the exact archive in a
clean virtual environment, and inspect or hand-deploy one (`gcloud functions deploy --source`).
The include/exclude rule is shared with the module; tests/infra checks that they agree.

    python tools/package_function.py validator            # -> build/functions/validator.zip
    python tools/package_function.py --all --out-dir DIR
"""

from __future__ import annotations

import argparse
import re
import sys
import zipfile
from collections.abc import Sequence
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent

#: Paths (relative, "/"-separated) left out of the zip: tests, caches, compiled and hidden files.
#: Kept identical to `local.exclude` in infra/modules/function/main.tf (RE2 and `re` agree on it).
EXCLUDE = r"(^|/)(__pycache__|tests?)(/|$)|(^|/)test_[^/]*\.py$|_test\.py$|\.py[co]$|(^|/)\."
_EXCLUDE_RE = re.compile(EXCLUDE)

#: Fixed timestamp so the same sources give the same bytes (and the same content hash).
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
REQUIRED_FILES = ("main.py", "requirements.txt")


class PackagingError(Exception):
    """A function cannot be packaged; the message says what to fix."""


def available_functions(root: Path = REPO_ROOT) -> list[str]:
    base = root / "functions"
    if not base.is_dir():
        return []
    return sorted(p.name for p in base.iterdir() if p.is_dir() and (p / "main.py").is_file())


def _walk(folder: Path) -> list[str]:
    return sorted(
        p.relative_to(folder).as_posix()
        for p in folder.rglob("*")
        if p.is_file() and not _EXCLUDE_RE.search(p.relative_to(folder).as_posix())
    )


def collect_files(name: str, root: Path = REPO_ROOT) -> dict[str, Path]:
    """Archive name -> file on disk, in archive order. Function files win over shared/ ones."""
    fn_dir = root / "functions" / name
    if not fn_dir.is_dir():
        known = ", ".join(available_functions(root)) or "none found"
        raise PackagingError(f"no folder functions/{name}/. Known functions: {known}.")
    missing = [f for f in REQUIRED_FILES if not (fn_dir / f).is_file()]
    if missing:
        raise PackagingError(
            f"functions/{name}/ lacks {', '.join(missing)}: a function needs main.py (the entry "
            "point) and requirements.txt (its runtime dependencies)."
        )
    shared_dir = root / "shared"
    if not shared_dir.is_dir():
        raise PackagingError(f"no shared/ folder under {root}: run from the repository.")
    files = {f"shared/{rel}": shared_dir / rel for rel in _walk(shared_dir)}
    files.update({rel: fn_dir / rel for rel in _walk(fn_dir)})
    return dict(sorted(files.items()))


def build_zip(name: str, out: Path, root: Path = REPO_ROOT) -> Path:
    """Write the function's zip to `out` (deterministic bytes) and return `out`."""
    files = collect_files(name, root)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(out.suffix + ".tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for arcname, path in files.items():
            info = zipfile.ZipInfo(arcname, date_time=_ZIP_EPOCH)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, path.read_bytes())
    tmp.replace(out)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="function folder names under functions/")
    parser.add_argument("--all", action="store_true", help="package every function")
    parser.add_argument("--out-dir", type=Path, default=REPO_ROOT / "build" / "functions")
    parser.add_argument("--root", type=Path, default=REPO_ROOT, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    names = available_functions(args.root) if args.all else list(args.names)
    if not names:
        parser.error("name a function (e.g. validator) or pass --all")
    try:
        for name in names:
            out = build_zip(name, args.out_dir / f"{name}.zip", args.root)
            print(f"{name}: {out} ({len(collect_files(name, args.root))} files)")
    except PackagingError as e:
        print(f"package_function: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
