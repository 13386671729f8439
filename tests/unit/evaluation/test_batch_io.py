"""Batch inference files: requests keyed by their question, answers found again by that key
whatever order the output comes in."""

from __future__ import annotations

import json

import pytest

from shared.errors import PermanentError
from shared.evaluation.batch_io import (
    KEY_LABEL,
    BatchAnswers,
    parse_output,
    request_key,
    request_lines,
)
from shared.evaluation.examples import EvalExample
from shared.ports import GenerationSettings


def ex(i: int, q: str) -> EvalExample:
    return EvalExample(i, ({"role": "user", "parts": [{"text": q}]},), None, "ref", q)


def test_one_request_per_distinct_question_with_the_evaluations_settings() -> None:
    lines = list(
        request_lines(
            [ex(0, "a"), ex(1, "b"), ex(2, "a")], GenerationSettings(thinking_level="MINIMAL")
        )
    )
    reqs = [json.loads(x)["request"] for x in lines]
    assert len(reqs) == 2  # the repeated question is asked once
    assert reqs[0]["generationConfig"] == {"thinkingConfig": {"thinkingLevel": "MINIMAL"}}
    assert reqs[0]["labels"][KEY_LABEL] == request_key(ex(0, "a").contents, None)
    assert len(reqs[0]["labels"][KEY_LABEL]) <= 63  # a label value's limit


def _row(q: str, text: str | None, status: str = "", *, labelled: bool = True) -> bytes:
    contents = [{"role": "user", "parts": [{"text": q, "file_data": None}]}]
    request: dict[str, object] = {"contents": contents}
    if labelled:
        request["labels"] = {KEY_LABEL: request_key(ex(0, q).contents, None)}
    response = None
    if text is not None:
        response = {
            "candidates": [
                {"content": {"parts": [{"text": "thinking", "thought": True}, {"text": text}]}}
            ],
            "usageMetadata": {
                "promptTokenCount": 7,
                "candidatesTokenCount": 3,
                "thoughtsTokenCount": 2,
            },
        }
    return json.dumps({"status": status, "request": request, "response": response}).encode()


def test_answers_are_found_by_question_in_any_order_and_errors_stay_errors() -> None:
    out = parse_output(
        [_row("b", "B!"), b"not json", _row("a", "A!", labelled=False), _row("c", None, "quota")]
    )
    answers = BatchAnswers({"m": out})
    got = answers.generate("m", ex(0, "a").contents)
    assert got.text == "A!" and (got.input_tokens, got.output_tokens) == (7, 5)
    assert answers.generate("m", ex(0, "b").contents).text == "B!"
    with pytest.raises(PermanentError, match="quota"):
        answers.generate("m", ex(0, "c").contents)
    with pytest.raises(PermanentError, match="no answer"):
        answers.generate("m", ex(0, "zzz").contents)
    with pytest.raises(PermanentError, match="no batch job"):
        answers.generate("other", ex(0, "a").contents)
