"""`evaluate`: sample, predict with the tuned and the base model, score, gate, report.

Pure logic over the `Models` port and a `Checkpoints` store (`shared.evaluation.chunks`): no
cloud client and no file I/O of its own, so the same code runs in the evaluator function, in
local mode against the simulator, and in unit tests against a fake.

Work goes chunk by chunk (`chunks.CHUNK_SIZE` examples, every model, scored and saved before the
next chunk starts): a chunk already saved is read back, never predicted again. With a `deadline`
the runner stops starting new chunks once it has passed and raises `EvaluationIncomplete` (a
`TransientError`) saying how far it got; the caller continues in a new invocation. Memory stays
flat: the sample is kept as positions, examples are read again chunk by chunk, and per example
only the statistics the bootstrap needs are kept (`shared.evaluation.stats.Columns`).

Scores compare like with like: an example counts towards the metrics only when BOTH models
answered it, so a transient failure on one side cannot tilt the tuned-vs-base delta. The same
holds for the optional pairwise judge (`judge=`): it sees exactly those examples.
"""

from __future__ import annotations

import heapq
import json
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from itertools import islice
from typing import Any

from shared.errors import PermanentError, TransientError
from shared.evaluation.chunks import CHUNK_SIZE, Checkpoints, MemoryCheckpoints, rows_to_jsonl
from shared.evaluation.examples import SKIP_REASONS, EvalExample, iter_picked, pick
from shared.evaluation.gates import GateOutcome, check_gates
from shared.evaluation.judging import Verdict, judge_pairs, summarize
from shared.evaluation.leakage import Leakage, find_leakage
from shared.evaluation.metrics import METRIC_NAMES, pair_stats, sentence_scores
from shared.evaluation.predict import Prediction, predict
from shared.evaluation.report import EvaluationReport
from shared.evaluation.result import EvaluationResult
from shared.evaluation.rubric import DIMENSIONS, rate_rows
from shared.evaluation.rubric import means as rubric_means
from shared.evaluation.stats import (
    RESAMPLES,
    Columns,
    MetricIntervals,
    intervals_to_dict,
    paired_bootstrap,
)
from shared.ports import GenerationSettings, Judge, Models, PairwiseJudgement
from shared.runs import verdict_of
from shared.tuning_config import EvaluationConfig, Gate

ROLES = ("tuned", "base")
MAX_ERRORS_IN_REPORT = 50
#: Rows the report keeps for people: the worst regressions (tuned minus base, per example).
MAX_HIGHLIGHTS = 50
#: Bins of the per-example score histograms in the report (0..1 in tenths).
HISTOGRAM_BINS = 10
_ROUND = 6

METRIC_NOTES = {
    "exact_match": "share of answers equal to the reference after NFKC and whitespace folding",
    "bleu": "corpus BLEU-4, exp smoothing, brevity penalty; CJK characters and words as tokens",
    "chrf": "corpus chrF, character n-grams up to 6, beta 2 (sacrebleu's default chrF)",
    "rouge_l": "mean ROUGE-L F1 (longest common token subsequence); CJK characters as tokens",
}


def _row(
    ex: EvalExample,
    preds: Mapping[str, Prediction],
    scores: Mapping[str, dict[str, float] | None],
) -> dict[str, Any]:
    row: dict[str, Any] = {
        "index": ex.index,
        "prompt": ex.prompt_text,
        "reference": ex.reference,
        **{role: preds[role].text for role in ROLES},
        "scores": scores,
        "errors": {role: preds[role].error for role in ROLES},
        "simulated": any(p.simulated for p in preds.values()),
        # Billed tokens per role ([input, output], null when the response did not say); a
        # reused answer was paid by another evaluation and counts nothing here.
        "tokens": {
            role: None if p.reused else [p.input_tokens, p.output_tokens]
            for role, p in preds.items()
        },
    }
    if any(p.reused for p in preds.values()):
        row["reused"] = [role for role, p in preds.items() if p.reused]
    return row


