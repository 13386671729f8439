"""Optional model-based judging: an autorater compares the tuned answer with the base answer.

Why beside the n-gram metrics: a tuned model that paraphrases the reference scores poorly on
BLEU / chrF although a person would prefer it; a pairwise judge catches that. It is off by
default (`evaluation.judge: true` turns it on) because every judged example is one more paid
call to the Gen AI evaluation service.

Judging never decides the run and never throws an evaluation away: a call that keeps failing is
counted as an error on that example, like a failed prediction, and the summary says so.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from shared.evaluation.examples import EvalExample
from shared.ports import Judge, PairwiseJudgement

CHOICES = ("CANDIDATE", "BASELINE", "TIE")

#: Pairwise rubric in the layout of Vertex's own templates (Response A = baseline, B =
#: candidate; the service maps "A" / "B" / "SAME" to BASELINE / CANDIDATE / TIE). The reference
#: is the dataset's answer, so the autorater judges correctness for this game, not style alone.
DEFAULT_PAIRWISE_TEMPLATE = """\
# Instruction
You are an expert evaluator of customer-service answers for an online game. You will see the
player's message, the reference answer written by the support team, and two AI answers
(Response A and Response B). Decide which AI answer serves the player better.

# Evaluation
## Criteria
Correctness: agrees with the reference answer's facts, steps, amounts and time limits.
Helpfulness: tells the player exactly what to do next.
Tone: polite and in the player's language.

## Rating Rubric
"A": Response A is better than Response B.
"SAME": Response A and Response B are equally good.
"B": Response B is better than Response A.

## Evaluation Steps
STEP 1: Compare each response with the reference answer using the criteria.
STEP 2: Output your preference of "A", "SAME" or "B" to the pairwise_choice field.
STEP 3: Output your reasoning in the explanation field.

# User Inputs and AI-generated Responses
## Player message
{prompt}

## Reference answer
{reference}

## Response A
{baseline_model_response}

## Response B
{response}
"""


#: Pinned and recorded with every report: the Gen AI evaluation service's pairwise metric with
#: this repository's template (its version changes whenever the template text does).
JUDGE_METRIC = "pairwise_metric_input (custom metric_prompt_template)"
JUDGE_TEMPLATE_VERSION = "game-cs-pairwise-1"

#: What a judgement in the swapped order means in the original one.
_SWAP = {"CANDIDATE": "BASELINE", "BASELINE": "CANDIDATE", "TIE": "TIE"}


def judge_identity(template: str = DEFAULT_PAIRWISE_TEMPLATE) -> dict[str, str]:
    """The judge's metric, template version and a digest of the exact template text."""
    digest = hashlib.sha256(template.encode()).hexdigest()[:16]
    return {"metric": JUDGE_METRIC, "template_version": JUDGE_TEMPLATE_VERSION, "sha256": digest}


@dataclass(frozen=True)
class Verdict:
    """One example's pairwise outcome: the judgement, or `error` when every attempt failed.
    `flipped`: the two orders disagreed (the judgement is then a TIE)."""

    judgement: PairwiseJudgement | None
    error: str | None = None
    flipped: bool = False


def _describe(exc: BaseException) -> str:
    msg = getattr(exc, "message", None) or str(exc) or "(no message)"
    return f"{type(exc).__name__}: {msg}"


def _ask(
    judge: Judge, ex: EvalExample, candidate: str, baseline: str, template: str
) -> PairwiseJudgement | str:
    """One call; the judgement, or the error text (any adapter failure is recorded on the
    example, never fatal)."""
    try:
        got = judge.pairwise(
            prompt=ex.conversation_text(),
            response=candidate,
            baseline_response=baseline,
            reference=ex.reference,
            metric_prompt_template=template,
        )
    except Exception as e:
        return _describe(e)
    if got.choice not in CHOICES:
        return f"judge returned an unknown choice {got.choice!r}"
    return got


def judge_one(
    judge: Judge,
    ex: EvalExample,
    tuned: str,
    base: str,
    *,
    template: str,
) -> Verdict:
    """Asked in both orders (tuned as candidate, then as baseline), because autoraters favour
    one position: a preference that flips with the order is no preference, so it counts as a
    TIE and as a flip. The adapter retries a call; what still fails is recorded on the example
    (see `shared.evaluation.predict`)."""
    first = _ask(judge, ex, tuned, base, template)
    if isinstance(first, str):
        return Verdict(None, first)
    second = _ask(judge, ex, base, tuned, template)
    if isinstance(second, str):
        return Verdict(None, second)
    swapped = _SWAP[second.choice]
    if swapped == first.choice:
        return Verdict(first)
    why = (
        f"position flip: {first.choice} with the tuned answer second (Response B), "
        f"{swapped} with it first; counted as a tie. {first.explanation}"
    )
    tie = PairwiseJudgement("TIE", why.strip(), simulated=first.simulated or second.simulated)
    return Verdict(tie, flipped=True)


def judge_pairs(
    judge: Judge,
    items: Sequence[tuple[EvalExample, str, str]],
    *,
    max_concurrency: int,
    template: str = DEFAULT_PAIRWISE_TEMPLATE,
) -> list[Verdict]:
    """One verdict per `(example, tuned_text, base_text)`, in input order, at most
    `max_concurrency` calls in flight."""
    if not items:
        return []
    with ThreadPoolExecutor(max_workers=max(1, min(max_concurrency, len(items)))) as pool:
        return list(
            pool.map(
                lambda it: judge_one(judge, it[0], it[1], it[2], template=template),
                items,
            )
        )


def summarize(verdicts: Sequence[Verdict]) -> dict[str, Any]:
    """`{pairwise: {candidate_wins, baseline_wins, ties, judged, errors, win_rate,
    position_flips, flip_rate}, judge: {metric, template_version, sha256}, simulated}`.

    win_rate = (candidate wins + ties / 2) / judged: 0.5 means "no better than the base model";
    None when nothing could be judged (not 0, which would read as "always worse"). A position
    flip is a tie; flip_rate = flips / judged says how much the judge leans on position.
    """
    judged = [v.judgement for v in verdicts if v.judgement is not None]
    counts = {c: sum(1 for j in judged if j.choice == c) for c in CHOICES}
    n = len(judged)
    flips = sum(1 for v in verdicts if v.flipped)
    return {
        "pairwise": {
            "candidate_wins": counts["CANDIDATE"],
            "baseline_wins": counts["BASELINE"],
            "ties": counts["TIE"],
            "judged": n,
            "errors": len(verdicts) - n,
            "win_rate": round((counts["CANDIDATE"] + counts["TIE"] / 2) / n, 6) if n else None,
            "position_flips": flips,
            "flip_rate": round(flips / n, 6) if n else None,
            "orders": "both (tuned as Response B, then as Response A)",
        },
        "judge": judge_identity(),
        "simulated": any(j.simulated for j in judged),
    }
