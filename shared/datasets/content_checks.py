"""The validator's data-safety and quality findings: personal data per example, and per file the
language mix, near-duplicate clusters and answer-length outliers.

Kept out of `scanner.py` so that its hot loop only holds the few inline counters these checks
need; everything here runs on rare lines (flagged by the prefilter, mismatched, outlying) or once
per file at the end.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from shared.datasets.findings import FindingLog
from shared.datasets.lines import Batch
from shared.datasets.pii_prefilter import Prefilter
from shared.datasets.privacy import Detector, Hit, PrivacyOptions, SlowPattern, mask
from shared.datasets.quality_measures import (
    CJK,
    LATIN,
    MIXED,
    SCRIPTS,
    Cluster,
    Extremes,
    NearDuplicates,
    count_outside,
    length_fences,
    script_of,
)
from shared.datasets.schema import TextExample
from shared.datasets.stats import Distribution

_FIX = {
    "warn": "Remove or mask it before tuning (`gemini-tuning redact IN OUT` writes a masked "
    "copy), or set the personal-data policy to redact.",
    "reject": "The personal-data policy is reject: remove or mask it (`gemini-tuning redact IN "
    "OUT`) and upload the data again.",
    "redact": "Policy redact: the copy used for training replaces it with a placeholder.",
}


class _Everything:
    """A container that holds every line number (no prefilter: scan every line)."""

    def __contains__(self, _: object) -> bool:
        return True


EVERY_LINE = _Everything()
NO_LINE: frozenset[int] = frozenset()


def struct_texts(ex: TextExample) -> Iterator[tuple[str, str]]:
    """(path, text) of every text of a fast-path example."""
    if ex.systemInstruction is not None:
        for j, p in enumerate(ex.systemInstruction.parts):
            yield f"systemInstruction.parts[{j}]", p.text
    for i, turn in enumerate(ex.contents):
        for j, p in enumerate(turn.parts):
            yield f"contents[{i}].parts[{j}]", p.text


def object_strings(obj: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """(path, string) of every string value inside a decoded example (keys excluded); a part's
    `text` is reported at the part's path (`contents[1].parts[0]`)."""
    if isinstance(obj, str):
        yield path, obj
    elif isinstance(obj, dict):
        for k, v in obj.items():
            if isinstance(v, str | dict | list):
                sub = path if k == "text" and path.endswith("]") else f"{path}.{k}" if path else k
                yield from object_strings(v, sub)
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from object_strings(v, f"{path}[{i}]")


class PersonalData:
    """Personal-data findings for one validation: the prefilter, the detectors, the counts."""

    def __init__(self, options: PrivacyOptions, log: FindingLog) -> None:
        self.options = options
        self.detector = Detector(options)
        self.prefilter = Prefilter(options)
        self.log = log
        self.code = "personal_data_rejected" if options.policy == "reject" else "personal_data"
        self.counts: dict[str, int] = dict.fromkeys(self.detector.kinds, 0)
        self.examples = 0

    def candidates(self, batch: Batch) -> Any:
        """Line numbers of `batch` to scan exactly (supports `in`)."""
        if self.prefilter.unscreened:
            return EVERY_LINE
        found = self.prefilter.candidates(batch.joined(), batch.lines, batch.first_line)
        return EVERY_LINE if found is None else found

    def scan_struct(self, file: str, line: int, ex: TextExample) -> None:
        self._scan(file, line, struct_texts(ex))

    def scan_object(self, file: str, line: int, obj: Any) -> None:
        self._scan(file, line, object_strings(obj))

    def _scan(self, file: str, line: int, texts: Iterator[tuple[str, str]]) -> None:
        any_hit = False
        for path, text in texts:
            for hit in self._hits(file, line, path, text):
                any_hit = True
                self.counts[hit.kind] += 1
                sample = mask(hit.kind, hit.value)
                self.log.add(
                    self.code,
                    file,
                    line,
                    path,
                    f"Personal data ({hit.kind.replace('_', ' ')}, {sample}). "
                    f"{_FIX[self.options.policy]}",
                    {"kind": hit.kind, "sample": sample},
                )
        self.examples += any_hit

    def _hits(self, file: str, line: int, path: str, text: str) -> list[Hit]:
        """The detector's hits; a custom pattern that runs past its time limit is reported
        (an error: the dataset was not checked for it) and dropped for the rest of the file.
        With `workers`, each process that meets it reports it once."""
        while True:
            try:
                return self.detector.scan_text(text)
            except SlowPattern as e:
                self.detector.drop(e.name)
                self.log.add(
                    "pii_pattern_too_slow",
                    file,
                    line,
                    path,
                    f"{e} The lines after this one were not checked for {e.name}.",
                )

    def summary(self) -> dict[str, Any]:
        return {
            "policy": self.options.policy,
            "counts": {k: n for k, n in self.counts.items() if n},
            "examples": self.examples,
            "custom_patterns": sorted(n.lower() for n in self.options.patterns),
            "prefilter": self.prefilter.engine,
            "unscreened_patterns": self.prefilter.unscreened,
        }