def _reused(row: Mapping[str, Any] | None) -> Prediction | None:
    """The tuned answer of a saved row, to be reused instead of asked again."""
    if row is None or not isinstance(row.get("tuned"), str):
        return None
    return Prediction(row["tuned"], None, bool(row.get("simulated")), reused=True)


class EvaluationIncomplete(TransientError):
    """The time budget ran out with chunks left; what is done is saved. Continue later."""

    code = "evaluation_incomplete"

    def __init__(self, done: int, total: int) -> None:
        super().__init__(
            f"evaluated {done} of {total} examples before the time budget ran out; the saved "
            "chunks are kept and the next invocation continues from there."
        )
        self.done, self.total = done, total


Progress = Callable[[int, int], None]


def _too_many_failures(errors: Mapping[str, int], calls: int, first: str | None) -> None:
    failed = sum(errors.values())
    if calls and failed * 2 > calls:
        raise TransientError(
            f"{failed} of {calls} prediction calls failed (tuned: {errors['tuned']}, "
            f"base: {errors['base']}); first error: {first}. The evaluation will be retried; "
            "if it keeps failing, check that both models are deployed and reachable.",
            code="evaluation_predictions_failed",
        )


def _reiterable(examples: Iterable[Any]) -> Iterable[Any]:
    """The runner reads the input twice (sample, then chunks): a one-shot iterator is kept."""
    return list(examples) if iter(examples) is examples else examples


