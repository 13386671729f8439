"""One `prepare` job: sources in, `train.jsonl` / `validation.jsonl` / `test.jsonl` out, and a
report of every decision.

Four passes, none holding the export in memory: (1) read every source into the spill database
(rows of CSV / Excel, whole examples of JSONL), (2) build, clean and sketch the examples
session by session, (3) drop exact and near-duplicate conversations (judged on the whole
conversation) and group what must share a split, (4) assign groups to splits and write the
files. The caller validates the folder with the dataset validator before it calls it done.
"""

from __future__ import annotations

import hashlib
import io
import shutil
import sqlite3
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from shared.catalog import Catalog, ModelLimits
from shared.datasets.convert import Unconvertible, convert_line
from shared.datasets.privacy import Detector, Placeholders, PrivacyOptions, replace
from shared.datasets.quality_measures import (
    bands,
    overlap_share,
    same_exchange,
    similar,
    sketch,
)
from shared.datasets.tokens import estimate_text
from shared.prepare import readers
from shared.prepare.conversations import OVERHEAD_PER_TURN, Conversation, build
from shared.prepare.encoding import Encoding, detect
from shared.prepare.mapping import ExportMap, _key
from shared.prepare.spill import FINAL, WHOLE, Spill, pack, unpack
from shared.prepare.split import Assigner, Groups, order_key, targets

#: Whole-conversation sketches: more hashes than the validator's (conversations are long) and
#: the Jaccard similarity from which two conversations count as one.
WHOLE_K = 48
WHOLE_THRESHOLD = 0.75
#: Characters of a conversation that its sketch covers (cost stays flat on long sessions).
WHOLE_PREFIX = 1000
#: A final answer given in at least this many conversations (and 1% of them) is a template.
TEMPLATE_MIN = 10
#: Held-out examples per split whose overlap with training is measured (a systematic sample past
#: that: the cost is the training set times the held-out candidates each lookup meets).
OVERLAP_SAMPLE = 2_000
#: Findings kept per code in the report (counts are complete).
MAX_SAMPLES = 10
SPLITS = ("train", "validation", "test")


@dataclass(frozen=True)
class Source:
    """One input: its name as shown, a way to open it, its size (None: unknown) and, for a
    local file, its path (an .xlsx workbook is read from a path)."""

    name: str
    open: Callable[[], BinaryIO]
    size: int | None = None
    path: Path | None = None


@dataclass(frozen=True)
class Options:
    model: str
    catalog: Catalog
    mapping: ExportMap = field(default_factory=ExportMap)
    privacy: PrivacyOptions = field(default_factory=PrivacyOptions)
    system_instruction: str | None = None
    seed: int = 0
    validation_share: float = 0.1
    test_share: float = 0.1
    #: A lower per-example token budget than the model's limit (None: the model's limit).
    max_tokens: int | None = None
    encoding: Encoding | None = None
    sheet: str | None = None
    #: Called with (bytes read so far, total bytes or None) while sources are read.
    progress: Callable[[int, int | None], None] | None = None


@dataclass
class Tally:
    """A count with the first few places it happened (file, line, detail)."""

    count: int = 0
    samples: list[dict[str, Any]] = field(default_factory=list)

    def add(self, file: str, line: int | None, detail: str) -> None:
        self.count += 1
        if len(self.samples) < MAX_SAMPLES:
            self.samples.append({"file": file, "line": line, "detail": detail})

    def to_dict(self) -> dict[str, Any]:
        return {"count": self.count, "samples": self.samples}


