"""Paired bootstrap intervals, gates on their lower bound, and the gate schema."""

from __future__ import annotations

import pytest

from shared.errors import ConfigError
from shared.evaluation import evaluate
from shared.evaluation.gates import check_gates
from shared.evaluation.metrics import corpus_scores, pair_stats
from shared.evaluation.stats import Columns, paired_bootstrap
from shared.tuning_config import EvaluationConfig, Gate, TuningConfig, apply_overrides

from .fakes import FakeModels, example

METRICS = ("exact_match", "bleu", "chrf", "rouge_l")
TUNED, BASE = "projects/p/locations/l/endpoints/t", "gemini-2.5-flash"


def columns(pairs: list[tuple[str, str]]) -> Columns:
    cols = Columns(METRICS)
    for hyp, ref in pairs:
        cols.add(pair_stats(hyp, ref, METRICS))
    return cols


REFS = [f"请在设置页面第{i}步点击领取奖励，然后重新登录游戏。" for i in range(40)]
GOOD = [(r, r) for r in REFS]
NOISY = [(r if i % 2 else "您好，请稍等。", r) for i, r in enumerate(REFS)]


def test_full_set_scores_equal_the_corpus_scores() -> None:
    cols = columns(NOISY)
    want = corpus_scores([pair_stats(h, r, METRICS) for h, r in NOISY], METRICS)
    for m in METRICS:
        assert cols.score(m, None) == pytest.approx(want[m])


def test_intervals_are_seeded_paired_and_bracket_the_estimate() -> None:
    good, noisy = columns(GOOD), columns(NOISY)
    a = paired_bootstrap(good, noisy, seed="run-1", resamples=300)
    assert a == paired_bootstrap(good, noisy, seed="run-1", resamples=300)
    assert a != paired_bootstrap(good, noisy, seed="run-2", resamples=300)
    for m in METRICS:
        point = good.score(m, None) - noisy.score(m, None)
        assert a[m].delta.low <= point <= a[m].delta.high
        assert a[m].delta.low > 0  # the tuned model wins on half the examples, never loses
        assert a[m].tuned.low == a[m].tuned.high == pytest.approx(1.0)  # always perfect
    same = paired_bootstrap(noisy, noisy, seed="s", resamples=100)
    assert all(same[m].delta.low == same[m].delta.high == 0 for m in METRICS)  # paired


def test_a_lower_bound_gate_fails_a_win_that_rests_on_one_example() -> None:
    # Tuned and base agree except on one of 12 examples, where the tuned one is exact.
    refs = REFS[:12]
    tuned = columns([(r, r) for r in refs])
    base = columns([(r if i else "无关的回答。", r) for i, r in enumerate(refs)])
    ivs = paired_bootstrap(tuned, base, seed="x", resamples=500)
    metrics = {"exact_match": {"tuned": 1.0, "base": 11 / 12}}
    point = {"exact_match": Gate(min_delta=0.05)}
    lower = {"exact_match": Gate(min_delta=0.05, use_lower_bound=True)}

    assert check_gates(point, metrics, ivs)[0] is True  # +0.083 >= 0.05
    passed, reason, outcomes = check_gates(lower, metrics, ivs)
    assert passed is False and "delta 95% lower bound +0.000 < +0.050" in reason
    assert outcomes[0].delta_low == 0.0 and outcomes[0].use_lower_bound


def test_evaluate_reports_intervals_deltas_and_what_was_not_scored() -> None:
    qa = [(f"问题{i}：怎么领取奖励？", REFS[i]) for i in range(30)]
    lines = [example(q, a) for q, a in qa] + [{"contents": []}, "not an object"]
    fake = FakeModels(
        answers={TUNED: dict(qa), BASE: {q: "您好。" for q, _ in qa}},
        failures={(BASE, qa[0][0]): [RuntimeError("boom")] * 9},
    )
    gates = {"chrf": Gate(min_delta=0.3, use_lower_bound=True)}
    res = evaluate(
        fake,
        lines,  # type: ignore[arg-type]
        tuned_model=TUNED,
        base_model=BASE,
        config=EvaluationConfig(sample_size=100, gates=gates),
        seed="r",
        resamples=200,
    )
    r = res.report.to_dict()
    assert set(r["intervals"]) == set(METRICS) and r["deltas"]["chrf"] > 0.3
    lo, hi = r["intervals"]["chrf"]["delta"]
    assert 0.3 < lo <= r["deltas"]["chrf"] <= hi
    assert res.passed and "chrf delta 95% lower bound" in res.reason
    assert r["summary"]["scored"] == 29
    assert r["not_scored"] == {"no_contents": 1, "not_object": 1, "prediction_failed": 1}
    assert set(r["skip_reasons"]) == set(r["not_scored"])


@pytest.mark.parametrize(
    ("gate", "message"),
    [
        ({"use_lower_bound": "yes"}, "use_lower_bound: expected true or false"),
        ({"use_lower_bound": True}, "needs a threshold"),
        ({"min": 0.2, "use_lower_bound": 1}, "expected true or false"),
    ],
)
def test_the_gate_schema_is_strict(gate: dict[str, object], message: str) -> None:
    raw = {"evaluation": {"gates": {"chrf": gate}}}
    with pytest.raises(ConfigError, match=message):
        apply_overrides(TuningConfig(), raw, source="tuning.yaml")
    ok = {"evaluation": {"gates": {"chrf": {"min_delta": 0.05, "use_lower_bound": True}}}}
    got = apply_overrides(TuningConfig(), ok, source="tuning.yaml").evaluation.gates["chrf"]
    assert got == Gate(min_delta=0.05, use_lower_bound=True)
