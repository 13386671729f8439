"""`validate_dataset`: one streaming pass over train / validation / test, bounded memory.

Per line: the fast path decodes straight into `schema.TextExample` (structure checked in C) and
does a few integer sums; only lines it rejects are decoded again into plain objects and walked by
`rules.check_example`, which produces the precise findings. Whole-file and dataset-level checks
(size, counts, duplicates, overlap, system-instruction consistency) use only the compact state
kept in `stats.py`, so memory does not grow with line length or error count.

Data safety and quality ride on the same pass (`data_checks.py`): a Hyperscan prefilter per
4 MB chunk picks the few lines whose texts the personal-data detectors scan; the hot loop adds
per-turn script counters, a sampled near-duplicate sketch and the answer-length extremes.
`parallel.py` splits a large file over several processes.
"""

from __future__ import annotations

import gc
import io
import os
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, BinaryIO

import msgspec

from shared.catalog import BUILTIN, DEFAULT_MODEL, VALIDATION_FRACTION_FROM, ModelLimits
from shared.datasets import lines
from shared.datasets.data_checks import NO_LINE, FileQuality, PersonalData
from shared.datasets.findings import FindingLog
from shared.datasets.lines import Batch, Overlong, iter_batches, sniff
from shared.datasets.privacy import PrivacyOptions
from shared.datasets.quality import script_of
from shared.datasets.report import ValidationReport
from shared.datasets.rules import ExampleFacts, check_example
from shared.datasets.schema import any_decoder, fast_decoder
from shared.datasets.stats import Distribution, DuplicateIndex
from shared.datasets.tokens import CHAR_WEIGHT, EXTRA_WEIGHT, wide_chars

ROLES = ("train", "validation", "test")
#: Epochs the cost estimate assumes when the run leaves them to Vertex AI (the seed's usual 3).
ASSUMED_EPOCHS = 3
#: A model answer shorter than this many characters (and no function call) is flagged.
SHORT_ANSWER_CHARS = 3
_DECODE_ERRORS = (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError)
_BYTE_AT = re.compile(r"\(byte (\d+)\)")
_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


@dataclass
class _FileState:
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


def _json_problem(raw: bytes, err: Exception) -> tuple[str, str]:
    """(code, message) for a line that is not one strict JSON value."""
    text = str(err)
    m = _BYTE_AT.search(text)
    at = int(m.group(1)) if m else len(raw)
    col = len(raw[:at].decode("utf-8", "replace")) + 1
    bad = raw[at : at + 1]
    if "surrogate" in text or ("truncated" in text and _SURROGATE.search(raw)):
        hint = (
            "a \\uD800-\\uDFFF escape that is not part of a surrogate pair is not valid "
            "text. Fix how that string was encoded"
        )
    elif "trailing characters" in text:
        hint = (
            "there is more after the first JSON value (two objects on one line?). Put "
            "each example on its own line"
        )
    elif "truncated" in text:
        hint = (
            "the line ends before the JSON value is complete (an example split over "
            "several lines, e.g. pretty-printed JSON?). Write each example on one line"
        )
    elif bad and bad[0] < 0x20:
        hint = (
            f"raw control character 0x{bad[0]:02x} inside the JSON. Escape it (\\n, \\t or \\u00XX)"
        )
    elif raw[at : at + 3] in (b"NaN", b"Inf") or raw[at : at + 4] == b"-Inf":
        hint = "NaN and Infinity are not JSON. Write null or a finite number"
    elif "out of range" in text:
        hint = "a number is out of range. Write it as a string or a smaller number"
    else:
        hint = f"{text.split(' (byte')[0].removeprefix('JSON is malformed: ')}. Fix the syntax"
    return "invalid_json", f"Invalid JSON at column {col}: {hint}."


