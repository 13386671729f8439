"""The optional pairwise judge inside `evaluate`: same examples as the metrics, bounded fan-out,
failures recorded per example, counts and win rate in the summary and the report."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest

from shared.errors import PermanentError, TransientError
from shared.evaluation import DEFAULT_PAIRWISE_TEMPLATE, EvaluationResult, evaluate
from shared.evaluation.judging import Verdict, judge_identity, judge_one, summarize
from shared.ports import Judge, PairwiseJudgement, PointwiseJudgement
from shared.simulator import SimulatedJudge
from shared.tuning_config import EvaluationConfig

from .fakes import FakeModels, always, example

TUNED, BASE = "projects/p/locations/l/endpoints/tuned", "gemini-3.5-flash"
QA = [
    ("怎么领取每日奖励？", "登录游戏后在活动页面点击领取即可。"),
    ("账号被封了怎么办？", "请提交申诉表单，我们会在三个工作日内处理。"),
    ("充值没到账。", "请提供订单号，我们会为您核实。"),
    ("游戏闪退怎么办？", "请清除缓存并更新到最新版本后重试。"),
]
LINES = [example(q, a) for q, a in QA]
GENERIC = "您好，请问还有什么可以帮您？"


@dataclass
class FlakyJudge:
    """A `Judge` that delegates to the simulator but can fail per prompt and tracks calls."""

    failures: dict[str, list[BaseException | Any]] = field(default_factory=dict)
    delay: float = 0.0
    calls: list[str] = field(default_factory=list)
    max_in_flight: int = 0
    _in_flight: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _inner: SimulatedJudge = field(default_factory=SimulatedJudge)

    def pointwise(
        self, *, prompt: str, response: str, reference: str | None, metric_prompt_template: str
    ) -> PointwiseJudgement:
        return self._inner.pointwise(
            prompt=prompt,
            response=response,
            reference=reference,
            metric_prompt_template=metric_prompt_template,
        )

    def pairwise(
        self,
        *,
        prompt: str,
        response: str,
        baseline_response: str,
        reference: str | None,
        metric_prompt_template: str,
    ) -> PairwiseJudgement:
        # The judge sees the whole conversation; these tests key on its last user line.
        key = prompt.rsplit("\n", 1)[-1].removeprefix("user: ")
        with self._lock:
            self.calls.append(key)
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)
            pending = self.failures.get(key) or []
            exc = None
            if pending:
                item = pending[0]
                if not callable(item):
                    pending.pop(0)
                exc = item() if callable(item) else item
        try:
            if self.delay:
                time.sleep(self.delay)
            if exc is not None:
                raise exc
            return self._inner.pairwise(
                prompt=prompt,
                response=response,
                baseline_response=baseline_response,
                reference=reference,
                metric_prompt_template=metric_prompt_template,
            )
        finally:
            with self._lock:
                self._in_flight -= 1


def _models(tuned: Mapping[str, str] | None = None, **kw: Any) -> FakeModels:
    tuned = dict(tuned if tuned is not None else QA)
    return FakeModels(answers={TUNED: tuned, BASE: {q: GENERIC for q, _ in QA}}, **kw)


def _run(models: FakeModels, judge: Judge | None, lines: list[Any] = LINES, **cfg: Any) -> Any:
    return evaluate(
        models,
        lines,
        tuned_model=TUNED,
        base_model=BASE,
        config=EvaluationConfig(
            **{"sample_size": 50, "max_concurrency": 4, "judge": judge is not None, **cfg}
        ),
        seed="run-judge",
        judge=judge,
    )


def test_without_a_judge_nothing_is_judged() -> None:
    res: EvaluationResult = _run(_models(), None)
    assert "judge" not in res.summary and res.report.judge is None
    assert res.report.config["judge"] is False
    assert all("judge" not in row for row in res.rows)


def test_tuned_answers_matching_the_references_win_every_comparison() -> None:
    res: EvaluationResult = _run(_models(), SimulatedJudge())
    expected = {
        "pairwise": {
            "candidate_wins": 4, "baseline_wins": 0, "ties": 0,
            "judged": 4, "errors": 0, "win_rate": 1.0,
            "position_flips": 0, "flip_rate": 0.0,
            "orders": "both (tuned as Response B, then as Response A)",
        },
        "judge": judge_identity(),
        "simulated": True,
    }  # fmt: skip
    assert res.summary["judge"] == expected
    report = json.loads(res.report_json())
    assert report["judge"] == expected and report["config"]["judge"] is True
    rows = [json.loads(line) for line in res.predictions_jsonl().splitlines()]
    assert [r["judge"]["choice"] for r in rows] == ["CANDIDATE"] * 4
    assert "chrF" in rows[0]["judge"]["explanation"]


def test_mixed_verdicts_give_the_win_rate_with_half_ties() -> None:
    # Tuned: right, generic (ties with base), an unrelated wrong answer, right.
    tuned = {QA[0][0]: QA[0][1], QA[1][0]: GENERIC, QA[2][0]: "请清除缓存并更新到最新版本后重试。"}
    tuned[QA[3][0]] = QA[3][1]
    # The base model happens to know the third answer.
    models = _models(tuned)
    models.answers[BASE][QA[2][0]] = QA[2][1]  # type: ignore[index]
    pw = _run(models, SimulatedJudge()).summary["judge"]["pairwise"]
    assert (pw["candidate_wins"], pw["baseline_wins"], pw["ties"]) == (2, 1, 1)
    assert pw["win_rate"] == pytest.approx((2 + 0.5) / 4)


def test_only_examples_both_models_answered_are_judged() -> None:
    q = QA[1][0]
    judge = FlakyJudge()
    models = _models(failures={(BASE, q): [always(PermanentError("blocked"))]})
    res = _run(models, judge)
    # Asked twice each (both orders), and never about the example base did not answer.
    assert q not in judge.calls and sorted(judge.calls) == sorted(2 * [p for p, _ in QA if p != q])
    assert res.summary["judge"]["pairwise"]["judged"] == 3


def test_judge_failures_are_recorded_never_fatal() -> None:
    q_flaky, q_broken = QA[0][0], QA[2][0]
    judge = FlakyJudge(
        failures={
            q_flaky: [TransientError("503")],
            q_broken: [always(PermanentError("template rejected"))],
        }
    )
    res = _run(_models(), judge)
    # One call each (the second order is not asked after a failure): the adapter owns retries
    # (docs/ARCHITECTURE.md).
    assert judge.calls.count(q_flaky) == 1 and judge.calls.count(q_broken) == 1
    pw = res.summary["judge"]["pairwise"]
    assert (pw["judged"], pw["errors"], pw["candidate_wins"]) == (2, 2, 2)
    assert res.verdict == "NOT GATED" and res.metrics["exact_match"]["tuned"] == 1.0
    broken = next(r for r in res.rows if r["prompt"] == q_broken)
    assert "template rejected" in broken["judge"]["error"]
    judge_errors = [e for e in res.report.errors if e["model"] == "judge"]
    assert {e["index"] for e in judge_errors} == {
        broken["index"],
        next(r["index"] for r in res.rows if r["prompt"] == q_flaky),
    }


def test_nothing_judged_gives_no_win_rate_rather_than_zero() -> None:
    judge = FlakyJudge(failures={q: [always(TransientError("503"))] for q, _ in QA})
    pw = _run(_models(), judge).summary["judge"]["pairwise"]
    assert pw == {
        "candidate_wins": 0, "baseline_wins": 0, "ties": 0,
        "judged": 0, "errors": 4, "win_rate": None, "position_flips": 0, "flip_rate": None,
        "orders": "both (tuned as Response B, then as Response A)",
    }  # fmt: skip


def test_judge_calls_stay_within_max_concurrency() -> None:
    lines = [example(f"问题{i}", f"回答{i}") for i in range(24)]
    models = FakeModels(answers={TUNED: {f"问题{i}": f"回答{i}" for i in range(24)}})
    judge = FlakyJudge(delay=0.003)
    res = _run(models, judge, lines, max_concurrency=3)
    assert 1 < judge.max_in_flight <= 3
    assert res.summary["judge"]["pairwise"]["candidate_wins"] == 24


def test_summarize_counts_and_labels() -> None:
    def v(choice: str, simulated: bool = False) -> Verdict:
        return Verdict(PairwiseJudgement(choice, simulated=simulated))

    got = summarize([v("CANDIDATE"), v("BASELINE"), v("TIE"), Verdict(None, "boom")])
    assert got["pairwise"]["win_rate"] == 0.5 and got["simulated"] is False
    assert summarize([v("TIE", simulated=True)])["simulated"] is True


@dataclass
class FirstAnswerJudge:
    """A judge with pure position bias: it always prefers Response A (the baseline slot)."""

    calls: int = 0

    def pointwise(self, **_: Any) -> PointwiseJudgement:
        return PointwiseJudgement(3.0)

    def pairwise(self, **_: Any) -> PairwiseJudgement:
        self.calls += 1
        return PairwiseJudgement("BASELINE", "Response A reads better")


def test_a_judge_that_always_prefers_the_first_answer_gives_a_win_rate_of_one_half() -> None:
    # Whatever the answers, a position-biased judge must not decide the comparison: asked in
    # both orders it flips every time, and a flip is a tie.
    judge = FirstAnswerJudge()
    res = _run(_models(), judge)
    pw = res.summary["judge"]["pairwise"]
    assert pw["win_rate"] == 0.5 and pw["ties"] == 4
    assert (pw["position_flips"], pw["flip_rate"]) == (4, 1.0)
    assert judge.calls == 8
    assert all(r["judge"]["flipped"] and r["judge"]["choice"] == "TIE" for r in res.rows)


def test_an_order_independent_preference_is_kept() -> None:
    v = judge_one(SimulatedJudge(), _ex(), "请提交申诉表单。", GENERIC, template="t")
    assert v.judgement is not None and v.judgement.choice == "CANDIDATE" and not v.flipped


def _ex() -> Any:
    from shared.evaluation.examples import extract

    return extract(example("账号被封了怎么办？", "请提交申诉表单。"), 0)


def test_the_default_rubric_names_every_field_the_instance_sends() -> None:
    for key in ("{prompt}", "{reference}", "{response}", "{baseline_model_response}"):
        assert key in DEFAULT_PAIRWISE_TEMPLATE


# ---- the customer-service rubric and judge gates --------------------------------------------


@dataclass
class TemplateRecordingJudge(FlakyJudge):
    """Keeps which rubric template each pointwise call carried (by its criterion's name)."""

    templates: list[str] = field(default_factory=list)

    def pointwise(
        self, *, prompt: str, response: str, reference: str | None, metric_prompt_template: str
    ) -> PointwiseJudgement:
        crit = metric_prompt_template.split("Rate the AI answer on one criterion only: ")[1]
        self.templates.append(crit.split(".", 1)[0])
        return super().pointwise(
            prompt=prompt,
            response=response,
            reference=reference,
            metric_prompt_template=metric_prompt_template,
        )


def test_the_rubric_rates_tuned_and_base_on_each_dimension_and_can_gate() -> None:
    from shared.evaluation.rubric import DIMENSIONS
    from shared.tuning_config import RUBRIC_DIMENSIONS, Gate

    assert tuple(DIMENSIONS) == RUBRIC_DIMENSIONS  # one list of dimensions
    judge = TemplateRecordingJudge()
    gates = {"rubric_correctness": Gate(min=4.0, min_delta=1.0)}
    res = evaluate(
        _models(),
        LINES,
        tuned_model=TUNED,
        base_model=BASE,
        config=EvaluationConfig(sample_size=50, max_concurrency=4, rubric=True, gates=gates),
        seed="run-rubric",
        judge=judge,
    )
    scores = res.summary["rubric"]
    assert set(DIMENSIONS) <= set(scores)
    assert scores["correctness"]["tuned"] == 5.0  # the simulator: chrF 1.0 -> 5
    assert scores["correctness"]["base"] < 2.0
    assert scores["correctness"]["rated"] == len(QA)
    # 4 dimensions x 2 answers x 4 examples, one template per dimension, and no pairwise call.
    assert len(judge.templates) == 32 and judge.calls == []
    assert sorted(set(judge.templates)) == sorted(d[0] for d in DIMENSIONS.values())
    assert res.passed and "rubric_correctness 5.000 >= 4.000" in res.reason
    row = next(iter(res.rows))
    assert row["rubric"]["tuned"]["tone"]["explanation"].startswith("simulated")
    assert json.loads(res.report_json())["rubric"]["criteria"]["language"]


def test_the_win_rate_can_gate_and_a_missed_gate_says_by_how_much() -> None:
    from shared.tuning_config import Gate

    res = _run(_models(), FlakyJudge(), gates={"win_rate": Gate(min=0.55)})
    assert res.passed and res.summary["judge"]["pairwise"]["win_rate"] == 1.0
    half = _models(tuned={q: (a if i < 2 else GENERIC) for i, (q, a) in enumerate(QA)})
    res = _run(half, FlakyJudge(), gates={"win_rate": Gate(min=0.8)})
    # 2 wins and 2 ties (both answers generic): a tie counts half.
    assert res.summary["judge"]["pairwise"]["win_rate"] == 0.75
    assert not res.passed and "win_rate 0.750 < 0.800" in res.reason


@pytest.mark.parametrize(
    ("yaml", "message"),
    [
        ("evaluation: {gates: {win_rate: {min: 0.55}}}", "judge: true"),
        ("evaluation: {production_gates: {win_rate: {min: 0.55}}}", "judge: true"),
        ("evaluation: {gates: {rubric_tone: {min: 4}}}", "rubric: true"),
        ("evaluation: {judge: true, gates: {win_rate: {min_delta: 0.1}}}", "unknown key"),
        ("evaluation: {rubric: true, gates: {rubric_tone: {min: 6}}}", "from 1 to 5"),
        ("evaluation: {rubric: true, rubric_dimensions: [humour]}", "correctness, policy"),
    ],
)
def test_judge_gates_are_validated(yaml: str, message: str) -> None:
    from shared.errors import ConfigError
    from shared.tuning_config import TuningConfig, parse_tuning_yaml

    with pytest.raises(ConfigError, match=message):
        parse_tuning_yaml(yaml.encode(), source="tuning.yaml", base=TuningConfig())
