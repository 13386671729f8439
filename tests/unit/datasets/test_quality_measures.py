"""Quality checks: scripts and mismatched answers, near-duplicate and template clusters (also
on the bundled examples, compared with an exact computation), answer-length outliers."""

from __future__ import annotations

import json
from itertools import combinations
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.datasets.quality_measures import (
    CJK,
    LATIN,
    MIXED,
    OTHER,
    NearDuplicates,
    script_of,
    shingle_hashes,
    similar,
)

from .helpers import example, jsonl, validate

EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "datasets"


def _script(text: str) -> int:
    chars = len(text)
    return script_of(text, chars, len(text.encode()) - chars)


@pytest.mark.parametrize(
    ("text", "script"),
    [
        ("How do I reset my password?", LATIN),
        ("Café crème brûlée, s'il vous plaît", LATIN),
        ("我的账号登录不上了，一直提示密码错误。", CJK),
        ("游戏一直闪退，手机型号是华为Mate60。", CJK),
        ("パスワードを忘れました", CJK),
        ("Привет, как восстановить пароль?", OTHER),
        ("请清除缓存 clear the cache", MIXED),
        ("请尝试 clear the cache and reinstall the game 后重新登录", LATIN),
    ],
)
def test_script_of(text: str, script: int) -> None:
    assert _script(text) == script


def test_mismatched_answers_are_counted_and_located() -> None:
    data = jsonl(
        example(("我的账号登录不上了怎么办？", "Please reset your password in Settings.")),
        example(("How do I reset my password?", "请在设置-账号中重置密码，然后重新登录。")),
        example(("How do I reset my password?", "Open Settings > Account > Reset.")),
        example(("UID 12345678", "已为您查询到角色信息，请稍等。")),  # no language in the question
        example(("你好", "Hi!")),  # too short to tell
        example(("Hi", "在的"), ("账号被盗了", "Contact support with your receipts please.")),
    )
    report = validate(data)
    found = [(f.line, f.path) for f in report.warnings if f.code == "language_mismatch"]
    assert found == [(1, "contents[1]"), (2, "contents[1]"), (6, "contents[3]")]
    assert report.counts["language_mismatch"] == 3
    lang = report.stats["languages"]
    assert lang["mismatched_answers"] == 3
    assert lang["model"]["latin"] == 4 and lang["model"]["cjk"] == 3


def test_shingles_are_deterministic_and_cjk_aware() -> None:
    assert shingle_hashes("充值了但是钻石没有到账") == shingle_hashes("充值了 但是钻石 没有到账")
    assert len(shingle_hashes("充值了但是钻石没有到账")) == 9  # character 3-grams
    assert len(shingle_hashes("please clear the cache")) == 3  # word bigrams


def _crafted() -> tuple[bytes, list[int], list[int]]:
    """Near-duplicates (trivially different question, same answer), a template answer to many
    different questions, and distinct filler examples."""
    answer = "您好，充值未到账一般会在两小时内自动补发，请耐心等待；超过两小时请提交订单截图。"
    template = "您好，请提供您的角色UID和所在服务器，我们会尽快为您核实处理，感谢您的耐心等待。"
    rows: list[Any] = []
    near, tmpl = [], []
    topics = "登录 充值 活动 装备 公会 邮件 好友 排行 副本 坐骑 宠物 时装 抽卡 兑换 竞技 任务"
    for i, topic in enumerate(topics.split()):
        rows.append(example((f"请问{topic}系统第{i}号问题怎么解决呀", f"关于{topic}：{i}" * 3)))
        if i < 4:
            rows.append(example((f"充值了钻石没到账{'！' * i}", answer)))
            near.append(len(rows))
        rows.append(example((f"{topic}出问题了谁来管管", template)))
        tmpl.append(len(rows))
    return jsonl(*rows), near, tmpl


