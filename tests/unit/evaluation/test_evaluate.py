"""`evaluate` end to end against a fake `Models` that honours the port."""

from __future__ import annotations

import json
from typing import Any

import pytest

from shared.errors import PermanentError, QuotaExceeded, TransientError
from shared.evaluation import EvaluationResult, evaluate
from shared.evaluation.gates import NO_GATES
from shared.ports import Models
from shared.tuning_config import EvaluationConfig, Gate

from .fakes import FakeModels, always, example

TUNED, BASE = "projects/p/locations/l/endpoints/tuned", "gemini-3.5-flash"
QA = [
    ("怎么领取每日奖励？", "登录游戏后在活动页面点击领取即可。"),
    ("账号被封了怎么办？", "请提交申诉表单，我们会在三个工作日内处理。"),
    ("How do I reset my password?", "Tap 'Forgot password' on the login screen."),
    ("充值没到账。", "请提供订单号，我们会为您核实。"),
    ("游戏闪退怎么办？", "请清除缓存并更新到最新版本后重试。"),
    ("Can I change my username?", "Yes, once every 30 days in Settings."),
]
LINES = [example(q, a) for q, a in QA]


def _fake(**kw: Any) -> FakeModels:
    tuned = {q: a for q, a in QA}
    base = {q: "您好，请问还有什么可以帮您？" for q, _ in QA}
    return FakeModels(answers={TUNED: tuned, BASE: base}, **kw)


def _run(models: Models, lines: list[Any] = LINES, **cfg: Any) -> EvaluationResult:
    return evaluate(
        models,
        lines,
        tuned_model=TUNED,
        base_model=BASE,
        config=EvaluationConfig(**{"sample_size": 50, "max_concurrency": 4, **cfg}),
        seed="run-abc",
    )


def test_tuned_beats_base_and_the_gates_and_artifacts_say_so() -> None:
    fake = _fake()
    assert isinstance(fake, Models)
    gates = {"chrf": Gate(min=0.3), "rouge_l": Gate(min_delta=0.05)}
    res = _run(fake, gates=gates)
    assert res.metrics["exact_match"] == {"tuned": 1.0, "base": 0.0}
    assert set(res.metrics) == {"exact_match", "bleu", "chrf", "rouge_l"}
    assert all(v["tuned"] == 1.0 and v["base"] < 0.2 for v in res.metrics.values())
    assert res.passed
    assert res.reason.startswith("chrf 1.000 >= 0.300; rouge_l delta +")
    assert res.summary == {
        "examples_seen": 6, "sampled": 6, "scored": 6, "skipped": {},
        "prediction_errors": {"tuned": 0, "base": 0}, "simulated": False,
    }  # fmt: skip
    report = json.loads(res.report_json())
    assert report["models"] == {"tuned": TUNED, "base": BASE}
    assert report["config"]["gates"] == {
        "chrf": {"min": 0.3, "min_delta": None, "use_lower_bound": False},
        "rouge_l": {"min": None, "min_delta": 0.05, "use_lower_bound": False},
    }
    assert [g["passed"] for g in report["gates"]] == [True, True]
    assert report["metrics"] == res.metrics and report["simulated"] is False
    assert set(report["timings"]) >= {"prediction_seconds", "total_seconds"}

    raw = res.predictions_jsonl()
    assert "怎么领取每日奖励？".encode() in raw  # ensure_ascii=False
    rows = [json.loads(line) for line in raw.splitlines()]
    assert [r["index"] for r in rows] == list(range(6))
    assert rows[0]["prompt"] == QA[0][0] and rows[0]["reference"] == QA[0][1]
    assert rows[0]["tuned"] == QA[0][1] and rows[0]["base"].startswith("您好")
    assert rows[0]["scores"]["tuned"]["chrf"] == 1.0 and rows[0]["scores"]["base"]["chrf"] < 0.3
    assert rows[0]["errors"] == {"tuned": None, "base": None}


def test_failing_gate_gives_passed_false_with_reason() -> None:
    res = _run(_fake(), gates={"bleu": Gate(min_delta=1.0)})
    assert not res.passed
    assert res.reason.startswith("failed: bleu delta +") and "short by" in res.reason


def test_only_configured_metrics_are_computed() -> None:
    res = _run(_fake(), metrics=("chrf",))
    assert list(res.metrics) == ["chrf"]
    assert res.reason == NO_GATES and res.passed is None and res.verdict == "NOT GATED"