_CJK = "[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]"
_NOT_CJK = "[^" + _CJK[1:]
#: Four CJK characters, anything else between them.
_FOUR_CJK = re.compile(f"{_CJK}(?:{_NOT_CJK}*{_CJK}){{3}}").search
#: Four letters: the text holds a word or two, not only "UID 12345678" or "OK".
_WORDY = re.compile(r"(?:[^\W\d_][\W\d_]*){4}").search


def _says_enough(text: str, script: int) -> bool:
    """Whether a text is long enough in its script to have a language: 4 CJK characters or 4
    letters ("UID 12345678", "OK", "收到 👍" are not)."""
    if script == CJK:
        return _FOUR_CJK(text, 0, 400) is not None
    return _WORDY(text) is not None


def _joined(parts: Any) -> str:
    return parts[0].text if len(parts) == 1 else "".join([p.text for p in parts])


@dataclass
class FileQuality:
    """Language, near-duplicate and length state of one file (the hot loop updates the counters
    in place)."""

    cap: int
    lang_user: list[int] = field(default_factory=lambda: [0, 0, 0, 0])
    lang_model: list[int] = field(default_factory=lambda: [0, 0, 0, 0])
    near: NearDuplicates = field(default_factory=NearDuplicates)
    extremes: Extremes = field(init=False)
    clusters: list[Cluster] = field(default_factory=list)
    #: languages are measured on lines divisible by this power of two (1: every example)
    lang_stride: int = 1
    mismatches: int = 0

    #: Examples whose turns all get a script; past this, a systematic sample of about as many.
    LANG_FULL = 50_000

    def __post_init__(self) -> None:
        self.extremes = Extremes(self.cap)

    def expect(self, examples: int) -> None:
        """Size the samples for a file of about `examples` examples."""
        self.near.expect(examples)
        while examples > self.LANG_FULL * self.lang_stride:
            self.lang_stride *= 2

    def merge(self, other: FileQuality) -> None:
        """Add the state of a later part of the same file."""
        for mine, theirs in (
            (self.lang_user, other.lang_user),
            (self.lang_model, other.lang_model),
        ):
            for i, n in enumerate(theirs):
                mine[i] += n
        self.mismatches += other.mismatches
        self.near.merge(other.near)
        self.extremes.merge(other.extremes)

    def languages(self, log: FindingLog, file: str, line: int, contents: Any) -> None:
        """Count the script of each turn of a decoded example (walked as the scanner walks it,
        up to a repeated role) and report an answer in another script than its question."""
        lang_u, lang_m = self.lang_user, self.lang_model
        prev = ""
        qs = -1
        qt = None
        for turn in contents:
            role = turn.role
            if role == prev:
                break
            prev = role
            c = x = 0
            for p in turn.parts:
                t = p.text
                n = len(t)
                c += n
                if not t.isascii():
                    x += len(t.encode()) - n
            # ASCII-ish, mostly 3-byte, or measure it (quality_measures.script_of)
            if not x or x * 10 < c:
                sc = LATIN
            elif x > c:
                sc = CJK
            else:
                sc = script_of(_joined(turn.parts), c, x)
            if role == "user":
                lang_u[sc] += 1
                qs = sc
            else:
                lang_m[sc] += 1
                if sc != qs and qs >= 0:
                    self.mismatch(log, file, line, contents, qt, turn, qs, sc)
            if role != "model":
                qt = turn

    def mismatch(
        self, log: FindingLog, file: str, line: int, contents: Any, q: Any, a: Any, qs: int, s: int
    ) -> None:
        """Report an answer whose script differs from its question's: both clear (not MIXED)
        and long enough to say so."""
        if qs == MIXED or s == MIXED:
            return
        if not _says_enough(_joined(q.parts), qs) or not _says_enough(_joined(a.parts), s):
            return
        self.mismatches += 1
        if self.mismatches > self.cap:
            return
        i = next(k for k, t in enumerate(contents) if t is a)
        log.add(
            "language_mismatch",
            file,
            line,
            f"contents[{i}]",
            f"The answer is written in {SCRIPTS[s]} script but the question before it in "
            f"{SCRIPTS[qs]}. Answer in the player's language (or check the turn order).",
        )

    def sketch(self, line: int, q: Any, a: Any) -> int:
        """Add the final exchange to the near-duplicate sketch; returns the new stride."""
        self.near.add(line, _joined(q.parts) if q is not None else "", _joined(a.parts))
        return self.near.stride

    def finish(self, log: FindingLog, file: str, tokens_out: Distribution) -> None:
        if self.mismatches:
            log.counts["language_mismatch"] = self.mismatches
        self._near_duplicates(log, file)
        fences = length_fences(tokens_out)
        if fences is None:
            return
        low, high = fences
        below, above = count_outside(tokens_out, low, high)
        for kind, rows, n in (
            ("long", self.extremes.above(high), above),
            ("short", self.extremes.below(low), below),
        ):
            for line, tokens in rows:
                log.add(
                    "answer_length_outlier",
                    file,
                    line,
                    "",
                    f"Answer about {tokens:,} tokens, extremely {kind} for this dataset "
                    f"(half the answers are {tokens_out.percentile(25):,}-"
                    f"{tokens_out.percentile(75):,} tokens; fence {low:,.0f}-{high:,.0f}). "
                    "Check it is a real answer (not a pasted log or a truncation).",
                )
            if n > len(rows):
                log.counts["answer_length_outlier"] = (
                    log.counts.get("answer_length_outlier", 0) + n - len(rows)
                )

    def _near_duplicates(self, log: FindingLog, file: str) -> None:
        near = self.near
        clusters = self.clusters = near.clusters()
        if not clusters:
            return
        sampled = near.sampled
        scope = (
            "every example"
            if near.stride == 1
            else f"a sample of one line in {near.stride:,} ({sampled:,} examples)"
        )
        top = clusters[:5]
        share = sum(len(c.lines) for c in top) / max(1, sampled)
        in_any = sum(len(c.lines) for c in clusters)
        for c in clusters[: log.cap]:
            first = ", ".join(str(x) for x in c.lines[:5])
            what = (
                "share one near-identical answer (a template answer to different questions)"
                if c.template
                else "have a near-identical final question and answer"
            )
            n = len(c.lines)
            size = f"{n:,}" if near.stride == 1 else f"{n:,} sampled (about {n * near.stride:,})"
            log.add(
                "near_duplicate_examples",
                file,
                c.lines[0],
                "",
                f"{size} examples {what} (lines {first}"
                f"{', ...' if len(c.lines) > 5 else ''}). Among {scope}, {in_any:,} fall in "
                f"{len(clusters):,} clusters and the 5 largest hold {share:.1%}. Keep one or "
                "vary them: repeats weigh one answer more in training.",
            )
        if len(clusters) > log.cap:
            log.counts["near_duplicate_examples"] += len(clusters) - log.cap

    def summary(self, log: FindingLog) -> dict[str, Any]:
        near, clusters = self.near, self.clusters
        return {
            "languages": {
                "method": "dominant script by UTF-8 width (shared/datasets/quality_measures.py)",
                "sample_stride": self.lang_stride,
                "user": dict(zip(SCRIPTS, self.lang_user, strict=True)),
                "model": dict(zip(SCRIPTS, self.lang_model, strict=True)),
                "mismatched_answers": self.mismatches,
            },
            "near_duplicates": {
                "sampled_examples": near.sampled,
                "sample_stride": near.stride,
                "clusters": len(clusters),
                "template_answer_clusters": sum(1 for c in clusters if c.template),
                "examples_in_clusters": sum(len(c.lines) for c in clusters),
                "largest": [len(c.lines) for c in clusters[:5]],
                "largest_share": round(
                    sum(len(c.lines) for c in clusters[:5]) / max(1, near.sampled), 4
                ),
            },
        }
