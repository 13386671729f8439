"""Leakage: which sampled eval examples were in training, with the validator's detectors."""

from __future__ import annotations

from shared.evaluation.examples import EvalExample, extract
from shared.evaluation.leakage import WARN_SHARE, find_leakage

from .fakes import example

ANSWER = "请立即修改密码并绑定手机，然后提交账号申诉，客服会在3个工作日内核实并找回装备。"


def _sample(*pairs: tuple[str, str]) -> list[EvalExample]:
    out = []
    for i, (q, a) in enumerate(pairs):
        got = extract(example(q, a), i)
        assert not isinstance(got, str)
        out.append(got)
    return out


def test_a_copy_with_other_spacing_and_full_width_marks_is_exact() -> None:
    sample = _sample((" ＶＩＰ账号被盗了，装备全没了 ", ANSWER))
    leak = find_leakage(sample, [example("VIP账号被盗了，装备全没了", ANSWER)])
    # NFKC folds the full-width letters and comma, the edges' whitespace is dropped.
    assert leak.exact == {0} and leak.share == 1.0 and leak.warning is not None


def test_a_paraphrased_question_with_the_same_answer_is_a_near_duplicate() -> None:
    sample = _sample(("我的账号被盗了，装备全没了", ANSWER))
    leak = find_leakage(sample, [example("账号被盗了，装备全没了", ANSWER)])
    assert leak.near == {0} and leak.exact == frozenset()


def test_the_same_answer_to_another_question_is_not_leakage() -> None:
    # A template answer serves many intents; the question decides whether it was seen.
    sample = _sample(("新赛季什么时候开始？", ANSWER))
    leak = find_leakage(sample, [example("账号被盗了，装备全没了", ANSWER)])
    assert leak.leaked == frozenset() and leak.warning is None


def test_a_small_overlap_is_reported_without_a_warning() -> None:
    pairs = [
        (f"第{i}个不同的问题是关于{'甲乙丙丁戊己庚辛壬癸'[i]}的", f"回答{i}" * 5) for i in range(10)
    ]
    training = [example(*pairs[0]), example("无关的问题", "无关的回答")]
    leak = find_leakage(_sample(*pairs), training)
    assert leak.share == 0.1 == WARN_SHARE and leak.warning is None
    assert leak.to_dict()["exact"] == 1 and leak.training_examples == 2