@dataclass
class Report:
    """What `prepare` did, for the summary table and `prepare-report.json`."""

    model: str
    token_budget: int
    seed: int
    sources: list[dict[str, Any]] = field(default_factory=list)
    rows_read: int = 0
    messages: int = 0
    sessions: int = 0
    examples_built: int = 0
    splits: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SPLITS, 0))
    dropped: Counter[str] = field(default_factory=Counter)
    dropped_roles: Counter[str] = field(default_factory=Counter)
    notes: Counter[str] = field(default_factory=Counter)
    unmapped_roles: dict[str, Tally] = field(default_factory=dict)
    problems: dict[str, Tally] = field(default_factory=dict)
    personal_data: Counter[str] = field(default_factory=Counter)
    privacy_policy: str = "redact"
    template_answers: Tally = field(default_factory=Tally)
    overlap: dict[str, dict[str, Any]] = field(default_factory=dict)
    split_groups: dict[str, int] = field(default_factory=dict)
    train_tokens: int = 0
    price_per_million: float | None = None

    def problem(self, code: str, file: str, line: int | None, detail: str) -> None:
        self.problems.setdefault(code, Tally()).add(file, line, detail)

    @property
    def cost_per_epoch(self) -> float | None:
        if self.price_per_million is None:
            return None
        return round(self.train_tokens / 1e6 * self.price_per_million, 4)

    @property
    def ok(self) -> bool:
        """Something was written and no input row was left unread for a mapping problem."""
        return self.splits["train"] > 0 and not self.unmapped_roles

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "token_budget": self.token_budget,
            "seed": self.seed,
            "sources": self.sources,
            "rows_read": self.rows_read,
            "messages": self.messages,
            "sessions": self.sessions,
            "examples_built": self.examples_built,
            "examples": dict(self.splits),
            "dropped": dict(sorted(self.dropped.items())),
            "dropped_roles": dict(sorted(self.dropped_roles.items())),
            "notes": dict(sorted(self.notes.items())),
            "unmapped_roles": {k: t.to_dict() for k, t in sorted(self.unmapped_roles.items())},
            "problems": {k: t.to_dict() for k, t in sorted(self.problems.items())},
            "personal_data": {
                "policy": self.privacy_policy,
                "found": dict(sorted(self.personal_data.items())),
            },
            "template_answers": self.template_answers.to_dict(),
            "overlap": {
                "function": "shared.datasets.quality_measures.overlap_share",
                **self.overlap,
            },
            "split_groups": self.split_groups,
            "estimate": {
                "train_tokens_per_epoch": self.train_tokens,
                "price_per_million_training_tokens": self.price_per_million,
                "cost_usd_per_epoch": self.cost_per_epoch,
            },
        }


# ---- pass 1: read ----------------------------------------------------------------------------


class _Reader:
    def __init__(self, options: Options, spill: Spill, report: Report, work: Path) -> None:
        self.o, self.spill, self.r, self.work = options, spill, report, work
        self.roles = options.mapping.role_table()
        self.done = 0
        self.total: int | None = None

    def read_all(self, sources: list[Source], on_example: Callable[[str, int, Any], None]) -> None:
        sizes = [s.size for s in sources]
        self.total = None if any(x is None for x in sizes) else sum(x or 0 for x in sizes)
        for src in sources:
            self.read(src, on_example)
        self.spill.flush_rows()

    def _progress(self, base: int) -> Callable[[int], None] | None:
        cb = self.o.progress
        if cb is None:
            return None
        total = self.total

        def report(n: int) -> None:
            cb(base + n, total)

        return report

    def read(self, src: Source, on_example: Callable[[str, int, Any], None]) -> None:
        with src.open() as stream:
            head = readers.head_of(stream)
            fmt = readers.guess_format(src.name, head)
            info: dict[str, Any] = {"name": src.name, "format": fmt}
            if fmt == "xlsx":
                path = src.path or self._spool(stream, head)
                columns, sheet, items = readers.read_xlsx(
                    str(path), self.o.mapping, src.name, self.o.sheet
                )
                info.update(sheet=sheet, columns=dict(columns.headers))
                self._rows(src.name, items, info)
            else:
                enc = self.o.encoding or detect(head)
                info["encoding"] = enc.name
                raw = readers.Counting(stream, head, self._progress(self.done))
                if fmt == "jsonl":
                    n = 0
                    for item in readers.read_jsonl(raw, enc):
                        n += 1
                        if isinstance(item, readers.Problem):
                            self.r.problem(item.code, src.name, item.line, item.detail)
                        else:
                            on_example(src.name, item.line, item.obj)
                    info["lines"] = n
                    self.r.rows_read += n
                else:
                    columns, delim, rows = readers.read_delimited(
                        raw, enc, fmt, self.o.mapping, src.name
                    )
                    info.update(delimiter=delim, columns=dict(columns.headers))
                    self._rows(src.name, rows, info)
                self.done += raw.done
        self.r.sources.append(info)

    def _spool(self, stream: BinaryIO, head: bytes) -> Path:
        """A workbook from Cloud Storage: copied to the work folder (a ZIP needs seeking)."""
        path = self.work / "source.xlsx"
        with path.open("wb") as out:
            out.write(head)
            shutil.copyfileobj(stream, out, 1 << 20)
        return path

    def _rows(
        self, name: str, items: Iterator[readers.Row | readers.Problem], info: dict[str, Any]
    ) -> None:
        n = 0
        for item in items:
            if isinstance(item, readers.Problem):
                self.r.problem(item.code, name, item.line, item.detail)
                continue
            n += 1
            target = self.roles.get(_key(item.sender))
            if target is None:
                value = item.sender or "(empty)"
                if value not in self.r.unmapped_roles and len(self.r.unmapped_roles) >= 50:
                    value = "(50+ other values: is the role column right?)"
                self.r.unmapped_roles.setdefault(value, Tally()).add(name, item.line, item.sender)
                continue
            if target == "drop":
                self.r.dropped_roles[item.sender] += 1
                continue
            if not item.session:
                self.r.problem("missing_session", name, item.line, "no session id")
                continue
            self.spill.add_row(item.session, item.time, self.r.rows_read + n, target, item.text)
            self.r.messages += 1
        info["rows"] = n
        self.r.rows_read += n


