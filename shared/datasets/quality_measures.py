"""Dataset quality beyond the format: script (language) of each turn, near-duplicate examples,
and answer-length outliers, all in bounded memory.

Script, not language: a turn is `cjk`, `latin` or `other` by which kind of character carries
most of its UTF-8 bytes (3-byte characters: CJK ideographs, kana, Hangul, also Thai and Indic
scripts; 1-byte ASCII and Latin-1: Latin; other 2-byte letters: Cyrillic, Greek, Arabic,
Hebrew...). It costs two integer tests per text on the hot path (the UTF-8 width is measured
anyway for the token estimate) and two C-speed encodes only for texts that mix scripts; it tells
a Chinese answer to an English question, not French from English.

Near-duplicates: MinHash in its one-permutation "bottom-k" form over the final exchange (last
question and last answer, sketched separately), shingled as character 3-grams for non-ASCII text
(CJK has no spaces) and word bigrams for ASCII text, the first PREFIX characters of each.
Sketching costs 20-60 µs per example, so at most `NearDuplicates.BUDGET` examples are sketched:
every example of a small dataset, a systematic sample of a large one (every 2^k-th line; the
stride is set from the file size up front, and doubles if the budget still fills); the report
says which. Languages are likewise measured on every example up to `FileQuality.LANG_FULL`
examples and on a systematic sample past that. Both cover the examples of the common text-only
shape that the validator's fast path decodes (not multimodal or function-calling examples).
"""

from __future__ import annotations

import heapq
import re
from array import array
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from itertools import pairwise
from typing import Any
from zlib import crc32

from shared.datasets.stats import Distribution

LATIN, CJK, OTHER, MIXED = 0, 1, 2, 3
SCRIPTS = ("latin", "cjk", "other", "mixed")


def script_of(text: str, chars: int, extra: int) -> int:
    """LATIN / CJK / OTHER / MIXED for a text of `chars` characters and `extra` UTF-8 bytes
    beyond one per character (what the token estimate measures): the script holding at least 60%
    of the UTF-8 bytes, else MIXED. The hot loop settles the clear cases itself (`extra == 0`,
    `extra * 10 < chars`, `extra > chars`) and calls this for the rest."""
    if not extra or extra * 10 < chars:
        return LATIN
    if _WIDE(text):  # ASCII + 3-byte CJK: extra / 2 CJK characters of 3 bytes each
        if 3 * extra >= 2 * chars:
            return CJK
        return LATIN if 11 * extra <= 4 * chars else MIXED
    if 3 * extra > chars:  # 2-byte letters (Cyrillic, Greek, Arabic...)
        return OTHER if 2 * extra >= chars else MIXED
    return LATIN


_WIDE = re.compile("[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uff00-\uffef]").search


def shingle_hashes(text: str) -> set[int]:
    """Hashes of the shingles of one text (see the module docstring). Deterministic across runs
    (code points and CRC-32s of words, never the salted `hash()` of a str), so one dataset gets
    one report."""
    if text.isascii():
        w = list(map(crc32, text.lower().encode().split()))
        if len(w) < 2:
            return {hash(tuple(w))}
        return set(map(hash, pairwise(w)))
    cp = array("I")
    cp.frombytes("".join(text.split()).encode("utf-32-le", "surrogatepass"))
    if len(cp) < 4:
        return {hash(tuple(cp))}
    return set(map(hash, zip(cp, cp[1:], cp[2:], strict=False)))


_PAD = (1 << 63) - 1  # fills the sketch of a text with fewer than K shingles


@dataclass
class Cluster:
    """Near-duplicate examples (sample lines, in order) and whether only the answers match."""

    lines: list[int]
    template: bool = False