class _Validator:
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
        self.files: dict[str, _FileState] = {}

    # -- one file ------------------------------------------------------------------------
    def scan(self, stream: BinaryIO, role: str, name: str) -> None:
        st = self.files[role] = _FileState(role, name, quality=FileQuality(self.cap))
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

    def consume(self, st: _FileState, items: Iterator[Batch | Overlong | int]) -> None:
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

    def _batch(self, st: _FileState, batch: Batch) -> None:
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
        ln = batch.first_line - 1
        for raw in batch.lines:
            ln += 1
            try:
                ex = decode(raw)
            except _DECODE_ERRORS:
                ex = None
            fast = False
            if ex is not None:
                ic = ix = oc = ox = 0
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
                        # script: ASCII-ish, mostly 3-byte, or measure it (quality.py)
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
            else:
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
        st.examples += n_ex
        st.with_system += with_sys
        st.tokens_in.total += sum_in
        st.tokens_out.total += sum_out
        st.tokens.total += sum_in + sum_out
        st.turns.total += sum_turns
        st.chars += sum_chars
        st.extra += sum_extra

    def _slow(self, st: _FileState, batch: Batch, raw: bytes, ln: int) -> ExampleFacts | None:
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
        try:
            obj = any_decoder.decode(raw)
        except (msgspec.DecodeError, msgspec.ValidationError) as e:
            code, message = _json_problem(raw, e)
            self.log.add(code, name, ln, "", message)
            return None
        if ln in self._cand:
            self.pii.scan_object(name, ln, obj)  # type: ignore[union-attr]

        def emit(code: str, path: str, message: str) -> None:
            self.log.add(code, name, ln, path, message)

        return check_example(obj, self.limits, emit)

    # -- whole dataset -------------------------------------------------------------------
    def finish(self) -> ValidationReport:
        log, lim = self.log, self.limits
        for st in self.files.values():
            if not st.scanned:
                continue
            if st.examples == 0 and st.lines:
                log.add(
                    "no_valid_examples",
                    st.name,
                    None,
                    "",
                    "No line is a valid example. Fix the errors listed for this file.",
                )
            if 0 < st.with_system < st.examples:
                log.add(
                    "inconsistent_system_instruction",
                    st.name,
                    None,
                    "",
                    f"{st.with_system:,} of {st.examples:,} examples have a systemInstruction "
                    f"(e.g. line {st.first_with_system}) and the rest do not (e.g. line "
                    f"{st.first_without_system}). Give every example the same system prompt "
                    "or none.",
                )
            st.quality.finish(log, st.name, st.tokens_out)
            total, pairs = st.dups.duplicates(self.cap)
            for line, first in pairs:
                log.add(
                    "duplicate_example",
                    st.name,
                    line,
                    "",
                    f"Exact duplicate of line {first}. Remove repeated examples (they weigh "
                    "that example more in training).",
                )
            log.counts["duplicate_example"] = (
                log.counts.get("duplicate_example", 0) - len(pairs) + total
            )
            if not log.counts["duplicate_example"]:
                del log.counts["duplicate_example"]
        train = self.files.get("train")
        if train is not None:
            if train.bytes > lim.max_training_file_bytes:
                log.add(
                    "file_too_large",
                    train.name,
                    None,
                    "",
                    f"{train.bytes:,} bytes; {lim.name} accepts a training file of at most "
                    f"{lim.max_training_file_bytes:,} bytes. Remove examples or split the data.",
                )
            if train.examples > lim.max_training_examples:
                log.add(
                    "too_many_training_examples",
                    train.name,
                    None,
                    "",
                    f"{train.examples:,} examples; at most {lim.max_training_examples:,} are "
                    "accepted. Sample the dataset down.",
                )
            if train.multimodal_examples > lim.max_multimodal_training_examples:
                log.add(
                    "too_many_multimodal_examples",
                    train.name,
                    None,
                    "",
                    f"{train.multimodal_examples:,} multimodal examples; at most "
                    f"{lim.max_multimodal_training_examples:,} are accepted. Sample them down.",
                )
            for role, code in (
                ("validation", "train_validation_overlap"),
                ("test", "train_test_overlap"),
            ):
                other = self.files.get(role)
                if other is None:
                    continue
                total, pairs = train.dups.overlap(other.dups, self.cap)
                for line, train_line in pairs:
                    log.add(
                        code,
                        other.name,
                        line,
                        "",
                        f"Same example as line {train_line} of {train.name}. Held-out data "
                        "that also appears in training overstates quality; remove it here.",
                    )
                if total:
                    log.counts[code] += total - len(pairs)
        val = self.files.get("validation")
        if val is not None and val.examples > lim.max_validation_examples:
            log.add(
                "too_many_validation_examples",
                val.name,
                None,
                "",
                f"{val.examples:,} validation examples; {lim.name} accepts at most "
                f"{lim.max_validation_examples:,}. Sample it down (the rest can be test data).",
            )
        elif (
            val is not None
            and train is not None
            and lim.max_validation_fraction is not None
            and val.examples > VALIDATION_FRACTION_FROM
            and val.examples > lim.max_validation_fraction * train.examples
        ):
            log.add(
                "too_many_validation_examples",
                val.name,
                None,
                "",
                f"{val.examples:,} validation examples for {train.examples:,} training examples; "
                f"above {VALIDATION_FRACTION_FROM:,} validation examples {lim.name} accepts at "
                f"most {lim.max_validation_fraction:.0%} of the training examples "
                f"({int(lim.max_validation_fraction * train.examples):,}). Sample it down.",
            )
        return ValidationReport(
            valid=not log.has_errors(),
            errors=log.findings("error"),
            warnings=log.findings("warning"),
            counts=dict(sorted(log.counts.items())),
            stats=self._stats(),
            estimate=self._estimate(),
        )

    def _file_stats(self, st: _FileState) -> dict[str, Any]:
        return {
            "name": st.name,
            "bytes": st.bytes,
            "lines": st.lines,
            "examples": st.examples,
            "estimated_tokens": st.tokens.total,
        }

    def _stats(self) -> dict[str, Any]:
        train = self.files.get("train") or _FileState("train", "")
        wide = wide_chars(train.extra)
        return {
            "model": self.limits.name,
            "examples": train.examples,
            "turns_per_example": train.turns.summary(),
            "estimated_tokens": {
                "total": train.tokens.total,
                **train.tokens.summary(),
                "input": train.tokens_in.summary(),
                "output": train.tokens_out.summary(),
                "method": "estimate: chars and UTF-8 width, calibrated (shared/datasets/tokens.py)",
            },
            "cjk_share": round(wide / train.chars, 4) if train.chars else 0.0,
            "system_instruction_examples": train.with_system,
            "function_calling_examples": train.function_calling,
            "multimodal": {
                "examples": train.multimodal_examples,
                "images": train.images,
                "audio": train.audio,
                "video": train.video,
                "pdf": train.pdf,
            },
            "files": {role: self._file_stats(st) for role, st in self.files.items()},
            **train.quality.summary(self.log),
            "personal_data": self.pii.summary() if self.pii else {"policy": "off"},
        }

    def _estimate(self) -> dict[str, Any]:
        train = self.files.get("train")
        tokens = train.tokens.total if train else 0
        epochs = self.epochs or ASSUMED_EPOCHS
        billable = tokens * epochs
        price = self.limits.training_price_per_million_tokens
        note = "Estimate from estimated tokens x epochs at list price; not a quote."
        if self.epochs is None:
            note += (
                f" Epochs are left to Vertex AI's recommendation; the estimate assumes "
                f"{ASSUMED_EPOCHS}, and the job's real billable tokens replace it when it ends."
            )
        return {
            "billable_tokens": billable,
            "epochs": epochs,
            "epochs_assumed": self.epochs is None,
            "model": self.limits.name,
            "usd_per_million_tokens": price,
            "cost_usd": None if price is None else round(billable / 1e6 * price, 4),
            "note": note,
        }


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