# ---- pass 2: build, clean, sketch --------------------------------------------------------------


def _digest(text: str) -> bytes:
    return hashlib.blake2b(" ".join(text.split()).casefold().encode(), digest_size=16).digest()


class _Builder:
    def __init__(self, options: Options, limits: ModelLimits, spill: Spill, report: Report) -> None:
        self.o, self.spill, self.r = options, spill, report
        self.detector = Detector(options.privacy) if options.privacy.enabled else None
        self.system = options.system_instruction
        self.system_tokens = estimate_text(self.system) + OVERHEAD_PER_TURN if self.system else 0
        self.budget = report.token_budget - self.system_tokens

    def _clean(self, text: str, names: Placeholders, found: Counter[str]) -> str:
        if self.detector is None:
            return text
        hits = self.detector.scan_text(text)
        if not hits:
            return text
        for h in hits:
            found[h.kind] += 1
        if self.o.privacy.policy == "redact":
            return replace(text, hits, names)
        return text

    def _store(
        self,
        session: str,
        piece: int,
        body: dict[str, Any],
        texts: list[tuple[str, str]],
        tokens: int,
        found: Counter[str],
    ) -> None:
        if found and self.o.privacy.policy == "reject":
            self.r.dropped["personal_data"] += 1
            self.r.personal_data.update(found)
            return
        self.r.personal_data.update(found)
        whole = "\n".join(f"{role}: {t}" for role, t in texts)
        q = next((t for role, t in reversed(texts) if role == "user"), "")
        a = next((t for role, t in reversed(texts) if role == "model"), "")
        whole_sk = sketch(whole, WHOLE_K, WHOLE_PREFIX)
        q_sk, a_sk = sketch(q), sketch(a)
        band_list = [(WHOLE, h) for h in bands(whole_sk)] + [(FINAL, h) for h in bands(a_sk)]
        self.spill.add_conv(
            (
                session,
                piece,
                orjson.dumps(body),
                _digest(whole),
                _digest(a),
                pack(whole_sk),
                pack(q_sk),
                pack(a_sk),
                q,
                a,
                tokens,
            ),
            band_list,
        )
        self.r.examples_built += 1

    def conversation(self, conv: Conversation) -> None:
        names, found = Placeholders(), Counter[str]()
        turns = [(t.role, self._clean(t.text, names, found)) for t in conv.turns]
        body: dict[str, Any] = {}
        if self.system:
            body["systemInstruction"] = {"role": "system", "parts": [{"text": self.system}]}
        body["contents"] = [{"role": r, "parts": [{"text": t}]} for r, t in turns]
        tokens = self.system_tokens + sum(estimate_text(t) + OVERHEAD_PER_TURN for _, t in turns)
        self._store(conv.session, conv.piece, body, turns, tokens, found)

    def session(self, session: str, messages: list[tuple[str, str]]) -> None:
        self.r.sessions += 1
        counts: Counter[str] = Counter()
        for conv in build(session, messages, self.budget, counts):
            self.conversation(conv)
        for reason, n in counts.items():
            if reason in ("merged_message", "long_session_split"):
                self.r.notes[reason] += n
            else:
                self.r.dropped[reason] += n

    def example(self, file: str, line: int, obj: Any) -> None:
        """One JSONL line: converted from `messages` when needed, cleaned, stored as it is."""
        self.r.sessions += 1
        try:
            ex = convert_line(obj)
        except Unconvertible as e:
            self.r.problem(e.reason, file, line, e.detail)
            return
        ex = dict(ex)
        if self.system and "systemInstruction" not in ex and "system_instruction" not in ex:
            ex = {"systemInstruction": {"role": "system", "parts": [{"text": self.system}]}, **ex}
        names, found = Placeholders(), Counter[str]()
        texts: list[tuple[str, str]] = []
        tokens = 0

        def walk(v: Any, role: str | None) -> Any:
            nonlocal tokens
            if isinstance(v, dict):
                r = v.get("role", role) if isinstance(v.get("role"), str) else role
                out = {}
                for k, x in v.items():
                    if k == "text" and isinstance(x, str):
                        x = self._clean(x, names, found)
                        tokens += estimate_text(x)
                        if r in ("user", "model"):
                            texts.append((r, x))
                        out[k] = x
                    else:
                        out[k] = walk(x, r)
                return out
            if isinstance(v, list):
                return [walk(x, role) for x in v]
            return v

        body = walk(ex, None)
        self._store(f"{file}:{line}", 0, body, texts, tokens, found)


