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
from operator import add
from typing import Any, BinaryIO

import msgspec

from shared.catalog import ModelLimits
from shared.datasets import lines
from shared.datasets.content_checks import NO_LINE, FileQuality, PersonalData
from shared.datasets.findings import FindingLog
from shared.datasets.format_rules import ExampleFacts, check_example
from shared.datasets.json_errors import DECODE_ERRORS, json_problem
from shared.datasets.json_shape import (
    KEY_MARK,
    depth_problem,
    duplicate_key,
    duplicate_key_message,
    fast_keys_expected,
    key_marks,
)
from shared.datasets.lines import Batch, Line, Overlong, iter_batches, line_hash, sniff
from shared.datasets.privacy import PrivacyOptions
from shared.datasets.schema import any_decoder, fast_decoder
from shared.datasets.stats import Distribution, DuplicateIndex
from shared.datasets.tokens import CHAR_UNITS, EXTRA_UNITS, UNITS_PER_TOKEN, tokens_of

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
        """The hot loop: locals only, no per-line method calls on the fast path.

        Profiled (BENCHMARKS.md): past msgspec's decode the cost is bytecodes per example, so
        the common text-only example takes one turn walk (sums of characters and extra UTF-8
        bytes per side), integer token arithmetic and inline counters; the rare lines (rejected
        by the typed decode, over the token limit, sampled for languages or near-duplicates,
        flagged by the prefilter) leave the loop for a method.
        """
        decode = fast_decoder.decode
        max_tokens = self.limits.max_tokens_per_example
        name = st.name
        dup_h, dup_l = st.dups.hashes, st.dups.lines
        # tokens in / out and turns of each counted fast-path example, tallied per batch
        tins: list[int] = []
        touts: list[int] = []
        nturns_all: list[int] = []
        tin_add, tout_add, turns_add = tins.append, touts.append, nturns_all.append
        cu, eu, half, den = CHAR_UNITS, EXTRA_UNITS, UNITS_PER_TOKEN // 2, UNITS_PER_TOKEN
        pii = self.pii
        cand = self._cand = pii.candidates(batch) if pii is not None else NO_LINE
        q = st.quality
        stride = q.near.stride
        lmask = q.lang_stride - 1
        ext = q.extremes
        top_floor, bottom_ceiling = ext.top_floor, ext.bottom_ceiling
        need_with = st.first_with_system is None
        need_without = st.first_without_system is None
        with_sys = sum_chars = sum_extra = 0
        keys = 0  # `":` the fast-path lines' shapes explain (json_shape.fast_keys_expected)
        slow: set[int] = set()  # lines the slow path checked, duplicate keys included
        ln = batch.first_line - 1
        for raw in batch.lines:
            ln += 1
            try:
                ex = decode(raw)
            except DECODE_ERRORS:
                ex = None
            if ex is not None:
                contents = ex.contents
                if not ln & lmask:  # the language sample (every example of a small file)
                    q.languages(self.log, name, ln, contents)
                ic = ix = oc = ox = kp = 0
                prev = ""
                for turn in contents:
                    role = turn.role
                    if role == prev:
                        break
                    prev = role
                    kp += len(turn.parts)
                    if role == "model":  # one loop per side: no per-turn sums to add up
                        for p in turn.parts:
                            t = p.text
                            n = len(t)
                            oc += n
                            if not t.isascii():
                                ox += len(t.encode()) - n
                    else:
                        for p in turn.parts:
                            t = p.text
                            n = len(t)
                            ic += n
                            if not t.isascii():
                                ix += len(t.encode()) - n
                else:
                    if prev == "model":  # the fast path: a valid text-only example
                        if cand and ln in cand:
                            pii.scan_struct(name, ln, ex)  # type: ignore[union-attr]
                        nturns = len(contents)
                        if not ln % stride:
                            stride = q.sketch(ln, contents[-2] if nturns > 1 else None, turn)
                        si = ex.systemInstruction
                        if si is not None:
                            for p in si.parts:
                                t = p.text
                                n = len(t)
                                ic += n
                                if not t.isascii():
                                    ix += len(t.encode()) - n
                            kp += 2 + len(si.parts) + (si.role is not None)
                        keys += 1 + 2 * nturns + kp
                        tin = (ic * cu + ix * eu + half) // den
                        tout = (oc * cu + ox * eu + half) // den
                        total = tin + tout
                        if (total > max_tokens or oc < SHORT_ANSWER_CHARS) and self._flag(
                            st, ln, total, oc, False, nturns - 1
                        ):
                            continue
                        if tout > top_floor or tout < bottom_ceiling:
                            ext.add(tout, ln)
                            top_floor, bottom_ceiling = ext.top_floor, ext.bottom_ceiling
                        tin_add(tin)
                        tout_add(tout)
                        turns_add(nturns)
                        sum_chars += ic + oc
                        sum_extra += ix + ox
                        if si is not None:
                            with_sys += 1
                            if need_with:
                                st.first_with_system = ln
                                need_with = False
                        elif need_without:
                            st.first_without_system = ln
                            need_without = False
                        h = line_hash(raw)
                        b = h & 0xFF
                        dup_h[b].append(h)
                        dup_l[b].append(ln)
                        continue
            # every other line: the detailed walk and its own accounting (rare)
            slow.add(ln)
            if self._slow_example(st, batch, raw, ln):
                top_floor, bottom_ceiling = ext.top_floor, ext.bottom_ceiling
                need_with = st.first_with_system is None
                need_without = st.first_without_system is None
        st.lines = ln
        if keys + sum(key_marks(batch.lines[n - batch.first_line]) for n in slow) != batch.count(
            KEY_MARK
        ):
            # More (or fewer) keys than the decoded shapes explain: a key given twice decoded
            # as its last value, or just unusual spacing. Rare, so each line is looked at.
            self._duplicate_keys(st, batch, slow)
        st.examples += len(tins)
        st.with_system += with_sys
        st.tokens_in.add_all(tins)
        st.tokens_out.add_all(touts)
        st.tokens.add_all(list(map(add, tins, touts)))
        st.turns.add_all(nturns_all)
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
                dup = duplicate_key(bytes(raw))
                if dup is not None:
                    self.log.add("duplicate_key", st.name, ln, "", duplicate_key_message(dup))

    def _flag(self, st: FileState, ln: int, total: int, oc: int, fn: bool, last: int) -> bool:
        """The too-many-tokens and short-answer findings; True when the example is not counted
        (over the limit)."""
        if total > self.limits.max_tokens_per_example:
            self.log.add(
                "too_many_tokens",
                st.name,
                ln,
                "",
                f"About {total:,} tokens (estimated); {self.limits.name} accepts at most "
                f"{self.limits.max_tokens_per_example:,} per example. Shorten or split the "
                "example.",
            )
            return True
        if oc < SHORT_ANSWER_CHARS and not fn:
            self.log.add(
                "short_model_answer",
                st.name,
                ln,
                f"contents[{last}]",
                f"The model answer has only {oc} character(s). Check that it is the full "
                "expected answer.",
            )
        return False

    def _slow_example(self, st: FileState, batch: Batch, line: Line, ln: int) -> bool:
        """Walk a line the fast path did not take and count it if it is a valid example;
        True when it was counted (the caller refreshes the state it caches)."""
        raw = bytes(line)
        f = self._slow(st, batch, raw, ln)
        if f is None:
            return False
        tin = tokens_of(f.in_chars, f.in_extra) + f.media_tokens
        tout = tokens_of(f.out_chars, f.out_extra)
        if self._flag(st, ln, tin + tout, f.out_chars, f.has_function_call, f.last_model_turn):
            return False
        if f.images or f.audio or f.video or f.pdf:
            st.multimodal_examples += 1
            st.images += f.images
            st.audio += f.audio
            st.video += f.video
            st.pdf += f.pdf
        if f.has_function_call:
            st.function_calling += 1
        st.quality.extremes.add(tout, ln)
        st.examples += 1
        st.tokens_in.add(tin)
        st.tokens_out.add(tout)
        st.tokens.add(tin + tout)
        st.turns.add(f.turns)
        st.chars += f.in_chars + f.out_chars
        st.extra += f.in_extra + f.out_extra
        if f.has_system:
            st.with_system += 1
            if st.first_with_system is None:
                st.first_with_system = ln
        elif st.first_without_system is None:
            st.first_without_system = ln
        st.dups.add(line_hash(raw), ln)
        return True

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
