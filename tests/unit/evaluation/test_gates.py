"""Gates: absolute `min`, `min_delta` over the base model, both, and readable reasons."""

from __future__ import annotations

from shared.evaluation.gates import check_gates
from shared.tuning_config import Gate


def _m(**scores: tuple[float, float]) -> dict[str, dict[str, float]]:
    return {k: {"tuned": t, "base": b} for k, (t, b) in scores.items()}


def test_no_gates_is_not_gated_never_a_pass() -> None:
    # Nothing configured is NOT GATED (None), never a pass, and the reason says what to add.
    ok, reason, outcomes = check_gates({}, _m(chrf=(0.9, 0.0)))
    assert ok is None and outcomes == [] and "Add evaluation.gates to tuning.yaml" in reason


def test_absolute_gate_pass_and_fail_with_the_shortfall() -> None:
    ok, reason, outcomes = check_gates({"chrf": Gate(min=0.30)}, _m(chrf=(0.41, 0.2)))
    assert ok and reason == "chrf 0.410 >= 0.300"
    assert outcomes[0].passed and outcomes[0].to_dict()["delta"] == 0.41 - 0.2
    ok, reason, _ = check_gates({"chrf": Gate(min=0.30)}, _m(chrf=(0.25, 0.2)))
    assert not ok
    assert reason == "failed: chrf 0.250 < 0.300 (short by 0.050)"


def test_delta_gate_tolerates_float_noise_and_fails_when_base_is_as_good() -> None:
    ok, reason, _ = check_gates({"rouge_l": Gate(min_delta=0.05)}, _m(rouge_l=(0.35, 0.30)))
    assert ok and reason == "rouge_l delta +0.050 >= +0.050"
    ok, reason, _ = check_gates({"rouge_l": Gate(min_delta=0.05)}, _m(rouge_l=(0.30, 0.32)))
    assert not ok
    assert reason == "failed: rouge_l delta -0.020 < +0.050 (short by 0.070)"


def test_both_conditions_on_one_metric_and_several_gates() -> None:
    gates = {"chrf": Gate(min=0.3, min_delta=0.1), "bleu": Gate(min=0.1)}
    ok, reason, outcomes = check_gates(gates, _m(chrf=(0.5, 0.45), bleu=(0.2, 0.1)))
    assert not ok
    assert reason == (
        "failed: chrf delta +0.050 < +0.100 (short by 0.050); passed: bleu 0.200 >= 0.100"
    )
    assert [o.passed for o in outcomes] == [False, True]
    ok, reason, _ = check_gates(gates, _m(chrf=(0.6, 0.45), bleu=(0.2, 0.1)))
    assert ok
    assert reason == "chrf 0.600 >= 0.300; chrf delta +0.150 >= +0.100; bleu 0.200 >= 0.100"


def test_near_miss_shows_enough_digits_to_see_the_difference() -> None:
    ok, reason, _ = check_gates({"chrf": Gate(min=0.3)}, _m(chrf=(0.29996, 0.0)))
    assert not ok
    assert reason == "failed: chrf 0.29996 < 0.30000 (short by 4.0e-05)"


def test_gate_on_a_metric_that_was_not_computed_fails_with_what_to_do() -> None:
    ok, reason, _ = check_gates({"bleu": Gate(min=0.1)}, _m(chrf=(0.5, 0.4)))
    assert not ok
    assert "bleu was not computed; add it to evaluation.metrics" in reason