# ---- pass 3: duplicates and groups -------------------------------------------------------------


#: Ids read per query and per piece of a band: below SQLite's variable limit (999 in old builds),
#: and memory stays flat when thousands of examples share one key (a template closing).
CHUNK = 500
#: Representatives of a band each example is compared with (the earliest ones kept).
REPS = 8


def _band_groups(spill: Spill, kind: int) -> Iterator[tuple[bool, list[int]]]:
    """Ids of kept examples sharing a lookup key of `kind`, in pieces of at most CHUNK:
    (whether the piece starts a new key, its ids ascending). Keys held by one example only
    are skipped."""
    cur = spill.db.execute(
        "SELECT b.h, b.id FROM bands b JOIN convs c ON c.id = b.id "
        "WHERE b.kind = ? AND c.dropped IS NULL ORDER BY b.h, b.id",
        (kind,),
    )
    # Fewer when this SQLite build allows fewer variables in one statement (999 in older ones).
    chunk = min(CHUNK, spill.db.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER))
    current: int | None = None
    ids: list[int] = []
    started = False  # a piece of the current key was yielded already
    for h, conv_id in cur:
        if h != current:
            if len(ids) > 1 or (started and ids):
                yield not started, ids
            current, ids, started = h, [], False
        ids.append(conv_id)
        if len(ids) >= chunk:
            yield not started, ids
            ids, started = [], True
    if len(ids) > 1 or (started and ids):
        yield not started, ids


def _fetch(spill: Spill, columns: str, ids: list[int]) -> Iterator[tuple[Any, ...]]:
    """Rows (id, columns...) of `convs` for at most CHUNK ids."""
    marks = ",".join("?" * len(ids))
    yield from spill.db.execute(f"SELECT id, {columns} FROM convs WHERE id IN ({marks})", ids)


