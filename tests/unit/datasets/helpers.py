"""Small builders for validator tests: examples as dicts, files as bytes."""

from __future__ import annotations

import io
import json
from typing import Any

from shared.datasets import ValidationReport, validate_dataset


def turn(role: str, *texts: str) -> dict[str, Any]:
    return {"role": role, "parts": [{"text": t} for t in texts]}


def example(*pairs: tuple[str, str], **extra: Any) -> dict[str, Any]:
    contents = []
    for q, a in pairs or (("How do I reset my password?", "Open Settings > Account > Reset."),):
        contents += [turn("user", q), turn("model", a)]
    return {"contents": contents, **extra}


def line(obj: Any) -> bytes:
    return obj if isinstance(obj, bytes) else json.dumps(obj, ensure_ascii=False).encode()


def jsonl(*objs: Any, end: bytes = b"\n") -> bytes:
    return b"\n".join(line(o) for o in objs) + end


def validate(data: bytes, **kw: Any) -> ValidationReport:
    for role in ("validation", "test"):
        if isinstance(kw.get(role), bytes):
            kw[role] = io.BytesIO(kw[role])
    return validate_dataset(io.BytesIO(data), **kw)


def found(report: ValidationReport) -> dict[str, list[tuple[int | None, str]]]:
    """code -> [(line, path)] of the kept findings."""
    out: dict[str, list[tuple[int | None, str]]] = {}
    for f in report.errors + report.warnings:
        out.setdefault(f.code, []).append((f.line, f.path))
    return out