class NearDuplicates:
    """Bottom-k MinHash sketches of the question and the answer of up to BUDGET examples, in
    flat 8-byte arrays (~2 * K * 8 bytes per example), clustered once at the end.

    Two kinds of cluster: near-duplicate examples (question and answer both similar) and
    template answers (one answer to many different questions: at least TEMPLATE_MIN examples
    and 1% of the sample). Paraphrased questions with one shared answer, a few times each, are
    ordinary data augmentation and not reported.
    """

    BUDGET = 4_000
    K = 16
    #: Only the start of a long text is shingled (templates differ early; cost stays flat).
    PREFIX = 200
    #: Estimated Jaccard similarity from which two answers (questions) count as the same.
    ANSWER_THRESHOLD = 0.7
    QUESTION_THRESHOLD = 0.5
    TEMPLATE_MIN = 10

    def __init__(self, budget: int = BUDGET) -> None:
        self.budget = budget
        self.stride = 1
        self.lines = array("I")
        self.answers = array("q")
        self.questions = array("q")

    def expect(self, examples: int) -> None:
        """Start at the stride that `examples` examples need, so a file of known size costs
        about BUDGET sketches instead of BUDGET per halving."""
        while examples > self.budget * self.stride:
            self.stride *= 2

    def add(self, line: int, question: str, answer: str) -> None:
        """Sketch one example (the caller samples: `line % stride == 0`)."""
        self.lines.append(line)
        self.answers.extend(_bottom(answer[: self.PREFIX], self.K))
        self.questions.extend(_bottom(question[: self.PREFIX], self.K))
        if len(self.lines) >= self.budget:
            self._thin(self.stride * 2)

    def _thin(self, stride: int) -> None:
        """Keep only the sampled lines divisible by `stride`."""
        self.stride = stride
        keep = [i for i, ln in enumerate(self.lines) if ln % stride == 0]
        k = self.K
        self.lines = array("I", (self.lines[i] for i in keep))
        self.answers = array("q", (h for i in keep for h in self.answers[i * k : i * k + k]))
        self.questions = array("q", (h for i in keep for h in self.questions[i * k : i * k + k]))

    def merge(self, other: NearDuplicates) -> None:
        """Add the sample of a later part of the same file (same line numbering)."""
        stride = max(self.stride, other.stride)
        if stride != self.stride:
            self._thin(stride)
        k = self.K
        for i, ln in enumerate(other.lines):
            if ln % stride == 0:
                self.lines.append(ln)
                self.answers.extend(other.answers[i * k : i * k + k])
                self.questions.extend(other.questions[i * k : i * k + k])
        while len(self.lines) >= self.budget:
            self._thin(self.stride * 2)

    @property
    def sampled(self) -> int:
        return len(self.lines)

    def _sketch(self, arr: array[int], i: int) -> frozenset[int]:
        return frozenset(arr[i * self.K : i * self.K + self.K]) - {_PAD}

    def clusters(self) -> list[Cluster]:
        """Near-duplicate and template clusters of 2+ sampled examples, largest first."""
        n = self.sampled
        answers = _group(n, lambda i: self._sketch(self.answers, i), self.ANSWER_THRESHOLD)
        out: list[Cluster] = []
        template_min = max(self.TEMPLATE_MIN, n // 100)
        for members in answers:
            if len(members) < 2:
                continue
            if len(members) >= template_min:
                out.append(Cluster(sorted(self.lines[i] for i in members), template=True))
                continue
            for sub in _group(
                len(members),
                lambda j, m=members: self._sketch(self.questions, m[j]),  # type: ignore[misc]
                self.QUESTION_THRESHOLD,
            ):
                if len(sub) > 1:
                    out.append(Cluster(sorted(self.lines[members[j]] for j in sub)))
        out.sort(key=lambda c: (-len(c.lines), c.lines[0]))
        return out


def _bottom(text: str, k: int) -> list[int]:
    hs = sorted(shingle_hashes(text))[:k]
    return hs + [_PAD] * (k - len(hs))


#: Distinct clusters remembered per bucket. A bucket keyed by a hash that many different texts
#: share (a common greeting's shingle) would otherwise make similar texts meet only its first
#: occupant and miss each other; the cap keeps the cost linear.
_BUCKET_ROOTS = 24


def _group(n: int, sketch: Callable[[int], frozenset[int]], threshold: float) -> list[list[int]]:
    """Union-find over items 0..n-1 whose sketches are similar; candidates share one of their
    two smallest hashes (probability ~1-(1-J)^2 for Jaccard similarity J) or the whole sketch.
    Each candidate is compared with every cluster (up to _BUCKET_ROOTS) already in its buckets,
    not only the bucket's first occupant."""
    parent = list(range(n))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    sketches = [sketch(i) for i in range(n)]
    buckets: dict[object, list[int]] = {}
    for i, sk in enumerate(sketches):
        ri = i  # root(i), kept current through the unions below
        for key in (sk, *sorted(sk)[:2]):
            members = buckets.setdefault(key, [])
            for j in members:
                rj = root(j)
                if ri != rj and similar(sk, sketches[j], threshold):
                    parent[ri] = rj
                    ri = rj
            if len(members) < _BUCKET_ROOTS and all(root(j) != ri for j in members):
                members.append(i)
    groups: dict[int, list[int]] = {}
    for i in range(n):
        groups.setdefault(root(i), []).append(i)
    return list(groups.values())


def length_fences(dist: Distribution, minimum: int = 20) -> tuple[float, float] | None:
    """(low, high) answer-token fences outside which an answer is an extreme outlier, or None
    for too few answers. Tukey's far-out rule (3 IQR) on a log scale, because answer lengths
    are skewed: high = Q3 * (Q3/Q1)^3, low = Q1 / (Q3/Q1)^3."""
    if dist.count < minimum:
        return None
    q1 = max(1, dist.percentile(25))
    q3 = max(q1, dist.percentile(75))
    spread = max(q3 / q1, 1.5) ** 3
    return q1 / spread, q3 * spread


class Extremes:
    """The `keep` longest and shortest answers (tokens, line) seen, for outlier findings."""

    def __init__(self, keep: int) -> None:
        self.keep = max(1, keep)
        self.top: list[tuple[int, int]] = []
        self.bottom: list[tuple[int, int]] = []
        self.top_floor = -1
        self.bottom_ceiling = 1 << 62

    def add(self, tokens: int, line: int) -> None:
        if tokens > self.top_floor:
            if len(self.top) < self.keep:
                heapq.heappush(self.top, (tokens, -line))
            else:
                heapq.heapreplace(self.top, (tokens, -line))
            if len(self.top) == self.keep:
                self.top_floor = self.top[0][0]
        if tokens < self.bottom_ceiling:
            if len(self.bottom) < self.keep:
                heapq.heappush(self.bottom, (-tokens, -line))
            else:
                heapq.heapreplace(self.bottom, (-tokens, -line))
            if len(self.bottom) == self.keep:
                self.bottom_ceiling = -self.bottom[0][0]

    def merge(self, other: Extremes) -> None:
        for tokens, neg_line in other.top:
            self.add(tokens, -neg_line)
        for neg_tokens, neg_line in other.bottom:
            self.add(-neg_tokens, -neg_line)

    def above(self, fence: float) -> list[tuple[int, int]]:
        """(line, tokens) of kept answers longer than `fence`, in line order."""
        return sorted((-ln, t) for t, ln in self.top if t > fence)

    def below(self, fence: float) -> list[tuple[int, int]]:
        return sorted((-ln, -t) for t, ln in self.bottom if -t < fence)


def count_outside(dist: Distribution, low: float, high: float) -> tuple[int, int]:
    """(answers below `low`, answers above `high`) counted exactly from the distribution."""
    below = above = 0
    for v, n in enumerate(dist.small):
        if n and v < low:
            below += n
        elif n and v > high:
            above += n
    for v in dist.big:
        if v > high:
            above += 1
        elif v < low:
            below += 1
    return below, above


def language_summary(turns: dict[str, Any]) -> dict[str, Any]:
    """{"user": {"latin": n, ...}, "model": {...}} from per-role count arrays."""
    return {role: dict(zip(SCRIPTS, counts, strict=True)) for role, counts in turns.items()}


# ---- final-exchange overlap between a training set and a held-out set ------------------------


def sketch(
    text: str, k: int = NearDuplicates.K, prefix: int | None = NearDuplicates.PREFIX
) -> frozenset[int]:
    """The bottom-k MinHash sketch of a text (its first `prefix` characters; all with None)."""
    return frozenset(_bottom(text if prefix is None else text[:prefix], k)) - {_PAD}


def similar(a: frozenset[int], b: frozenset[int], threshold: float) -> bool:
    """Two sketches' estimated Jaccard similarity is at least `threshold`: the bottom-k
    estimate (the share of the k smallest hashes of the union that both sketches hold, k the
    larger sketch's size) from C-speed set operations, with most pairs settled by the bound
    that this share is at most the intersection's size over the union's. Clustering calls it
    for every candidate pair, so a Python loop here was a tenth of a validation's CPU."""
    both = a & b
    na, nb, common = len(a), len(b), len(both)
    union = na + nb - common  # its size; the set itself only for the few pairs that need it
    if not union:
        return True
    k = na if na > nb else nb
    if common < threshold * (k if k < union else union):
        return False
    if union <= k:
        return common / union >= threshold
    smallest = sorted(a | b)[:k]
    return len(both.intersection(smallest)) / k >= threshold


def same_exchange(
    q1: frozenset[int], a1: frozenset[int], q2: frozenset[int], a2: frozenset[int]
) -> bool:
    """Two final exchanges (question and answer sketches) are near-duplicates, by the rule
    `NearDuplicates` clusters examples with: answers and questions both similar."""
    return similar(a1, a2, NearDuplicates.ANSWER_THRESHOLD) and similar(
        q1, q2, NearDuplicates.QUESTION_THRESHOLD
    )


def bands(answer: frozenset[int]) -> list[int]:
    """Lookup keys of an exchange: the two smallest hashes of its answer sketch (two
    near-duplicates share one with probability ~1-(1-J)^2, as in `_group`)."""
    return sorted(answer)[:2]


class ExchangeIndex:
    """The final exchanges of a held-out set (small: an evaluation sample, a validation split),
    indexed so that a large training set can be streamed past it once."""

    def __init__(self) -> None:
        self.questions: list[frozenset[int]] = []
        self.answers: list[frozenset[int]] = []
        self.buckets: dict[int, list[int]] = {}

    def __len__(self) -> int:
        return len(self.answers)

    def add(self, question: str, answer: str) -> int:
        i = len(self.answers)
        q, a = sketch(question), sketch(answer)
        self.questions.append(q)
        self.answers.append(a)
        for h in bands(a):
            self.buckets.setdefault(h, []).append(i)
        return i

    def matches(self, question: str, answer: str, skip: set[int] | None = None) -> set[int]:
        """Indices of held-out exchanges that are near-duplicates of this one (those in
        `skip`, already known to match something, are not compared again)."""
        a = sketch(answer)
        cand = {i for h in bands(a) for i in self.buckets.get(h, ())}
        if skip:
            cand -= skip
        if not cand:
            return set()
        q = sketch(question)
        return {i for i in cand if same_exchange(q, a, self.questions[i], self.answers[i])}


def overlapping(index: ExchangeIndex, train: Iterable[tuple[str, str]]) -> set[int]:
    """Indices of `index`'s exchanges that some training (question, answer) near-duplicates."""
    hit: set[int] = set()
    for question, answer in train:
        if len(hit) == len(index):
            break
        hit |= index.matches(question, answer, hit)
    return hit


def overlap_share(
    held_out: Iterable[tuple[str, str]], train: Iterable[tuple[str, str]]
) -> tuple[int, int]:
    """(held-out exchanges, how many of them a training exchange near-duplicates): the leakage
    figure `prepare` reports for its splits. Memory grows with the held-out set only."""
    index = ExchangeIndex()
    for q, a in held_out:
        index.add(q, a)
    return len(index), len(overlapping(index, train))