def _drop_duplicates(spill: Spill, report: Report) -> None:
    db = spill.db
    exact = db.execute(
        "UPDATE convs SET dropped = 'exact_duplicate' WHERE id NOT IN "
        "(SELECT min(id) FROM convs WHERE dropped IS NULL GROUP BY digest) AND dropped IS NULL"
    ).rowcount
    report.dropped["exact_duplicate"] += exact
    (max_id,) = db.execute("SELECT coalesce(max(id), 0) FROM convs").fetchone()
    near = bytearray(max_id + 1)  # one byte per example, not a set of ints
    keep: list[frozenset[int]] = []  # sketches of the band's first REPS kept examples
    for new_band, ids in _band_groups(spill, WHOLE):
        if new_band:
            keep = []
        sketches = {i: unpack(b) for i, b in _fetch(spill, "sketch", ids)}
        for i in ids:  # ascending: the earliest example of a cluster is the one kept
            if near[i]:
                continue
            if any(similar(sketches[i], k, WHOLE_THRESHOLD) for k in keep):
                near[i] = 1
            elif len(keep) < REPS:
                keep.append(sketches[i])
    db.executemany(
        "UPDATE convs SET dropped = 'near_duplicate' WHERE id = ?",
        ((i,) for i in range(max_id + 1) if near[i]),
    )
    report.dropped["near_duplicate"] += near.count(1)


