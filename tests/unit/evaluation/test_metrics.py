"""Metrics on English and Chinese, and agreement with sacrebleu (a dev-only reference)."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.evaluation.metrics import (
    METRIC_NAMES,
    lcs_length,
    pair_stats,
    score,
    sentence_scores,
)
from shared.evaluation.text import normalize, tokenize

sacrebleu = pytest.importorskip("sacrebleu", reason="sacrebleu is the dev-only reference")

CASES = {
    "en": (
        "Please restart the game and log in again to receive your reward.",
        "Restart the game, then log in again and you will receive the reward.",
        "Our shop opens at nine o'clock every morning.",
    ),
    "zh": (
        "请重新启动游戏并再次登录以领取奖励。",
        "重启游戏后重新登录，就可以领取奖励了。",
        "本店每天早上九点开门营业。",
    ),
}


def test_each_cjk_character_is_a_token_and_latin_words_stay_whole() -> None:
    assert tokenize(normalize("请重启App后再试")) == ["请", "重", "启", "App", "后", "再", "试"]
    assert tokenize("don't use well-known 3.5 builds") == [
        "don't", "use", "well-known", "3.5", "builds",
    ]  # fmt: skip


@pytest.mark.parametrize("lang", CASES)
def test_identical_answers_score_one(lang: str) -> None:
    ref = CASES[lang][0]
    assert score([ref], [ref]) == pytest.approx(dict.fromkeys(METRIC_NAMES, 1.0))
    assert sentence_scores(pair_stats(ref, ref)) == pytest.approx(dict.fromkeys(METRIC_NAMES, 1.0))


@pytest.mark.parametrize("lang", CASES)
def test_paraphrase_scores_strictly_between_zero_and_one(lang: str) -> None:
    ref, para, _ = CASES[lang]
    corpus = score([para], [ref])
    sentence = sentence_scores(pair_stats(para, ref))
    assert corpus["exact_match"] == 0.0
    for name in ("bleu", "chrf", "rouge_l"):
        assert 0.0 < corpus[name] < 1.0, name
        assert 0.0 < sentence[name] < 1.0, name


@pytest.mark.parametrize("lang", CASES)
def test_unrelated_answer_scores_near_zero_and_below_paraphrase(lang: str) -> None:
    ref, para, other = CASES[lang]
    unrelated = sentence_scores(pair_stats(other, ref))
    close = sentence_scores(pair_stats(para, ref))
    assert unrelated["exact_match"] == 0.0
    assert unrelated["bleu"] < 0.1
    assert unrelated["rouge_l"] < 0.15
    assert unrelated["chrf"] < 0.2
    for name in ("bleu", "chrf", "rouge_l"):
        assert unrelated[name] < close[name] / 2, name


@pytest.mark.parametrize("lang", CASES)
def test_empty_prediction_scores_zero(lang: str) -> None:
    ref = CASES[lang][0]
    assert score([""], [ref]) == dict.fromkeys(METRIC_NAMES, 0.0)
    assert sentence_scores(pair_stats("   ", ref)) == dict.fromkeys(METRIC_NAMES, 0.0)


def test_exact_match_ignores_width_and_whitespace_noise() -> None:
    assert score(["ＯＫ，  请稍等 "], ["OK, 请稍等"])["exact_match"] == 1.0
    assert score(["OK, 请稍后"], ["OK, 请稍等"])["exact_match"] == 0.0


def test_score_rejects_misaligned_input_with_a_clear_message() -> None:
    with pytest.raises(ValueError, match="2 predictions for 1 references"):
        score(["a", "b"], ["a"])
    with pytest.raises(ValueError, match="unknown metric"):
        score(["a"], ["a"], metrics=("meteor",))


# ------------------------------------------------------------------------------------------
# Cross-check against sacrebleu
# ------------------------------------------------------------------------------------------

ZH_CORPUS = (
    [
        "重启游戏后重新登录，就可以领取奖励了。",
        "您的订单已经发货，预计三天内送达。",
        "抱歉，该活动已经结束。",
        "请在设置里打开通知权限。",
    ],
    [
        "请重新启动游戏并再次登录以领取奖励。",
        "订单已发货，预计三到五天送达。",
        "很抱歉，这个活动已经结束了。",
        "请到设置中开启通知权限。",
    ],
)
EN_CORPUS = (
    [
        "Restart the game, then log in again and you will receive the reward.",
        "Your order has shipped and should arrive within three days.",
        "Sorry, this event has ended.",
    ],
    [
        "Please restart the game and log in again to receive your reward.",
        "The order was shipped; it should arrive in three to five days.",
        "We are sorry, the event is already over.",
    ],
)
TOL = 1e-6


def _norm(xs: list[str]) -> list[str]:
    return [normalize(x) for x in xs]


@pytest.mark.parametrize(
    ("corpus", "tokenizers"),
    [(ZH_CORPUS, ("zh", "char")), (EN_CORPUS, ("13a",))],
    ids=["zh", "en"],
)
def test_corpus_bleu_and_chrf_agree_with_sacrebleu(
    corpus: tuple[list[str], list[str]], tokenizers: tuple[str, ...]
) -> None:
    hyps, refs = _norm(corpus[0]), _norm(corpus[1])
    ours = score(hyps, refs)
    for tok in tokenizers:
        if tok == "char":  # sacrebleu's char tokenizer keeps the punctuation; drop it for both
            hyps_c = ["".join(c for c in h if c.isalnum()) for h in hyps]
            refs_c = ["".join(c for c in r if c.isalnum()) for r in refs]
            ref_bleu = sacrebleu.corpus_bleu(hyps_c, [refs_c], tokenize="char").score / 100
            assert score(hyps_c, refs_c)["bleu"] == pytest.approx(ref_bleu, abs=TOL)
        else:
            ref_bleu = sacrebleu.corpus_bleu(hyps, [refs], tokenize=tok).score / 100
            assert ours["bleu"] == pytest.approx(ref_bleu, abs=TOL)
    assert ours["chrf"] == pytest.approx(sacrebleu.corpus_chrf(hyps, [refs]).score / 100, abs=TOL)


def test_sentence_bleu_and_chrf_agree_with_sacrebleu() -> None:
    for hyp, ref in zip(*ZH_CORPUS, strict=True):
        h, r = normalize(hyp), normalize(ref)
        ours = sentence_scores(pair_stats(h, r))
        assert ours["bleu"] == pytest.approx(
            sacrebleu.sentence_bleu(h, [r], tokenize="zh").score / 100, abs=TOL
        )
        assert ours["chrf"] == pytest.approx(sacrebleu.sentence_chrf(h, [r]).score / 100, abs=TOL)


_ZH_CHARS = list("请重新启动游戏并再次登录以领取奖励订单已经发货预计三天内送达")
_EN_WORDS = ["the", "game", "reward", "login", "order", "shipped", "again", "please", "now"]
_segment = st.lists(
    st.one_of(st.sampled_from(_ZH_CHARS), st.sampled_from(_EN_WORDS).map(lambda w: f" {w} ")),
    min_size=0,
    max_size=25,
).map(lambda parts: normalize("".join(parts)))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(_segment, _segment.filter(bool)), min_size=1, max_size=5))
def test_random_mixed_corpora_agree_with_sacrebleu(pairs: list[tuple[str, str]]) -> None:
    hyps = [h for h, _ in pairs]
    refs = [r for _, r in pairs]
    ours = score(hyps, refs)
    assert ours["bleu"] == pytest.approx(
        sacrebleu.corpus_bleu(hyps, [refs], tokenize="zh").score / 100, abs=TOL
    )
    assert ours["chrf"] == pytest.approx(sacrebleu.corpus_chrf(hyps, [refs]).score / 100, abs=TOL)


def _brute_force_lcs(a: str, b: str) -> int:
    for k in range(min(len(a), len(b)), 0, -1):
        subs = {"".join(c) for c in itertools.combinations(a, k)}
        if any("".join(c) in subs for c in itertools.combinations(b, k)):
            return k
    return 0


@settings(max_examples=80, deadline=None)
@given(st.text("abc", max_size=7), st.text("abc", max_size=7))
def test_lcs_matches_brute_force(a: str, b: str) -> None:
    assert lcs_length(list(a), list(b)) == _brute_force_lcs(a, b)


def _dp_lcs(a: str, b: str) -> int:
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0]
        for j, y in enumerate(b):
            cur.append(prev[j] + 1 if x == y else max(prev[j + 1], cur[j]))
        prev = cur
    return prev[-1]


@settings(max_examples=60, deadline=None)
@given(st.text("abcd请重", max_size=90), st.text("abcd请重", max_size=90))
def test_bit_parallel_lcs_matches_dynamic_programming_on_long_inputs(a: str, b: str) -> None:
    assert lcs_length(list(a), list(b)) == _dp_lcs(a, b)