def _run_chunk(
    models: Models,
    chunk: Sequence[EvalExample],
    *,
    tuned_model: str,
    base_model: str,
    config: EvaluationConfig,
    metrics_wanted: Sequence[str],
    judge: Judge | None,
    settings: GenerationSettings | None = None,
    reuse: Mapping[int, Mapping[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """Predict, score and (optionally) judge one chunk: its rows of predictions.jsonl.

    `reuse`: rows another evaluation saved for the same sample (index -> row); their tuned
    answers are taken, not paid for again, and only the baseline is asked.

    Raises `TransientError` when more than half of the chunk's calls failed (nothing is saved,
    so the retry pays only for this chunk)."""
    tuned_preds, base_preds = _predict_pairs(
        models, chunk, tuned_model, base_model, config.max_concurrency, settings, reuse
    )
    errors = {"tuned": 0, "base": 0}
    first: str | None = None
    rows: list[dict[str, Any]] = []
    for ex, tp, bp in zip(chunk, tuned_preds, base_preds, strict=True):
        preds = {"tuned": tp, "base": bp}
        scores: dict[str, dict[str, float] | None] = {}
        for role, pred in preds.items():
            if pred.text is None:
                errors[role] += 1
                first = first or pred.error
                scores[role] = None
                continue
            stats = pair_stats(pred.text, ex.reference, metrics_wanted)
            scores[role] = {
                k: round(v, _ROUND) for k, v in sentence_scores(stats, metrics_wanted).items()
            }
        rows.append(_row(ex, preds, scores))
    _too_many_failures(errors, 2 * len(chunk), first)
    if judge is not None and config.rubric:
        answers = [
            (ex, {"tuned": tp.text, "base": bp.text})
            for ex, tp, bp in zip(chunk, tuned_preds, base_preds, strict=True)
        ]
        ratings = rate_rows(
            judge, answers, config.rubric_dimensions, max_concurrency=config.max_concurrency
        )
        for row, rated in zip(rows, ratings, strict=True):
            if rated:
                row["rubric"] = rated
    if judge is not None and config.judge:
        both = [
            (ex, tp.text, bp.text)
            for ex, tp, bp in zip(chunk, tuned_preds, base_preds, strict=True)
            if tp.text is not None and bp.text is not None
        ]
        verdicts = judge_pairs(judge, both, max_concurrency=config.max_concurrency)
        _attach_verdicts(rows, [ex.index for ex, _, _ in both], verdicts)
    return rows


def _predict_pairs(
    models: Models,
    chunk: Sequence[EvalExample],
    tuned_model: str,
    base_model: str,
    max_concurrency: int,
    settings: GenerationSettings | None,
    reuse: Mapping[int, Mapping[str, Any]] | None,
) -> tuple[list[Prediction], list[Prediction]]:
    """Both models' answers to a chunk, tuned answers taken from `reuse` where it has them
    (each example's tuned answer is paid once across the comparisons of one run)."""
    known = [_reused((reuse or {}).get(ex.index)) for ex in chunk]
    if all(k is None for k in known):
        tuned, base = predict(
            models, (tuned_model, base_model), chunk, max_concurrency=max_concurrency,
            settings=settings,
        )  # fmt: skip
        return tuned, base
    ask = [ex for ex, k in zip(chunk, known, strict=True) if k is None]
    (base,) = predict(
        models, (base_model,), chunk, max_concurrency=max_concurrency, settings=settings
    )
    fresh = iter(
        predict(models, (tuned_model,), ask, max_concurrency=max_concurrency, settings=settings)[0]
        if ask
        else []
    )
    return [k if k is not None else next(fresh) for k in known], base


def _chunks(
    examples: Iterable[Any], indices: Sequence[int], size: int
) -> Iterator[list[EvalExample]]:
    it = iter_picked(examples, indices)
    while batch := list(islice(it, size)):
        yield batch


def predict_all(
    models: Models,
    examples: Iterable[Any],
    indices: Sequence[int],
    *,
    tuned_model: str,
    base_model: str,
    config: EvaluationConfig,
    metrics_wanted: Sequence[str],
    judge: Judge | None,
    checkpoints: Checkpoints,
    chunk_size: int = CHUNK_SIZE,
    deadline: float | None = None,
    on_progress: Progress | None = None,
    settings: GenerationSettings | None = None,
    reuse: Checkpoints | None = None,
) -> int:
    """Make sure every chunk of the sample is saved; returns how many chunks this call paid for.
    `reuse`: another evaluation's chunks of the same sample, whose tuned answers are reused.

    Saved chunks are skipped without reading the examples' answers again. At least one chunk is
    predicted per call before the `deadline` (time.monotonic) is looked at, so every invocation
    makes progress."""
    total = len(indices)
    n_chunks = (total + chunk_size - 1) // chunk_size
    missing = [k for k in range(n_chunks) if checkpoints.load(k) is None]
    if not missing:
        return 0
    done = total - sum(len(indices[k * chunk_size : (k + 1) * chunk_size]) for k in missing)
    if on_progress is not None:
        on_progress(done, total)
    paid = 0
    todo = set(missing)
    for k, chunk in enumerate(_chunks(examples, indices, chunk_size)):
        if k not in todo:
            continue
        if paid and deadline is not None and time.monotonic() >= deadline:
            raise EvaluationIncomplete(done, total)
        rows = _run_chunk(
            models,
            chunk,
            tuned_model=tuned_model,
            base_model=base_model,
            config=config,
            metrics_wanted=metrics_wanted,
            judge=judge,
            settings=settings,
            reuse=_rows_by_index(reuse.load(k)) if reuse is not None else None,
        )
        checkpoints.save(k, rows_to_jsonl(rows))
        paid += 1
        done += len(chunk)
        if on_progress is not None:
            on_progress(done, total)
    return paid


def _rows_by_index(data: bytes | None) -> dict[int, dict[str, Any]]:
    rows = (json.loads(line) for line in (data or b"").splitlines())
    return {int(r["index"]): r for r in rows}


@dataclass
class _Tally:
    """What the report needs, gathered chunk by chunk (flat in the number of examples, except
    the compact bootstrap columns). Rows of `leaked` examples (found in training) also count
    apart, so the metrics can be given again on the unleaked part."""

    metrics: Sequence[str]
    leaked: frozenset[int] = frozenset()
    tuned: Columns = field(init=False)
    base: Columns = field(init=False)
    clean_tuned: Columns = field(init=False)
    clean_base: Columns = field(init=False)
    errors: dict[str, int] = field(default_factory=lambda: {"tuned": 0, "base": 0})
    error_list: list[dict[str, Any]] = field(default_factory=list)
    verdicts: list[Verdict] = field(default_factory=list)
    histograms: dict[str, dict[str, list[int]]] = field(default_factory=dict)
    worst: list[tuple[float, int, dict[str, Any]]] = field(default_factory=list)
    rows: int = 0
    simulated: bool = False
    rubric: list[dict[str, Any]] = field(default_factory=list)
    #: Billed tokens per role: calls, input, output (calls whose response gave no count apart).
    tokens: dict[str, dict[str, int]] = field(default_factory=dict)
    reused: int = 0

    def __post_init__(self) -> None:
        self.tuned, self.base = Columns(self.metrics), Columns(self.metrics)
        self.clean_tuned, self.clean_base = Columns(self.metrics), Columns(self.metrics)
        self.histograms = {m: {role: [0] * HISTOGRAM_BINS for role in ROLES} for m in self.metrics}
        self.tokens = {r: {"calls": 0, "input": 0, "output": 0, "uncounted": 0} for r in ROLES}

    def _count_tokens(self, row: Mapping[str, Any]) -> None:
        for role, got in (row.get("tokens") or {}).items():
            if role not in self.tokens:
                continue
            if got is None:
                self.reused += 1
                continue
            t = self.tokens[role]
            t["calls"] += 1
            if got[0] is None or got[1] is None:
                t["uncounted"] += 1
            else:
                t["input"] += int(got[0])
                t["output"] += int(got[1])

    def _add_verdict(self, row: Mapping[str, Any]) -> None:
        judged = row.get("judge")
        if not isinstance(judged, Mapping):
            return
        if "error" in judged:
            self.verdicts.append(Verdict(None, judged["error"]))
            self.error_list.append(
                {"index": row["index"], "model": "judge", "error": judged["error"]}
            )
            return
        judgement = PairwiseJudgement(
            judged["choice"], judged.get("explanation", ""), simulated=bool(judged.get("simulated"))
        )
        self.verdicts.append(Verdict(judgement, flipped=bool(judged.get("flipped"))))

    def add(self, row: Mapping[str, Any]) -> None:
        self.rows += 1
        if row.get("rubric"):
            self.rubric.append({"rubric": row["rubric"]})
        self.simulated = self.simulated or bool(row.get("simulated"))
        self._count_tokens(row)
        texts = {role: row.get(role) for role in ROLES}
        for role in ROLES:
            if texts[role] is None:
                self.errors[role] += 1
                self.error_list.append(
                    {"index": row["index"], "model": role, "error": row["errors"][role]}
                )
        self._add_verdict(row)
        t, b = texts["tuned"], texts["base"]
        if not isinstance(t, str) or not isinstance(b, str):
            return
        ts, bs = (
            pair_stats(t, row["reference"], self.metrics),
            pair_stats(b, row["reference"], self.metrics),
        )
        self.tuned.add(ts)
        self.base.add(bs)
        if int(row["index"]) not in self.leaked:
            self.clean_tuned.add(ts)
            self.clean_base.add(bs)
        self._add_histograms_and_worst(row)

    def _add_histograms_and_worst(self, row: Mapping[str, Any]) -> None:
        scores = row["scores"]
        for m in self.metrics:
            for role in ROLES:
                v = scores[role][m]
                self.histograms[m][role][min(int(v * HISTOGRAM_BINS), HISTOGRAM_BINS - 1)] += 1
        key = self.metrics[0] if "chrf" not in self.metrics else "chrf"
        delta = scores["tuned"][key] - scores["base"][key]
        item = (-delta, -int(row["index"]), dict(row))
        if len(self.worst) < MAX_HIGHLIGHTS:
            heapq.heappush(self.worst, item)
        elif item[:2] > self.worst[0][:2]:
            heapq.heapreplace(self.worst, item)

    def highlights(self) -> list[dict[str, Any]]:
        """The worst regressions first (largest base-minus-tuned on chrF, else the first metric)."""
        return [row for _, _, row in sorted(self.worst, key=lambda x: (-x[0], -x[1]))]

    def point_scores(self, clean: bool = False) -> dict[str, dict[str, float]]:
        tuned, base = (self.clean_tuned, self.clean_base) if clean else (self.tuned, self.base)
        if not len(tuned):
            return {}
        return {
            m: {
                "tuned": round(tuned.score(m, None), _ROUND),
                "base": round(base.score(m, None), _ROUND),
            }
            for m in self.metrics
        }


@dataclass(frozen=True)
class Judgement:
    """The verdict of one evaluation: the gates on every scored example and, when too much of
    the sample was in training, on the unleaked part too (`shared.evaluation.leakage`)."""

    passed: bool | None
    reason: str
    outcomes: list[GateOutcome]
    promotable: bool
    unleaked: tuple[bool | None, str, list[GateOutcome]] | None = None

    @property
    def verdict(self) -> str:
        return verdict_of(self.passed)


def decide(
    gates: Mapping[str, Gate],
    scores: Mapping[str, Mapping[str, float]],
    intervals: Mapping[str, MetricIntervals],
    leakage: Leakage | None,
    clean: tuple[Mapping[str, Mapping[str, float]], Mapping[str, MetricIntervals]] | None,
) -> Judgement:
    """PASSED / FAILED / NOT GATED, why, and whether auto-promotion may go ahead: passed, and
    with leakage above its threshold the unleaked part passed as well."""
    passed, reason, outcomes = check_gates(gates, scores, intervals)
    warning = leakage.warning if leakage is not None else None
    if warning is None:
        return Judgement(passed, reason, outcomes, promotable=passed is True)
    if clean is None:  # every scored example was leaked
        return Judgement(
            passed,
            f"{reason}. WARNING: {warning} No unleaked example was scored, so the model is not "
            "auto-promoted.",
            outcomes,
            promotable=False,
        )
    u = check_gates(gates, clean[0], clean[1])
    u_text = {True: "passes", False: "FAILS", None: "is not gated"}[u[0]]
    return Judgement(
        passed,
        f"{reason}. WARNING: {warning} On the unleaked part alone the model {u_text}: {u[1]}",
        outcomes,
        promotable=passed is True and u[0] is True,
        unleaked=u,
    )


def _per_metric(
    scores: Mapping[str, Mapping[str, float]],
    intervals: Mapping[str, MetricIntervals],
    outcomes: Sequence[GateOutcome],
    unleaked: Mapping[str, Mapping[str, float]],
) -> dict[str, dict[str, Any]]:
    """Per metric, what the run document and `status` show: point scores, delta, intervals,
    the gate's outcome (None: not gated) and the score on the unleaked part."""
    gate = {o.metric: o for o in outcomes}
    out: dict[str, dict[str, Any]] = {}
    for m, v in scores.items():
        iv = intervals.get(m)
        o = gate.get(m)
        out[m] = {
            "tuned": v["tuned"],
            "base": v["base"],
            "delta": round(v["tuned"] - v["base"], _ROUND),
            "tuned_ci": None if iv is None else [round(iv.tuned.low, 4), round(iv.tuned.high, 4)],
            "delta_ci": None if iv is None else [round(iv.delta.low, 4), round(iv.delta.high, 4)],
            "gate": None if o is None else verdict_of(o.passed),
            "gate_reason": None if o is None else o.reason,
            "unleaked": dict(unleaked[m]) if m in unleaked else None,
        }
    for o in outcomes:  # gates on judge scores (win_rate, rubric_*) have no interval
        if o.metric not in out:
            out[o.metric] = {
                "tuned": o.tuned, "base": o.base, "gate": verdict_of(o.passed),
                "gate_reason": o.reason,
            }  # fmt: skip
    return out


def _sample(examples: Iterable[Any], size: int, seed: str) -> Any:
    picked = pick(examples, size=size, seed=seed)
    if not picked.indices:
        found = ", ".join(f"{n} {SKIP_REASONS[c]}" for c, n in picked.skipped.items())
        raise PermanentError(
            f"no example could be evaluated: read {picked.seen} example(s)"
            + (f"; skipped {found}" if found else "")
            + ". Provide a test.jsonl (or validation.jsonl) whose examples end with a model turn "
            "that has text.",
            code="no_evaluation_examples",
        )
    return picked


def _collect(store: Checkpoints, n_chunks: int, tally: _Tally) -> bytes:
    """Every saved chunk into the tally; predictions.jsonl's bytes."""
    parts: list[bytes] = []
    for k in range(n_chunks):
        data = store.load(k)
        if data is None:  # saved a moment ago: only a store that loses objects gets here
            raise TransientError(f"chunk {k} of the evaluation vanished; it will be redone")
        parts.append(data)
        for line in data.splitlines():
            tally.add(json.loads(line))
    first_error = tally.error_list[0]["error"] if tally.error_list else None
    _too_many_failures(tally.errors, 2 * tally.rows, first_error)
    if len(tally.tuned) == 0:
        raise TransientError(
            f"no example got an answer from both models ({tally.rows} sampled); first error: "
            f"{first_error}. The evaluation will be retried.",
            code="evaluation_predictions_failed",
        )
    return b"".join(parts)


def evaluate(
    models: Models,
    examples: Iterable[Mapping[str, Any]],
    *,
    tuned_model: str,
    base_model: str,
    config: EvaluationConfig,
    seed: str,
    judge: Judge | None = None,
    checkpoints: Checkpoints | None = None,
    chunk_size: int = CHUNK_SIZE,
    deadline: float | None = None,
    on_progress: Progress | None = None,
    resamples: int | None = None,
    settings: GenerationSettings | None = None,
    training: Iterable[Any] | None = None,
    reuse: Checkpoints | None = None,
) -> EvaluationResult:
    """Compare `tuned_model` with `base_model` on a seeded sample of `examples`.

    `examples` is read twice (a re-iterable such as a list, or an object whose `__iter__` opens
    the file again). With a `judge`, every example both models answered is also judged pairwise
    (tuned = candidate, base = baseline, then the other way round). `checkpoints` keeps the
    chunks between invocations (in memory when None); past `deadline` (time.monotonic) no new
    chunk is started and `EvaluationIncomplete` is raised. `on_progress(done, total)` follows
    the chunks. `training` (decoded training lines, read once): the sample is checked for
    leakage against it. `reuse`: the chunks of an evaluation of the same tuned model on the
    same sample (the comparison with base, when this one is with production): its tuned
    answers are reused, so each example's tuned answer is paid once.

    Raises `TransientError` when more than half of a chunk's prediction calls fail (the
    platform retries later) and `PermanentError` when no example can be scored at all.
    """
    metrics_wanted = tuple(m for m in config.metrics if m in METRIC_NAMES)
    t0 = time.perf_counter()
    examples = _reiterable(examples)
    picked = _sample(examples, config.sample_size, seed)
    leakage = None
    if training is not None:
        leakage = find_leakage(list(iter_picked(examples, picked.indices)), training)
    store = checkpoints if checkpoints is not None else MemoryCheckpoints()
    t1 = time.perf_counter()
    paid = predict_all(
        models, examples, picked.indices, tuned_model=tuned_model, base_model=base_model,
        config=config, metrics_wanted=metrics_wanted, judge=judge, checkpoints=store,
        chunk_size=chunk_size, deadline=deadline, on_progress=on_progress, settings=settings,
        reuse=reuse,
    )  # fmt: skip
    t2 = time.perf_counter()
    tally = _Tally(metrics_wanted, leakage.leaked if leakage is not None else frozenset())
    n_chunks = (len(picked.indices) + chunk_size - 1) // chunk_size
    predictions = _collect(store, n_chunks, tally)
    judge_summary = summarize(tally.verdicts) if judge is not None and config.judge else None
    rubric = rubric_means(tally.rubric, config.rubric_dimensions) if config.rubric else None
    metrics = tally.point_scores()
    boot = {} if resamples is None else {"resamples": resamples}
    t_boot = time.perf_counter()
    intervals = paired_bootstrap(tally.tuned, tally.base, seed=seed, **boot)
    t_booted = time.perf_counter()
    extra = judge_scores(judge_summary, rubric)
    unleaked = tally.point_scores(clean=True) if leakage is not None else {}
    clean = None
    if leakage is not None and unleaked:
        clean_iv = paired_bootstrap(tally.clean_tuned, tally.clean_base, seed=seed, **boot)
        clean = ({**unleaked, **extra}, clean_iv)
    decision = decide(config.gates, {**metrics, **extra}, intervals, leakage, clean)
    t3 = time.perf_counter()
    report = build_report(
        picked=picked, tally=tally, config=config, metrics=metrics, intervals=intervals,
        decision=decision, leakage=leakage, unleaked=unleaked, judge_summary=judge_summary,
        rubric=rubric, models={"tuned": tuned_model, "base": base_model}, settings=settings,
        seed=seed, judged=judge is not None, chunks={"total": n_chunks, "predicted_now": paid},
        resamples=resamples or RESAMPLES,
        timings={
            "sampling_seconds": round(t1 - t0, 3),
            "prediction_seconds": round(t2 - t1, 3),
            "bootstrap_seconds": round(t_booted - t_boot, 3),
            "scoring_seconds": round(t3 - t2 - (t_booted - t_boot), 3),
            "total_seconds": round(t3 - t0, 3),
        },
        chunk_size=chunk_size,
    )  # fmt: skip
    return EvaluationResult(
        passed=decision.passed,
        reason=decision.reason,
        metrics=metrics,
        summary=report.summary,
        report=report,
        predictions=predictions,
        promotable=decision.promotable,
    )


def _summary(
    picked: Any,
    tally: _Tally,
    judge_summary: Mapping[str, Any] | None,
    rubric: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """The counts the run document keeps (`EvaluationInfo.summary`)."""
    summary: dict[str, Any] = {
        "examples_seen": picked.seen,
        "sampled": len(picked.indices),
        "scored": len(tally.tuned),
        "skipped": dict(picked.skipped),
        "prediction_errors": tally.errors,
        "simulated": tally.simulated,
    }
    if judge_summary is not None:
        summary["judge"] = judge_summary
    if rubric is not None:
        summary["rubric"] = rubric
    return summary


def build_report(
    *,
    picked: Any,
    tally: _Tally,
    config: EvaluationConfig,
    metrics: Mapping[str, Mapping[str, float]],
    intervals: Mapping[str, MetricIntervals],
    decision: Judgement,
    leakage: Leakage | None,
    unleaked: Mapping[str, Mapping[str, float]],
    judge_summary: Mapping[str, Any] | None,
    rubric: Mapping[str, Any] | None,
    models: Mapping[str, str],
    settings: GenerationSettings | None,
    seed: str,
    judged: bool,
    chunks: Mapping[str, int],
    resamples: int,
    timings: Mapping[str, float],
    chunk_size: int,
) -> EvaluationReport:
    """report.json: one linear template over what `evaluate` measured."""
    skipped_predictions = tally.rows - len(tally.tuned)
    rubric_doc = None
    if rubric is not None:
        rubric_doc = {
            "scores": rubric,
            "scale": "1 (misses the criterion) .. 5 (fully meets it)",
            "criteria": {d: DIMENSIONS[d][1] for d in config.rubric_dimensions},
        }
    summary = _summary(picked, tally, judge_summary, rubric)
    not_scored: dict[str, int] = dict(picked.skipped)
    if skipped_predictions:
        not_scored["prediction_failed"] = skipped_predictions
    return EvaluationReport(
        models=dict(models),
        # The same for both models: a fair comparison (thinking off or at its lowest).
        generation_settings=asdict(settings) if settings is not None else None,
        seed=seed,
        config={
            "sample_size": config.sample_size,
            "metrics": list(metrics),
            "max_concurrency": config.max_concurrency,
            "judge": judged,
            "gates": {k: asdict(g) for k, g in config.gates.items()},
            "chunk_size": chunk_size,
        },
        verdict=decision.verdict,
        passed=decision.passed,
        promotable=decision.promotable,
        reason=decision.reason,
        metrics={m: dict(v) for m, v in metrics.items()},
        intervals=intervals_to_dict(intervals),
        deltas={m: round(v["tuned"] - v["base"], _ROUND) for m, v in metrics.items()},
        per_metric=_per_metric(metrics, intervals, decision.outcomes, unleaked),
        leakage=leakage.to_dict() if leakage is not None else None,
        unleaked_metrics={m: dict(v) for m, v in unleaked.items()},
        unleaked_gates=(
            [o.to_dict() for o in decision.unleaked[2]] if decision.unleaked is not None else None
        ),
        interval_method=(
            f"paired bootstrap by example, {resamples} resamples, "
            "95% percentile interval, seeded by the run id"
        ),
        metric_notes={m: METRIC_NOTES[m] for m in metrics},
        gates=[o.to_dict() for o in decision.outcomes],
        summary=summary,
        not_scored=not_scored,
        skip_reasons={
            **{c: SKIP_REASONS[c] for c in picked.skipped},
            **(
                {
                    "prediction_failed": "a model gave no answer (see errors), so the pair "
                    "cannot be compared"
                }
                if skipped_predictions
                else {}
            ),
        },
        histograms=tally.histograms,
        highlights=tally.highlights(),
        errors=tally.error_list[:MAX_ERRORS_IN_REPORT],
        chunks=dict(chunks),
        # Billed tokens per role and answers reused from another evaluation (not paid again).
        tokens=tally.tokens,
        reused_answers=tally.reused,
        timings=dict(timings),
        simulated=tally.simulated,
        judge=dict(judge_summary) if judge_summary is not None else None,
        rubric=rubric_doc,
    )


def judge_scores(
    judge_summary: Mapping[str, Any] | None, rubric: Mapping[str, Any] | None
) -> dict[str, dict[str, float]]:
    """What judge gates read, shaped like the metrics: `win_rate` (tuned only; its delta is
    not meaningful and its gate allows `min` only) and `rubric_<dimension>` means."""
    out: dict[str, dict[str, float]] = {}  # absent: not computed (the gate says so)
    pairwise = (judge_summary or {}).get("pairwise") or {}
    rate = pairwise.get("win_rate")
    if rate is not None:
        out["win_rate"] = {"tuned": float(rate), "base": float(rate)}
    for dim, scores in (rubric or {}).items():
        if isinstance(scores, Mapping):
            tuned, base = scores.get("tuned"), scores.get("base")
            if tuned is not None and base is not None:
                out[f"rubric_{dim}"] = {"tuned": float(tuned), "base": float(base)}
    return out


def _attach_verdicts(
    rows: list[dict[str, Any]],
    indexes: list[int],
    verdicts: list[Verdict],
) -> None:
    """Each judged row gets `judge: {choice, explanation}` (or its error) for predictions.jsonl."""
    by_index = {row["index"]: row for row in rows}
    for index, verdict in zip(indexes, verdicts, strict=True):
        j = verdict.judgement
        if j is None:
            by_index[index]["judge"] = {"error": verdict.error}
        else:
            by_index[index]["judge"] = {
                "choice": j.choice,
                "explanation": j.explanation,
                "simulated": j.simulated,
                "flipped": verdict.flipped,
            }
