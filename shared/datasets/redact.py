"""`redact_stream`: a copy of a JSONL dataset with personal data replaced by typed placeholders.

Streaming, in 4 MB chunks: memory does not grow with the file. A line the detectors find nothing
in is copied byte for byte; a line with personal data is decoded, every string value in it has
its values replaced (`<PHONE_1>`, `<ID_CARD_1>`, ...; the same value gets the same placeholder
everywhere in that example, so a conversation still reads coherently) and is written back as
compact JSON. A line that is not valid JSON is redacted in its raw text (values never sit across
a JSON escape) and counted, so nothing personal slips through because of a syntax error.

The pipeline's `redact` policy calls this with binary streams (Cloud Storage reader in, writer to
the artifacts bucket out); `gemini-tuning redact IN OUT` calls it with files.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, BinaryIO

import msgspec

from shared.datasets import lines
from shared.datasets.content_checks import EVERY_LINE
from shared.datasets.lines import BOM, Batch, Line, Overlong, iter_batches, sniff
from shared.datasets.pii_prefilter import Prefilter
from shared.datasets.privacy import Detector, Placeholders, PrivacyOptions, replace
from shared.datasets.schema import any_decoder

_encode = msgspec.json.Encoder().encode


@dataclass
class RedactReport:
    """What `redact_stream` did: lines read and rewritten, values replaced per kind."""

    lines: int = 0
    changed_lines: int = 0
    #: lines that are not valid JSON, redacted in their raw text
    unparsed_lines: int = 0
    counts: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "lines": self.lines,
            "changed_lines": self.changed_lines,
            "unparsed_lines": self.unparsed_lines,
            "replaced": dict(sorted(self.counts.items())),
        }


class _Redactor:
    def __init__(self, options: PrivacyOptions) -> None:
        self.detector = Detector(options)
        self.prefilter = Prefilter(options)
        self.report = RedactReport()

    def text(self, s: str, names: Placeholders) -> str:
        hits = self.detector.scan_text(s)
        if not hits:
            return s
        for h in hits:
            self.report.counts[h.kind] = self.report.counts.get(h.kind, 0) + 1
        return replace(s, hits, names)

    def value(self, v: Any, names: Placeholders) -> Any:
        if isinstance(v, str):
            return self.text(v, names)
        if isinstance(v, dict):
            return {k: self.value(x, names) for k, x in v.items()}
        if isinstance(v, list):
            return [self.value(x, names) for x in v]
        return v

    def line(self, raw: bytes) -> bytes:
        names = Placeholders()
        try:
            obj = any_decoder.decode(raw)
        except (msgspec.DecodeError, msgspec.ValidationError):
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                text = raw.decode("utf-8", "surrogateescape")
            self.report.unparsed_lines += bool(raw.strip())
            out = self.text(text, names).encode("utf-8", "surrogateescape")
            return out
        new = self.value(obj, names)
        if new == obj:
            return raw
        return _encode(new) + (b"\r" if raw.endswith(b"\r") else b"")

    def batch(self, batch: Batch, dst: BinaryIO, first: bool) -> None:
        if self.prefilter.unscreened:
            cand: Any = EVERY_LINE
        else:
            found = self.prefilter.candidates(batch.joined(), batch.lines, batch.first_line)
            cand = EVERY_LINE if found is None else found
        out: list[Line] = []
        ln = batch.first_line
        for raw in batch.lines:
            if ln in cand:
                new = self.line(bytes(raw))
                self.report.changed_lines += new != raw
                raw = new
            out.append(raw)
            ln += 1
        self.report.lines += len(batch.lines)
        dst.write((b"" if first else b"\n") + b"\n".join(out))


def redact_stream(
    src: BinaryIO, dst: BinaryIO, options: PrivacyOptions | None = None
) -> RedactReport:
    """Copy `src` to `dst` with personal data replaced; `src` is only read.

    Raises ValueError for input that is not JSON Lines text (compressed, binary, UTF-16) or has
    a line longer than 32 MB (it could not be copied faithfully).
    """
    r = _Redactor(options or PrivacyOptions())
    head = src.read(lines.HEAD_BYTES)
    if not head:
        return r.report
    sn = sniff(head)
    if sn.problem:
        raise ValueError(sn.message)
    if sn.bom:
        dst.write(BOM)
    first = True
    last: object = None
    for item in iter_batches(src, head, 3 if sn.bom else 0):
        last = item
        if isinstance(item, Overlong):
            raise ValueError(
                f"line {item.line} is longer than 32 MB; it cannot be an example. Fix the line "
                "breaks first."
            )
        if isinstance(item, Batch):
            r.batch(item, dst, first)
            first = False
    if not isinstance(last, Batch) and not first:
        dst.write(b"\n")  # the input ended with a newline (the last item was a byte count)
    return r.report
