"""Chunked, resumable evaluation: a deadline or a crash keeps the saved chunks, the next call
pays only for what is missing, and the result equals an uninterrupted run's."""

from __future__ import annotations

import time
from typing import Any

import pytest

from shared.evaluation import evaluate
from shared.evaluation.chunks import MemoryCheckpoints
from shared.evaluation.runner import EvaluationIncomplete
from shared.tuning_config import EvaluationConfig

from .fakes import FakeModels, example

TUNED, BASE = "projects/p/locations/l/endpoints/t", "gemini-2.5-flash"
QA = [(f"第{i}个问题：充值没到账怎么办？", f"请提供订单号{i}，我们会核实。") for i in range(10)]
LINES = [example(q, a) for q, a in QA]


class Crash(BaseException):
    """What a killed process looks like to the code above it: nothing catches it."""


def _fake(**kw: Any) -> FakeModels:
    return FakeModels(answers={TUNED: dict(QA), BASE: {q: "您好。" for q, _ in QA}}, **kw)


def _run(fake: FakeModels, store: MemoryCheckpoints, **kw: Any) -> Any:
    return evaluate(
        fake,
        LINES,
        tuned_model=TUNED,
        base_model=BASE,
        config=EvaluationConfig(sample_size=10, max_concurrency=1),
        seed="s",
        checkpoints=store,
        chunk_size=3,
        resamples=50,
        **kw,
    )


def test_a_passed_deadline_stops_after_one_chunk_and_the_rest_is_paid_once() -> None:
    whole = _run(_fake(), MemoryCheckpoints())
    fake, store, seen = _fake(), MemoryCheckpoints(), []
    progress = lambda done, total: seen.append((done, total))  # noqa: E731
    for expected in (3, 6, 9):
        with pytest.raises(EvaluationIncomplete) as info:
            _run(fake, store, deadline=time.monotonic() - 1, on_progress=progress)
        assert (info.value.done, info.value.total) == (expected, 10)
        assert len(fake.calls) == 2 * expected  # every example on both models, once
    res = _run(fake, store, deadline=time.monotonic() - 1, on_progress=progress)
    assert len(fake.calls) == 20 and store.saves == 4
    assert res.predictions_jsonl() == whole.predictions_jsonl()
    assert res.metrics == whole.metrics and res.report.intervals == whole.report.intervals
    assert seen[-1] == (10, 10) and (3, 10) in seen
    again = _run(fake, store)  # a redelivery after the end: reads, pays nothing
    assert len(fake.calls) == 20 and again.report.chunks["predicted_now"] == 0


def test_a_crash_mid_chunk_loses_at_most_that_chunk() -> None:
    crash_at = QA[7][0]  # example 7 is in chunk 2 (examples 6..8)
    fake, store = _fake(failures={(BASE, crash_at): [Crash()]}), MemoryCheckpoints()
    with pytest.raises(Crash):
        _run(fake, store)
    assert sorted(store.chunks) == [0, 1]
    before = len(fake.calls)
    _run(fake, store)
    repaid = len(fake.calls) - before - 2 * (10 - 6)  # beyond the never-paid examples 6..9
    assert 0 <= repaid <= 2 * 3  # at most one chunk of both models again
    assert {(m, p) for m, p, _ in fake.calls} == {(m, q) for m in (TUNED, BASE) for q, _ in QA}