def _limits(model: str) -> ModelLimits:
    lim = BUILTIN.limits_for(model)
    if lim is None:
        raise ValueError(f"Unknown model {model!r}. Use one of: {', '.join(BUILTIN.models)}.")
    return lim


def validate_dataset(
    train: BinaryIO,
    *,
    validation: BinaryIO | None = None,
    test: BinaryIO | None = None,
    names: Mapping[str, str] | None = None,
    model: str = DEFAULT_MODEL,
    epochs: int | None = None,
    max_findings_per_code: int = 20,
    progress: Callable[[int], None] | None = None,
    privacy: PrivacyOptions | None = None,
    workers: int = 1,
) -> ValidationReport:
    """Validate the files in one pass each; the streams are only read, never modified.

    `names` maps "train" / "validation" / "test" to the name shown in findings. `privacy` says
    which personal data to look for and the policy (default: built-in kinds, `warn`). With
    `workers` > 1 a large training file on disk is split across that many processes
    (`parallel.py`; same report, more memory). Raises ValueError for an unknown `model` (a usage
    error, not a dataset problem).
    """
    if epochs is not None and epochs < 1:
        raise ValueError("epochs must be at least 1.")
    v = _Validator(
        _limits(model), epochs, max_findings_per_code, progress, privacy or PrivacyOptions()
    )
    shown = {r: (names or {}).get(r, f"{r}.jsonl") for r in ROLES}
    # The decoder allocates millions of short-lived containers and none forms a cycle: the cyclic
    # collector would only rescan them (a large share of the run time on short examples).
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        for role, stream in (("train", train), ("validation", validation), ("test", test)):
            if stream is None:
                continue
            if role == "train" and workers > 1:
                from shared.datasets import parallel

                if not parallel.scan(v, stream, role, shown[role], workers):
                    v.scan(stream, role, shown[role])
            else:
                v.scan(stream, role, shown[role])
            v.done_bytes += v.files[role].bytes
        return v.finish()
    finally:
        if gc_was_enabled:
            gc.enable()


def iter_examples(stream: BinaryIO, *, model: str = DEFAULT_MODEL) -> Iterator[tuple[int, Any]]:
    """(1-based line, decoded example) for each valid line; invalid lines are skipped.

    Raises ValueError when the file is compressed or binary (it was never validated).
    """
    limits = _limits(model)
    head = stream.read(lines.HEAD_BYTES)
    if not head:
        return
    sn = sniff(head)
    if sn.problem:
        raise ValueError(sn.message)

    def ignore(code: str, path: str, message: str) -> None:
        return None

    for item in iter_batches(stream, head, 3 if sn.bom else 0):
        if not isinstance(item, Batch):
            continue
        for i, raw in enumerate(item.lines):
            try:
                obj = any_decoder.decode(raw)
            except _DECODE_ERRORS:
                continue
            if check_example(obj, limits, ignore) is not None:
                yield item.first_line + i, obj