def test_near_duplicate_and_template_clusters_in_a_crafted_set() -> None:
    data, near, tmpl = _crafted()
    report = validate(data)
    nd = [f for f in report.warnings if f.code == "near_duplicate_examples"]
    assert len(nd) == 2
    messages = {f.line: f.message for f in nd}
    assert messages[tmpl[0]].startswith(f"{len(tmpl)} examples share one near-identical answer")
    assert messages[near[0]].startswith(f"{len(near)} examples have a near-identical final")
    assert f"lines {', '.join(map(str, near))})" in messages[near[0]]
    stats = report.stats["near_duplicates"]
    assert stats["clusters"] == 2 and stats["template_answer_clusters"] == 1
    assert stats["largest"] == [len(tmpl), len(near)]
    assert stats["largest_share"] == round((len(tmpl) + len(near)) / stats["sampled_examples"], 4)


def _final_exchange(row: dict[str, Any]) -> tuple[str, str]:
    c = row["contents"]
    return c[-2]["parts"][0]["text"], c[-1]["parts"][0]["text"]


def _jaccard(a: set[int], b: set[int]) -> float:
    return len(a & b) / len(a | b)


@pytest.mark.parametrize("name", ["game-cs-zh", "game-cs-en"])
def test_bundled_clusters_are_real(name: str) -> None:
    """Every cluster reported on the bundled data is a true near-duplicate by the exact Jaccard
    similarity, and every exact pair above the thresholds is reported."""
    path = EXAMPLES / name / "train.jsonl"
    rows = [json.loads(x) for x in path.read_bytes().splitlines()]
    report = validate(path.read_bytes(), max_findings_per_code=1000)
    reported: set[frozenset[int]] = set()
    for f in report.warnings:
        if f.code == "near_duplicate_examples":
            lines = f.message.split("(lines ")[1].split(")")[0].split(", ")
            reported.add(frozenset(int(x) for x in lines if x != "..."))
    sh = [tuple(shingle_hashes(t) for t in _final_exchange(r)) for r in rows]
    truth = {
        frozenset((i + 1, j + 1))
        for i, j in combinations(range(len(rows)), 2)
        if _jaccard(sh[i][1], sh[j][1]) >= 0.9 and _jaccard(sh[i][0], sh[j][0]) >= 0.8
    }
    pairs_reported = {frozenset(p) for c in reported for p in combinations(sorted(c), 2)}
    assert truth <= pairs_reported
    for pair in pairs_reported:
        i, j = (x - 1 for x in pair)
        assert _jaccard(sh[i][1], sh[j][1]) >= 0.5 and _jaccard(sh[i][0], sh[j][0]) >= 0.3
    assert report.valid


def _bottom_k_share(a: frozenset[int], b: frozenset[int], threshold: float) -> bool:
    """The bottom-k estimate written out plainly (what clustering used before `similar`)."""
    k = max(len(a), len(b))
    union = sorted(a | b)[:k]
    if not union:
        return True
    both = sum(1 for h in union if h in a and h in b)
    return both / len(union) >= threshold


_SKETCH = st.frozensets(st.integers(0, 40), max_size=16)


@given(_SKETCH, _SKETCH, st.sampled_from([0.3, 0.5, 0.7, 0.9]))
def test_set_operation_similarity_equals_the_bottom_k_share(
    a: frozenset[int], b: frozenset[int], threshold: float
) -> None:
    """Clustering's pair test (C-speed set operations) decides exactly as the plain bottom-k
    estimate, so moving to it changes no cluster."""
    assert similar(a, b, threshold) == _bottom_k_share(a, b, threshold)


def test_sample_stays_within_budget() -> None:
    nd = NearDuplicates(budget=100)
    for line in range(1, 1001):
        if line % nd.stride == 0:
            nd.add(line, f"question {line}", f"answer number {line} is here")
    assert nd.sampled < 100 and nd.stride == 16
    assert all(ln % nd.stride == 0 for ln in nd.lines)
    big = NearDuplicates(budget=100)
    big.expect(10_000)
    assert big.stride == 128


def test_answer_length_outliers() -> None:
    rows = [
        example((f"question {i}", "This is a normal length answer for the player. " * (1 + i % 3)))
        for i in range(40)
    ]
    rows.append(example(("paste", "log line with many words repeated " * 600)))
    report = validate(jsonl(*rows))
    outliers = [f for f in report.warnings if f.code == "answer_length_outlier"]
    assert [f.line for f in outliers] == [41]
    assert "extremely long" in outliers[0].message
    small = validate(jsonl(*rows[:10], rows[-1]))  # too few answers to call anything extreme
    assert "answer_length_outlier" not in small.counts
