"""IN -> OUT file handling shared by the commands that write a new dataset (`convert`,
`redact`): the input is only ever read, OUT is never IN, and OUT is written to a temporary file
beside it and renamed into place, so a crash never leaves half a file."""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO, TypeVar

T = TypeVar("T")


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.samefile(b)
    except OSError:
        return False


def check_in_out(src: Path | None, out: Path | None, force: bool, verb: str) -> str | None:
    """The one-line problem with this IN / OUT pair (None when it is fine); `src` None = stdin,
    `out` None = stdout."""
    if src is not None and not src.is_file():
        what = "is a folder" if src.is_dir() else "does not exist"
        return f"input {src} {what}. Pass the path of a .jsonl file."
    if out is None:
        return None
    if src is not None and out.exists() and _same_file(src, out):
        return f"IN and OUT are the same file; {verb} never modifies its input. Choose another OUT."
    if out.is_dir():
        return f"output {out} is a folder. Pass a file path such as {out}/train.jsonl."
    if out.exists() and not force:
        return f"output {out} already exists. Pass --force to overwrite it, or choose another path."
    if not out.parent.is_dir():
        return f"the folder {out.parent} does not exist. Create it first."
    return None


def write_atomically(
    src_path: Path | None,
    out: Path,
    transform: Callable[[BinaryIO, BinaryIO], T],
    keep: Callable[[T], bool] | None = None,
) -> T:
    """Run `transform(src, tmp)` into a temp file in OUT's folder, then rename: OUT is either
    old or complete. When `keep(result)` is False (nothing worth writing: no line converted)
    the temp file is removed and OUT is left as it was, so no empty file is left behind."""
    fd, tmp_name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as dst:
            if src_path is None:
                result = transform(sys.stdin.buffer, dst)
            else:
                with src_path.open("rb") as src:
                    result = transform(src, dst)
            dst.flush()
            os.fsync(dst.fileno())
        if keep is not None and not keep(result):
            tmp.unlink()
        else:
            os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return result
