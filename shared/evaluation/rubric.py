"""A customer-service rubric: pointwise model-based scores, 1–5 per dimension, with reasons.

Why beside the overlap metrics and the pairwise judge: a support lead asks "is the answer right,
does it keep to policy, is it polite, is it in the player's language?" — four questions a chrF
score cannot separate. Each dimension is one pointwise call to the Gen AI evaluation service
(`Judge.pointwise`) with its own template in the layout of Vertex's rubric templates, on the
tuned and on the base answer, so every dimension has a delta as well as a level. Off by default
(`evaluation.rubric: true`): it costs 2 × dimensions calls per example.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from shared.evaluation.examples import EvalExample
from shared.ports import Judge

_FRAME = """\
# Instruction
You are an expert evaluator of customer-service answers for an online game. You will see the
player's conversation, the reference answer written by the support team, and an AI answer.
Rate the AI answer on one criterion only: {criterion_name}.

# Evaluation
## Criterion
{criterion}

## Rating Rubric
5: {five}
4: mostly meets the criterion, one small slip.
3: partly meets it.
2: mostly misses it.
1: {one}

## Evaluation Steps
STEP 1: Read the conversation and the reference answer.
STEP 2: Judge the AI answer against the criterion only, using the rubric.
STEP 3: Give the score and explain it in one or two sentences.

# User Inputs and AI-generated Response
## Conversation
{{prompt}}

## Reference answer
{{reference}}

## AI answer
{{response}}
"""

#: dimension -> (name, what it means, what a 5 is, what a 1 is)
DIMENSIONS: dict[str, tuple[str, str, str, str]] = {
    "correctness": (
        "correctness",
        "The answer agrees with the reference answer's facts, steps, amounts and time limits.",
        "every fact and step agrees with the reference.",
        "contradicts the reference or invents facts.",
    ),
    "policy": (
        "policy compliance",
        "The answer promises nothing the reference does not (refunds, compensation, dates), "
        "asks for no password or payment details, and sends the player only to official "
        "channels.",
        "fully within policy.",
        "makes a promise or request the support team would not.",
    ),
    "tone": (
        "tone",
        "The answer is polite, calm and empathetic, and tells the player what to do next.",
        "warm, respectful and clear about the next step.",
        "rude, dismissive or confusing.",
    ),
    "language": (
        "answering in the player's language",
        "The answer is in the language the player wrote in (Chinese for Chinese, English for "
        "English), with no switch of language.",
        "entirely in the player's language.",
        "in another language than the player's.",
    ),
}


def template(dimension: str) -> str:
    name, criterion, five, one = DIMENSIONS[dimension]
    return _FRAME.format(criterion_name=name, criterion=criterion, five=five, one=one)


def rate(
    judge: Judge, ex: EvalExample, answer: str, dimensions: Sequence[str]
) -> dict[str, dict[str, Any]]:
    """`{dimension: {score, explanation, simulated}}` or `{dimension: {error}}`; never raises
    (a failed call is recorded on the example, like a failed prediction)."""
    out: dict[str, dict[str, Any]] = {}
    for dim in dimensions:
        try:
            got = judge.pointwise(
                prompt=ex.conversation_text(),
                response=answer,
                reference=ex.reference,
                metric_prompt_template=template(dim),
            )
        except Exception as e:  # any adapter failure is recorded, never fatal
            out[dim] = {"error": f"{type(e).__name__}: {getattr(e, 'message', None) or e}"}
            continue
        out[dim] = {
            "score": round(float(got.score), 3),
            "explanation": got.explanation,
            "simulated": got.simulated,
        }
    return out


def rate_rows(
    judge: Judge,
    items: Sequence[tuple[EvalExample, Mapping[str, str | None]]],
    dimensions: Sequence[str],
    *,
    max_concurrency: int,
) -> list[dict[str, dict[str, dict[str, Any]]]]:
    """For each (example, {role: answer}) the ratings of every answered role."""
    jobs = [(i, role, ex, text) for i, (ex, answers) in enumerate(items)
            for role, text in answers.items() if text is not None]  # fmt: skip
    out: list[dict[str, dict[str, dict[str, Any]]]] = [{} for _ in items]
    if not jobs:
        return out
    with ThreadPoolExecutor(max_workers=max(1, min(max_concurrency, len(jobs)))) as pool:
        results = pool.map(lambda j: rate(judge, j[2], j[3], dimensions), jobs)
        for (i, role, _, _), ratings in zip(jobs, results, strict=True):
            out[i][role] = ratings
    return out


def means(rows: Sequence[Mapping[str, Any]], dimensions: Sequence[str]) -> dict[str, Any]:
    """Mean score per dimension and role over the rows that carry ratings, with counts."""
    sums: dict[str, dict[str, list[float]]] = {d: {"tuned": [], "base": []} for d in dimensions}
    errors = 0
    for row in rows:
        for role, ratings in (row.get("rubric") or {}).items():
            for dim, r in ratings.items():
                if dim not in sums:
                    continue
                if "score" in r:
                    sums[dim].setdefault(role, []).append(float(r["score"]))
                else:
                    errors += 1
    out: dict[str, Any] = {"errors": errors}
    for dim, by_role in sums.items():
        out[dim] = {
            role: (round(sum(v) / len(v), 3) if v else None) for role, v in by_role.items()
        } | {"rated": len(by_role.get("tuned", []))}
    return out
