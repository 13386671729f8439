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
from shared.evaluation.gates import check_gates
from shared.evaluation.judging import Verdict, judge_pairs, summarize
from shared.evaluation.metrics import METRIC_NAMES, pair_stats, sentence_scores
from shared.evaluation.predict import Prediction, predict
from shared.evaluation.result import EvaluationResult
from shared.evaluation.rubric import DIMENSIONS, rate_rows
from shared.evaluation.rubric import means as rubric_means
from shared.evaluation.stats import RESAMPLES, Columns, intervals_to_dict, paired_bootstrap
from shared.ports import GenerationSettings, Judge, Models, PairwiseJudgement
from shared.tuning_config import EvaluationConfig

REPORT_VERSION = 2
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
    return {
        "index": ex.index,
        "prompt": ex.prompt_text,
        "reference": ex.reference,
        **{role: preds[role].text for role in ROLES},
        "scores": scores,
        "errors": {role: preds[role].error for role in ROLES},
        "simulated": any(p.simulated for p in preds.values()),
    }


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
) -> list[dict[str, Any]]:
    """Predict, score and (optionally) judge one chunk: its rows of predictions.jsonl.

    Raises `TransientError` when more than half of the chunk's calls failed (nothing is saved,
    so the retry pays only for this chunk)."""
    tuned_preds, base_preds = predict(
        models,
        (tuned_model, base_model),
        chunk,
        max_concurrency=config.max_concurrency,
        settings=settings,
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
) -> int:
    """Make sure every chunk of the sample is saved; returns how many chunks this call paid for.

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
        )
        checkpoints.save(k, rows_to_jsonl(rows))
        paid += 1
        done += len(chunk)
        if on_progress is not None:
            on_progress(done, total)
    return paid


@dataclass
class _Tally:
    """What the report needs, gathered chunk by chunk (flat in the number of examples, except
    the compact bootstrap columns)."""

    metrics: Sequence[str]
    tuned: Columns = field(init=False)
    base: Columns = field(init=False)
    errors: dict[str, int] = field(default_factory=lambda: {"tuned": 0, "base": 0})
    error_list: list[dict[str, Any]] = field(default_factory=list)
    verdicts: list[Verdict] = field(default_factory=list)
    histograms: dict[str, dict[str, list[int]]] = field(default_factory=dict)
    worst: list[tuple[float, int, dict[str, Any]]] = field(default_factory=list)
    rows: int = 0
    simulated: bool = False
    rubric: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.tuned, self.base = Columns(self.metrics), Columns(self.metrics)
        self.histograms = {m: {role: [0] * HISTOGRAM_BINS for role in ROLES} for m in self.metrics}

    def add(self, row: Mapping[str, Any]) -> None:
        self.rows += 1
        if row.get("rubric"):
            self.rubric.append({"rubric": row["rubric"]})
        self.simulated = self.simulated or bool(row.get("simulated"))
        texts = {role: row.get(role) for role in ROLES}
        for role in ROLES:
            if texts[role] is None:
                self.errors[role] += 1
                self.error_list.append(
                    {"index": row["index"], "model": role, "error": row["errors"][role]}
                )
        judged = row.get("judge")
        if isinstance(judged, Mapping):
            if "error" in judged:
                self.verdicts.append(Verdict(None, judged["error"]))
                self.error_list.append(
                    {"index": row["index"], "model": "judge", "error": judged["error"]}
                )
            else:
                self.verdicts.append(
                    Verdict(
                        PairwiseJudgement(
                            judged["choice"],
                            judged.get("explanation", ""),
                            simulated=bool(judged.get("simulated")),
                        )
                    )
                )
        t, b = texts["tuned"], texts["base"]
        if not isinstance(t, str) or not isinstance(b, str):
            return
        self.tuned.add(pair_stats(t, row["reference"], self.metrics))
        self.base.add(pair_stats(b, row["reference"], self.metrics))
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
) -> EvaluationResult:
    """Compare `tuned_model` with `base_model` on a seeded sample of `examples`.

    `examples` is read twice (a re-iterable such as a list, or an object whose `__iter__` opens
    the file again). With a `judge`, every example both models answered is also judged pairwise
    (tuned = candidate, base = baseline). `checkpoints` keeps the chunks between invocations
    (in memory when None); past `deadline` (time.monotonic) no new chunk is started and
    `EvaluationIncomplete` is raised. `on_progress(done, total)` follows the chunks.

    Raises `TransientError` when more than half of a chunk's prediction calls fail (the
    platform retries later) and `PermanentError` when no example can be scored at all.
    """
    metrics_wanted = tuple(m for m in config.metrics if m in METRIC_NAMES)
    t0 = time.perf_counter()
    examples = _reiterable(examples)
    picked = pick(examples, size=config.sample_size, seed=seed)
    if not picked.indices:
        found = ", ".join(f"{n} {SKIP_REASONS[c]}" for c, n in picked.skipped.items())
        raise PermanentError(
            f"no example could be evaluated: read {picked.seen} example(s)"
            + (f"; skipped {found}" if found else "")
            + ". Provide a test.jsonl (or validation.jsonl) whose examples end with a model turn "
            "that has text.",
            code="no_evaluation_examples",
        )
    store = checkpoints if checkpoints is not None else MemoryCheckpoints()
    t1 = time.perf_counter()
    paid = predict_all(
        models,
        examples,
        picked.indices,
        tuned_model=tuned_model,
        base_model=base_model,
        config=config,
        metrics_wanted=metrics_wanted,
        judge=judge,
        checkpoints=store,
        chunk_size=chunk_size,
        deadline=deadline,
        on_progress=on_progress,
        settings=settings,
    )
    t2 = time.perf_counter()

    tally = _Tally(metrics_wanted)
    parts: list[bytes] = []
    n_chunks = (len(picked.indices) + chunk_size - 1) // chunk_size
    for k in range(n_chunks):
        data = store.load(k)
        if data is None:  # saved a moment ago: only a store that loses objects gets here
            raise TransientError(f"chunk {k} of the evaluation vanished; it will be redone")
        parts.append(data)
        for line in data.splitlines():
            tally.add(json.loads(line))
    predictions = b"".join(parts)
    del parts

    first_error = tally.error_list[0]["error"] if tally.error_list else None
    _too_many_failures(tally.errors, 2 * tally.rows, first_error)
    n_scored = len(tally.tuned)
    if n_scored == 0:
        raise TransientError(
            f"no example got an answer from both models ({tally.rows} sampled); first error: "
            f"{first_error}. The evaluation will be retried.",
            code="evaluation_predictions_failed",
        )
    judge_summary = summarize(tally.verdicts) if judge is not None and config.judge else None
    rubric = rubric_means(tally.rubric, config.rubric_dimensions) if config.rubric else None
    metrics = {
        m: {
            "tuned": round(tally.tuned.score(m, None), _ROUND),
            "base": round(tally.base.score(m, None), _ROUND),
        }
        for m in metrics_wanted
    }
    t_boot = time.perf_counter()
    intervals = paired_bootstrap(
        tally.tuned,
        tally.base,
        seed=seed,
        **({} if resamples is None else {"resamples": resamples}),
    )
    t_booted = time.perf_counter()
    passed, reason, outcomes = check_gates(
        config.gates, {**metrics, **judge_scores(judge_summary, rubric)}, intervals
    )
    t3 = time.perf_counter()

    skipped_predictions = tally.rows - n_scored
    summary: dict[str, Any] = {
        "examples_seen": picked.seen,
        "sampled": len(picked.indices),
        "scored": n_scored,
        "skipped": dict(picked.skipped),
        "prediction_errors": tally.errors,
        "simulated": tally.simulated,
    }
    if judge_summary is not None:
        summary["judge"] = judge_summary
    if rubric is not None:
        summary["rubric"] = rubric
    not_scored: dict[str, int] = {c: n for c, n in picked.skipped.items()}
    if skipped_predictions:
        not_scored["prediction_failed"] = skipped_predictions
    report: dict[str, Any] = {
        "version": REPORT_VERSION,
        "models": {"tuned": tuned_model, "base": base_model},
        # The same for both models: a fair comparison (thinking off or at its lowest).
        "generation_settings": asdict(settings) if settings is not None else None,
        "seed": seed,
        "config": {
            "sample_size": config.sample_size,
            "metrics": list(metrics_wanted),
            "max_concurrency": config.max_concurrency,
            "judge": judge is not None,
            "gates": {k: asdict(g) for k, g in config.gates.items()},
            "chunk_size": chunk_size,
        },
        "passed": passed,
        "reason": reason,
        "metrics": metrics,
        "intervals": intervals_to_dict(intervals),
        "deltas": {m: round(v["tuned"] - v["base"], _ROUND) for m, v in metrics.items()},
        "interval_method": (
            f"paired bootstrap by example, {resamples or RESAMPLES} resamples, "
            "95% percentile interval, seeded by the run id"
        ),
        "metric_notes": {m: METRIC_NOTES[m] for m in metrics_wanted},
        "gates": [o.to_dict() for o in outcomes],
        "summary": summary,
        "not_scored": not_scored,
        "skip_reasons": {
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
        "histograms": tally.histograms,
        "highlights": tally.highlights(),
        "errors": tally.error_list[:MAX_ERRORS_IN_REPORT],
        "chunks": {"total": n_chunks, "predicted_now": paid},
        "timings": {
            "sampling_seconds": round(t1 - t0, 3),
            "prediction_seconds": round(t2 - t1, 3),
            "bootstrap_seconds": round(t_booted - t_boot, 3),
            "scoring_seconds": round(t3 - t2 - (t_booted - t_boot), 3),
            "total_seconds": round(t3 - t0, 3),
        },
        "simulated": tally.simulated,
    }
    if judge_summary is not None:
        report["judge"] = judge_summary
    if rubric is not None:
        report["rubric"] = {
            "scores": rubric,
            "scale": "1 (misses the criterion) .. 5 (fully meets it)",
            "criteria": {d: DIMENSIONS[d][1] for d in config.rubric_dimensions},
        }
    return EvaluationResult(
        passed=passed,
        reason=reason,
        metrics=metrics,
        summary=summary,
        report=report,
        predictions=predictions,
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
            }
