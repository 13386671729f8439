"""The scanner: every line-level check of one file in one streaming pass, into compact state.

Per line: the fast path decodes straight into `schema.TextExample` (structure checked in C) and
does a few integer sums; only lines it rejects are decoded again into plain objects and walked by
`format_rules.check_example`, which produces the precise findings. What is kept per file
(`FileState`: sums, `stats.py` distributions and hash arrays) is compact and mergeable, so memory
does not grow with line length or error count and `dataset_checks.py` reports from it alone.

Data safety and quality ride on the same pass (`content_checks.py`): a Hyperscan prefilter per
4 MB chunk picks the few lines whose texts the personal-data detectors scan; the hot loop adds
per-turn script counters, a sampled near-duplicate sketch and the answer-length extremes.
`parallel.py` splits a large file over several processes.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO

import msgspec

from shared.catalog import ModelLimits
from shared.datasets import lines
from shared.datasets.content_checks import NO_LINE, FileQuality, PersonalData
from shared.datasets.findings import FindingLog
from shared.datasets.format_rules import ExampleFacts, check_example
from shared.datasets.json_errors import DECODE_ERRORS, json_problem
from shared.datasets.json_shape import (
    depth_problem,
    duplicate_key,
    duplicate_key_message,
    fast_keys_expected,
    key_marks,
)
from shared.datasets.lines import Batch, Overlong, iter_batches, sniff
from shared.datasets.privacy import PrivacyOptions
from shared.datasets.quality_measures import script_of
from shared.datasets.schema import any_decoder, fast_decoder
from shared.datasets.stats import Distribution, DuplicateIndex
from shared.datasets.tokens import CHAR_WEIGHT, EXTRA_WEIGHT

#: A model answer shorter than this many characters (and no function call) is flagged.
SHORT_ANSWER_CHARS = 3


@dataclass
class FileState:
    """Everything kept about one file while it streams past."""

    role: str
    name: str
    bytes: int = 0
    lines: int = 0
    examples: int = 0
    multimodal_examples: int = 0
    with_system: int = 0
    first_with_system: int | None = None
    first_without_system: int | None = None
    chars: int = 0
    extra: int = 0
    images: int = 0
    audio: int = 0
    video: int = 0
    pdf: int = 0
    function_calling: int = 0
    tokens_in: Distribution = field(default_factory=Distribution)
    tokens_out: Distribution = field(default_factory=Distribution)
    tokens: Distribution = field(default_factory=Distribution)
    turns: Distribution = field(default_factory=Distribution)
    dups: DuplicateIndex = field(default_factory=DuplicateIndex)
    quality: FileQuality = field(default_factory=lambda: FileQuality(20))
    scanned: bool = False


class Scanner:
    """Scans files one after another into `files` and `log`; `dataset_checks` reports them."""

    def __init__(
        self,
        limits: ModelLimits,
        epochs: int | None,
        cap: int,
        progress: Callable[[int], None] | None,
        privacy: PrivacyOptions,
    ) -> None:
        self.limits = limits
        self.epochs = epochs
        self.log = FindingLog(cap)
        self.privacy = privacy
        self.pii = PersonalData(privacy, self.log) if privacy.enabled else None
        self._cand: Any = NO_LINE
        self.cap = cap
        self.progress = progress
        self.done_bytes = 0
        self.files: dict[str, FileState] = {}

    # -- one file ------------------------------------------------------------------------
    def scan(self, stream: BinaryIO, role: str, name: str) -> None:
        st = self.files[role] = FileState(role, name, quality=FileQuality(self.cap))
        log = self.log
        head = stream.read(lines.HEAD_BYTES)
        if not head:
            st.scanned = True
            log.add("empty_file", name, None, "", "The file is empty. Upload the JSONL data.")
            return
        sn = sniff(head)
        if sn.problem:
            log.add(sn.problem, name, None, "", sn.message)
            st.bytes = len(head) + sum(len(c) for c in iter(lambda: stream.read(1 << 22), b""))
            self._progress(st.bytes)
            return
        st.scanned = True
        size, newlines = _stream_size(stream), head.count(b"\n")
        if size and newlines:
            st.quality.expect(size * newlines // len(head))
        if sn.bom:
            log.add(
                "utf8_bom",
                name,
                1,
                "",
                "The file starts with a UTF-8 byte-order mark (BOM). Re-save it as UTF-8 "
                "without BOM (e.g. `sed -i '1s/^\\xEF\\xBB\\xBF//' FILE`).",
            )
        if sn.looks_like_array:
            log.add(
                "not_jsonl",
                name,
                1,
                "",
                "The file looks like one JSON array, not JSON Lines. Write one example object "
                "per line (e.g. `jq -c '.[]' FILE`).",
            )
        self.consume(st, iter_batches(stream, head, 3 if sn.bom else 0))
        self._progress(st.bytes)

    def consume(self, st: FileState, items: Iterator[Batch | Overlong | int]) -> None:
        """Validate what `iter_batches` yields into `st` (a whole file or one byte range)."""
        for item in items:
            if isinstance(item, int):
                st.bytes = item
                self._progress(item)
            elif isinstance(item, Overlong):
                st.lines = item.line
                self.log.add(
                    "line_too_long",
                    st.name,
                    item.line,
                    "",
                    "The line is longer than 32 MB, far beyond any example Vertex AI accepts. "
                    "Check the line breaks (one example per line) or shorten the example.",
                )
            else:
                self._batch(st, item)

    def _progress(self, file_bytes: int) -> None:
        if self.progress is not None:
            self.progress(self.done_bytes + file_bytes)

    def _batch(self, st: FileState, batch: Batch) -> None:
        """The hot loop: locals only, no per-line method calls on the fast path."""
        decode = fast_decoder.decode
        max_tokens = self.limits.max_tokens_per_example
        log_add = self.log.add
        name = st.name
        dup_h, dup_l = st.dups.hashes, st.dups.lines
        small = Distribution.SMALL
        in_small, in_big = st.tokens_in.small, st.tokens_in.big.append
        out_small, out_big = st.tokens_out.small, st.tokens_out.big.append
        all_small, all_big = st.tokens.small, st.tokens.big.append
        turn_small, turn_big = st.turns.small, st.turns.big.append
        cw, ew = CHAR_WEIGHT, EXTRA_WEIGHT
        pii = self.pii
        cand = self._cand = pii.candidates(batch) if pii is not None else NO_LINE
        q = st.quality
        lang_u, lang_m = q.lang_user, q.lang_model
        stride = q.near.stride
        lmask = q.lang_stride - 1
        ext = q.extremes
        top_floor, bottom_ceiling = ext.top_floor, ext.bottom_ceiling
        n_ex = with_sys = sum_in = sum_out = sum_chars = sum_extra = sum_turns = 0
        keys = 0  # `":` the fast-path lines' shapes explain (json_shape.fast_keys_expected)
        slow: set[int] = set()  # lines the slow path checked, duplicate keys included
        ln = batch.first_line - 1
        for raw in batch.lines:
            ln += 1
            try:
                ex = decode(raw)
            except DECODE_ERRORS:
                ex = None
            fast = False
            if ex is not None:
                ic = ix = oc = ox = kp = 0
                prev = ""
                qs = -1
                qt = at = None
                measure = not ln & lmask  # language of this example's turns (a sample if large)
                contents = ex.contents
                for turn in contents:
                    role = turn.role
                    if role == prev:
                        break
                    prev = role
                    c = x = 0
                    kp += len(turn.parts)
                    for p in turn.parts:
                        t = p.text
                        c += len(t)
                        if not t.isascii():
                            x += len(t.encode()) - len(t)
                    if role == "model":
                        oc += c
                        ox += x
                        at = turn
                    else:
                        ic += c
                        ix += x
                        qt = turn
                    if measure:
                        # script: ASCII-ish, mostly 3-byte, or measure it (quality_measures.py)
                        if not x or x * 10 < c:
                            sc = 0
                        elif x > c:
                            sc = 1
                        else:
                            sc = script_of(_text(turn.parts), c, x)
                        if role == "user":
                            lang_u[sc] += 1
                            qs = sc
                        else:
                            lang_m[sc] += 1
                            if sc != qs and qs >= 0:
                                q.mismatch(self.log, name, ln, contents, qt, turn, qs, sc)
                else:
                    fast = prev == "model"
            if fast:
                if cand and ln in cand:
                    pii.scan_struct(name, ln, ex)  # type: ignore[union-attr,arg-type]
                if not ln % stride:
                    stride = q.sketch(ln, qt, at)
                nturns = len(contents)
                last = nturns - 1
                media = 0
                fn = False
                si = ex.systemInstruction  # type: ignore[union-attr]
                has_sys = si is not None
                if has_sys:
                    for p in si.parts:  # type: ignore[union-attr]
                        t = p.text
                        ic += len(t)
                        if not t.isascii():
                            ix += len(t.encode()) - len(t)
                    kp += 2 + len(si.parts) + (si.role is not None)  # type: ignore[union-attr]
                keys += 1 + 2 * nturns + kp
            else:
                slow.add(ln)
                f = self._slow(st, batch, raw, ln)
                if f is None:
                    continue
                ic, ix, oc, ox = f.in_chars, f.in_extra, f.out_chars, f.out_extra
                nturns, last, media = f.turns, f.last_model_turn, f.media_tokens
                fn, has_sys = f.has_function_call, f.has_system
                if f.images or f.audio or f.video or f.pdf:
                    st.multimodal_examples += 1
                    st.images += f.images
                    st.audio += f.audio
                    st.video += f.video
                    st.pdf += f.pdf
                if fn:
                    st.function_calling += 1
            tin = int(ic * cw + ix * ew + 0.5) + media
            tout = int(oc * cw + ox * ew + 0.5)
            total = tin + tout
            if total > max_tokens:
                log_add(
                    "too_many_tokens",
                    name,
                    ln,
                    "",
                    f"About {total:,} tokens (estimated); {self.limits.name} accepts at most "
                    f"{max_tokens:,} per example. Shorten or split the example.",
                )
                continue
            if oc < SHORT_ANSWER_CHARS and not fn:
                log_add(
                    "short_model_answer",
                    name,
                    ln,
                    f"contents[{last}]",
                    f"The model answer has only {oc} character(s). Check that it is the full "
                    "expected answer.",
                )
            if tout > top_floor or tout < bottom_ceiling:
                ext.add(tout, ln)
                top_floor, bottom_ceiling = ext.top_floor, ext.bottom_ceiling
            n_ex += 1
            sum_in += tin
            sum_out += tout
            sum_chars += ic + oc
            sum_extra += ix + ox
            sum_turns += nturns
            if total < small:
                all_small[total] += 1
                in_small[tin] += 1
                out_small[tout] += 1
            else:
                all_big(total)
                if tin < small:
                    in_small[tin] += 1
                else:
                    in_big(tin)
                if tout < small:
                    out_small[tout] += 1
                else:
                    out_big(tout)
            if nturns < small:
                turn_small[nturns] += 1
            else:
                turn_big(nturns)
            if has_sys:
                with_sys += 1
                if st.first_with_system is None:
                    st.first_with_system = ln
            elif st.first_without_system is None:
                st.first_without_system = ln
            h = hash(raw)
            dup_h[h & 0xFF].append(h)
            dup_l[h & 0xFF].append(ln)
        st.lines = ln
        if keys + sum(key_marks(batch.lines[n - batch.first_line]) for n in slow) != key_marks(
            batch.blob if batch.blob else b"\n".join(batch.lines)
        ):
            # More (or fewer) keys than the decoded shapes explain: a key given twice decoded
            # as its last value, or just unusual spacing. Rare, so each line is looked at.
            self._duplicate_keys(st, batch, slow)
        st.examples += n_ex
        st.with_system += with_sys
        st.tokens_in.total += sum_in
        st.tokens_out.total += sum_out
        st.tokens.total += sum_in + sum_out
        st.turns.total += sum_turns
        st.chars += sum_chars
        st.extra += sum_extra

    def _duplicate_keys(self, st: FileState, batch: Batch, slow: set[int]) -> None:
        """Find the fast-path lines of `batch` that hold a key twice (their counts were already
        taken: the dataset is invalid anyway, and the finding names the line)."""
        for ln, raw in enumerate(batch.lines, batch.first_line):
            if ln in slow:
                continue
            try:
                ex = fast_decoder.decode(raw)
            except DECODE_ERRORS:
                continue
            expected = fast_keys_expected(
                len(ex.contents), sum(len(t.parts) for t in ex.contents), ex.systemInstruction
            )
            if key_marks(raw) != expected:
                dup = duplicate_key(raw)
                if dup is not None:
                    self.log.add("duplicate_key", st.name, ln, "", duplicate_key_message(dup))

    def _slow(self, st: FileState, batch: Batch, raw: bytes, ln: int) -> ExampleFacts | None:
        """Decode `raw` untyped and walk it; every problem becomes a finding."""
        name = st.name
        if not raw.strip():
            self.log.add(
                "blank_line",
                name,
                ln,
                "",
                "Blank line; it is skipped here but some readers reject it. Remove it.",
            )
            return None
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError as e:
            offset = batch.line_offset(ln - batch.first_line) + e.start
            self.log.add(
                "not_utf8",
                name,
                ln,
                "",
                f"Byte 0x{raw[e.start]:02x} at byte offset {offset:,} (column byte "
                f"{e.start + 1}) is not UTF-8. Re-save the file as UTF-8 (e.g. `iconv -f "
                "GB18030 -t UTF-8` for Chinese text saved as GBK).",
            )
            return None
        too_deep = depth_problem(raw)
        if too_deep is not None:
            self.log.add("json_too_deep", name, ln, "", too_deep)
            return None
        try:
            obj = any_decoder.decode(raw)
        except (msgspec.DecodeError, msgspec.ValidationError) as e:
            code, message = json_problem(raw, e)
            self.log.add(code, name, ln, "", message)
            return None
        dup = duplicate_key(raw)
        if dup is not None:
            self.log.add("duplicate_key", name, ln, "", duplicate_key_message(dup))
            return None
        if ln in self._cand:
            self.pii.scan_object(name, ln, obj)  # type: ignore[union-attr]

        def emit(code: str, path: str, message: str) -> None:
            self.log.add(code, name, ln, path, message)

        return check_example(obj, self.limits, emit)


def _text(parts: Any) -> str:
    return parts[0].text if len(parts) == 1 else "".join([p.text for p in parts])


def _stream_size(stream: BinaryIO) -> int | None:
    """Total bytes of a file or sized stream (None when unknown): sets the near-duplicate
    sample's stride up front."""
    size = getattr(stream, "size", None)
    if isinstance(size, int):
        return size
    try:
        return os.fstat(stream.fileno()).st_size
    except (OSError, AttributeError, ValueError, io.UnsupportedOperation):
        return None