def test_many_concurrent_calls_keep_input_order_within_the_bound() -> None:
    lines = [example(f"问题{i}", f"回答{i}") for i in range(40)]
    answers = {f"问题{i}": f"回答{i}" for i in range(40)}
    fake = FakeModels(answers={TUNED: answers}, jitter_seconds=0.004)
    res = _run(fake, lines, max_concurrency=4)
    rows = [json.loads(line) for line in res.predictions_jsonl().splitlines()]
    assert [r["index"] for r in rows] == list(range(40))
    assert all(r["tuned"] == f"回答{r['index']}" for r in rows)
    assert 1 < fake.max_in_flight <= 4
    assert res.metrics["exact_match"]["tuned"] == 1.0


def test_sample_size_and_seed_pick_the_same_examples_every_time() -> None:
    lines = [example(f"q{i}", f"a{i}") for i in range(30)]
    first = _run(_fake(), lines, sample_size=5)
    again = _run(_fake(), lines, sample_size=5)
    assert first.summary["sampled"] == 5 and first.summary["examples_seen"] == 30
    assert first.predictions_jsonl() == again.predictions_jsonl()


def test_a_call_is_made_once_the_adapter_owns_retries() -> None:
    """One retry layer per call: what an adapter still raises after its own backoff is recorded
    on the example, never retried again here (docs/ARCHITECTURE.md)."""
    q = QA[1][0]
    fake = _fake(failures={(TUNED, q): [QuotaExceeded("429")]})
    res = _run(fake)
    assert fake.attempts[(TUNED, q)] == 1
    assert res.summary["prediction_errors"] == {"tuned": 1, "base": 0}


def test_a_failing_call_is_recorded_not_fatal() -> None:
    q_transient, q_bad = QA[0][0], QA[2][0]
    fake = _fake(
        failures={
            (TUNED, q_transient): [always(TransientError("deadline exceeded"))],
            (BASE, q_bad): [ValueError("400 invalid argument")],
        }
    )
    res = _run(fake)
    assert fake.attempts[(TUNED, q_transient)] == 1
    assert fake.attempts[(BASE, q_bad)] == 1
    assert res.summary["prediction_errors"] == {"tuned": 1, "base": 1}
    assert res.summary["sampled"] == 6 and res.summary["scored"] == 4
    rows = [json.loads(line) for line in res.predictions_jsonl().splitlines()]
    assert rows[0]["tuned"] is None and rows[0]["scores"]["tuned"] is None
    assert rows[0]["errors"]["tuned"] == "TransientError: deadline exceeded"
    assert rows[2]["errors"]["base"] == "ValueError: 400 invalid argument"
    assert rows[2]["scores"]["tuned"]["exact_match"] == 1.0
    assert [e["index"] for e in res.report.errors] == [0, 2]


def test_more_than_half_of_the_calls_failing_raises_transient() -> None:
    fake = _fake(fail_model={TUNED: PermanentError("endpoint not found")})
    fake.failures[(BASE, QA[0][0])] = [RuntimeError("boom")]
    with pytest.raises(TransientError, match=r"7 of 12 prediction calls failed") as info:
        _run(fake)
    assert "endpoint not found" in info.value.message


def test_exactly_half_failing_is_still_an_evaluation_on_the_rest() -> None:
    broken = [q for q, _ in QA[:3]]
    fake = _fake(
        failures={(m, q): [always(ValueError("bad"))] for m in (TUNED, BASE) for q in broken}
    )
    res = _run(fake)
    assert res.summary["prediction_errors"] == {"tuned": 3, "base": 3}
    assert res.summary["scored"] == 3 and res.metrics["exact_match"]["tuned"] == 1.0


def test_no_example_answered_by_both_models_raises_transient() -> None:
    fake = _fake(fail_model={TUNED: PermanentError("endpoint not found")})
    with pytest.raises(TransientError, match="no example got an answer from both models"):
        _run(fake)


def test_simulated_generations_are_labelled() -> None:
    res = _run(_fake(simulated=True))
    assert res.simulated and res.summary["simulated"] and res.report.simulated


def test_system_instruction_reaches_the_model_in_both_spellings() -> None:
    si = {"parts": [{"text": "你是游戏客服。"}]}
    lines = [example(*QA[0], systemInstruction=si), example(*QA[1], system_instruction=si)]
    fake = _fake()
    _run(fake, lines)
    assert [c[2] for c in fake.calls] == [si] * 4


def test_no_scorable_example_is_a_permanent_error_that_says_what_to_do() -> None:
    lines: list[Any] = [{"contents": []}, example("q", "")]
    with pytest.raises(PermanentError, match="no example could be evaluated") as info:
        _run(_fake(), lines)
    assert "1 no `contents` list of turns" in info.value.message
    assert "test.jsonl" in info.value.message