def _flag_templates(spill: Spill, report: Report, kept: int) -> None:
    least = max(TEMPLATE_MIN, kept // 100)
    for session, answer, n in spill.db.execute(
        "SELECT min(session), min(final_a), count(*) FROM convs WHERE dropped IS NULL "
        "GROUP BY answer_digest HAVING count(*) >= ? ORDER BY count(*) DESC",
        (least,),
    ).fetchall():
        report.template_answers.count += n
        if len(report.template_answers.samples) < MAX_SAMPLES:
            report.template_answers.samples.append(
                {"answer": answer[:80], "examples": n, "first_session": session}
            )


def _group(spill: Spill, report: Report, max_id: int, kept: int) -> Groups:
    """Pieces of a session, and examples whose final exchanges are near-duplicates."""
    groups = Groups(max_id, cap=max(10, kept // 100))
    db = spill.db
    previous: tuple[str, int] | None = None
    for session, conv_id in db.execute(
        "SELECT session, id FROM convs WHERE dropped IS NULL ORDER BY session, id"
    ):
        if previous is not None and previous[0] == session:
            groups.join(previous[1], conv_id, force=True)
        previous = (session, conv_id)
    linked = 0
    reps: list[tuple[int, frozenset[int], frozenset[int]]] = []  # the band's first REPS
    for new_band, ids in _band_groups(spill, FINAL):
        if new_band:
            reps = []
        rows = {i: (unpack(q), unpack(a)) for i, q, a in _fetch(spill, "q, a", ids)}
        for i in ids:
            for r, rq, ra in reps:
                if same_exchange(*rows[i], rq, ra):
                    if groups.root(r) != groups.root(i):
                        linked += groups.join(r, i)
                    break
            else:
                if len(reps) < REPS:
                    reps.append((i, *rows[i]))
    report.split_groups = {"near_duplicate_links": linked, "links_refused_at_cap": groups.refused}
    return groups


# ---- pass 4: split and write -------------------------------------------------------------------


def _assign(spill: Spill, report: Report, groups: Groups, limits: ModelLimits, o: Options) -> None:
    """Every kept example's group, then each group's split, through side tables (the cursor
    reading `convs` never sees its own updates, and nothing here grows with the dataset)."""
    db = spill.db
    db.execute("CREATE TABLE roots (id INTEGER PRIMARY KEY, grp INTEGER NOT NULL)")
    db.executemany(
        "INSERT INTO roots VALUES (?, ?)",
        ((i, groups.root(i)) for (i,) in db.execute("SELECT id FROM convs WHERE dropped IS NULL")),
    )
    db.execute(
        "UPDATE convs SET grp = (SELECT grp FROM roots WHERE roots.id = convs.id) "
        "WHERE dropped IS NULL"
    )
    (kept,) = db.execute("SELECT count(*) FROM roots").fetchone()
    t = targets(kept, limits, o.validation_share, o.test_share)
    seed = o.seed
    db.create_function("seeded", 1, lambda name: order_key(seed, name), deterministic=True)
    assigner = Assigner(t)
    db.execute("CREATE TABLE placement (grp INTEGER PRIMARY KEY, split TEXT NOT NULL)")
    n_groups = 0
    cur = db.execute(
        "SELECT grp, count(*) FROM convs WHERE dropped IS NULL GROUP BY grp "
        "ORDER BY seeded(min(session || char(0) || piece)), grp"
    )
    while batch := cur.fetchmany(10_000):
        n_groups += len(batch)
        db.executemany(
            "INSERT INTO placement VALUES (?, ?)",
            [(grp, assigner.place(size)) for grp, size in batch],
        )
    db.execute(
        "UPDATE convs SET split = (SELECT split FROM placement p WHERE p.grp = convs.grp) "
        "WHERE dropped IS NULL"
    )
    report.splits = assigner.counts
    report.split_groups["groups"] = n_groups


def _write(spill: Spill, report: Report, dest: Path) -> None:
    handles = {s: (dest / f"{s}.jsonl").open("wb") for s in SPLITS}
    try:
        for split, body, tokens in spill.db.execute(
            "SELECT split, body, tokens FROM convs WHERE dropped IS NULL ORDER BY id"
        ):
            handles[split].write(body + b"\n")
            if split == "train":
                report.train_tokens += tokens
    finally:
        for h in handles.values():
            h.close()
    for s in ("validation", "test"):
        if not report.splits[s]:
            (dest / f"{s}.jsonl").unlink()


def _overlap(spill: Spill, report: Report) -> None:
    """The share of validation and test examples whose final exchange a training example
    near-duplicates (what is left after grouping: template closings, links refused at the
    cap), by `quality_measures.overlap_share`, the evaluator's leakage rule."""
    db = spill.db

    def exchanges(split: str, stride: int = 1) -> Iterator[tuple[str, str]]:
        yield from db.execute(
            "SELECT final_q, final_a FROM (SELECT final_q, final_a, row_number() OVER "
            "(ORDER BY id) AS n FROM convs WHERE dropped IS NULL AND split = ?) "
            "WHERE (n - 1) % ? = 0",
            (split, stride),
        )

    for split in ("validation", "test"):
        total = report.splits[split]
        if not total:
            continue
        stride = -(-total // OVERLAP_SAMPLE)  # ceil: a systematic sample of at most that many
        n, hit = overlap_share(exchanges(split, stride), exchanges("train"))
        report.overlap[split] = {
            "examples": n,
            "of": total,
            "overlapping": hit,
            "share": round(hit / n, 4),
        }


def prepare(sources: list[Source], dest: Path, options: Options) -> Report:
    """Read `sources`, write train / validation / test JSONL into the folder `dest` (which
    must exist), return the report. Raises ValueError for input it cannot read, with what to
    do; the sources are only read."""
    info = options.catalog.get(options.model)
    if info is None:
        raise ValueError(
            f"unknown model {options.model!r}. Use one of: {', '.join(options.catalog.models)}."
        )
    limits = info.limits
    budget = limits.max_tokens_per_example
    if options.max_tokens is not None:
        budget = min(budget, options.max_tokens)
    report = Report(
        model=info.name,
        token_budget=budget,
        seed=options.seed,
        privacy_policy=options.privacy.policy if options.privacy.enabled else "off",
        price_per_million=limits.training_price_per_million_tokens,
    )
    with tempfile.TemporaryDirectory(prefix=".prepare-", dir=dest) as tmp:
        work = Path(tmp)
        spill = Spill(work)
        try:
            builder = _Builder(options, limits, spill, report)
            _Reader(options, spill, report, work).read_all(sources, builder.example)
            for session, messages in spill.sessions():
                builder.session(session, messages)
            spill.drop_rows()
            _drop_duplicates(spill, report)
            (max_id,) = spill.db.execute("SELECT coalesce(max(id), 0) FROM convs").fetchone()
            (kept,) = spill.db.execute(
                "SELECT count(*) FROM convs WHERE dropped IS NULL"
            ).fetchone()
            _flag_templates(spill, report, kept)
            groups = _group(spill, report, max_id, kept)
            _assign(spill, report, groups, limits, options)
            _write(spill, report, dest)
            _overlap(spill, report)
        finally:
            spill.close()
    return report


def text_source(name: str, data: bytes) -> Source:
    """A source held in memory (tests, stdin)."""
    return Source(name, lambda: io.BytesIO(data), len(data))
