"""Personal data: the detectors, the findings at the right lines/paths/kinds, masking, policies,
and the Hyperscan prefilter never hiding what the detectors see."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.datasets.lines import Batch
from shared.datasets.pii_prefilter import Prefilter
from shared.datasets.privacy import Detector, PrivacyOptions, id_card_ok, luhn_ok, mask

from .helpers import example, found, jsonl, turn, validate
from .pii_data import broken_card, broken_id, card_number, id_number

IDN = id_number()
CARD = card_number()
PHONE = "13812345678"
_WIDE = {ord(c): 0xFF10 + int(c) for c in "0123456789"} | {ord("X"): 0xFF38}
WIDE_PHONE = PHONE.translate(_WIDE)  # １３８１２３４５６７８
WIDE_IDN = IDN.translate(_WIDE)

# (text, kind, the raw value as written)
PLANTED: list[tuple[str, str, str]] = [
    (f"我的手机号是{PHONE}，请回电", "phone", PHONE),
    ("电话 +86 139-1234-5678 谢谢", "phone", "+86 139-1234-5678"),
    ("call me at 0086 150 1234 5678", "phone", "0086 150 1234 5678"),
    (f"身份证号{IDN}已经实名", "id_card", IDN),
    (f"退款到卡号 {CARD} 可以吗", "bank_card", CARD),
    (f"card {CARD[:4]} {CARD[4:8]} {CARD[8:12]} {CARD[12:16]} {CARD[16:]}", "bank_card", ""),
    ("邮箱 zhang.san88@qq.com 收不到验证码", "email", "zhang.san88@qq.com"),
    ("我的QQ号：12345678，加我", "qq", "12345678"),
    ("qq 987654321", "qq", "987654321"),
    ("微信号: wxid_ab12cd 联系我", "wechat", "wxid_ab12cd"),
    ("加我vx：zhangsan_2024", "wechat", "zhangsan_2024"),
    ("登录IP是 192.168.31.207 吗", "ipv4", "192.168.31.207"),
    ("from 2001:db8:85a3::8a2e:370:7334 today", "ipv6", "2001:db8:85a3::8a2e:370:7334"),
    # typed with a Chinese input method's full-width digits, hyphen or ideographic space
    (f"手机{WIDE_PHONE}，谢谢", "phone", WIDE_PHONE),
    ("电话 138　1234　5678 找我", "phone", "138　1234　5678"),
    ("电话 １３９－１２３４－５６７８", "phone", "１３９－１２３４－５６７８"),
    (f"身份证{WIDE_IDN}", "id_card", WIDE_IDN),
    ("QQ：１２３４５６７８", "qq", "１２３４５６７８"),
]

# Texts with numbers that are not personal data (or fail a checksum): nothing may be reported.
CLEAN = [
    "订单号 20240601123456789 还没到账",  # 17 digits, no check digit rule applies
    f"单号{broken_id(IDN)}",  # ID shape, wrong check digit
    f"流水 {broken_card(CARD)}",  # card shape, fails Luhn
    "角色UID 12345678 在二区",  # a game ID without a QQ/WeChat keyword
    "充值了648元，版本 1.2.3 的问题",
    "维护时间 06:00-10:00，18:00:00 开服",
    "微信支付失败了怎么办",  # the keyword without an ID
    "请发邮件到 support@starfall.example",  # a company's role mailbox
    "价格 12345678901 个金币",  # 11 digits but not a mobile prefix (12x)
    "用 1990年03月07日 生日",
]


@pytest.mark.parametrize(("text", "kind", "value"), PLANTED, ids=[p[1] for p in PLANTED])
def test_detector_finds_each_kind(text: str, kind: str, value: str) -> None:
    hits = Detector().scan_text(text)
    assert [h.kind for h in hits] == [kind]
    if value:
        assert hits[0].value == value


@pytest.mark.parametrize("text", CLEAN)
def test_no_false_positive_on_ordinary_numbers(text: str) -> None:
    assert Detector().scan_text(text) == []


@settings(max_examples=200, deadline=None)
@given(st.text("0123456789", min_size=17, max_size=17), st.sampled_from("0123456789X"))
def test_id_numbers_with_a_wrong_check_digit_are_never_reported(body: str, last: str) -> None:
    idn = body + last
    kinds = {h.kind for h in Detector().scan_text(f"证件 {idn} 号")}
    assert ("id_card" in kinds) == id_card_ok(idn)
    if not id_card_ok(idn):
        assert "id_card" not in kinds


@settings(max_examples=200, deadline=None)
@given(st.integers(16, 19).flatmap(lambda n: st.text("0123456789", min_size=n, max_size=n)))
def test_card_numbers_failing_luhn_are_never_reported(digits: str) -> None:
    kinds = {h.kind for h in Detector().scan_text(f"卡 {digits} 号")}
    if not luhn_ok(digits):
        assert "bank_card" not in kinds


def test_checksums_match_published_rules() -> None:
    # GB 11643 example number and a well-known Luhn-valid test card
    assert id_card_ok("11010519491231002X")
    assert not id_card_ok("110105194912310021")
    assert not id_card_ok(id_number(born="20991231"))  # born in the future
    assert not id_card_ok(id_number(born="19900230"))  # no such day
    assert luhn_ok("4111111111111111") and not luhn_ok("4111111111111112")


def test_mask_never_shows_the_value() -> None:
    for _, kind, value in PLANTED:
        if value:
            m = mask(kind, value)
            assert value not in m and "*" in m


def test_custom_pattern_and_options_errors() -> None:
    det = Detector(PrivacyOptions(patterns={"order_id": r"GM\d{10}"}))
    assert [(h.kind, h.value) for h in det.scan_text("订单GM2024060112可查")] == [
        ("order_id", "GM2024060112")
    ]
    with pytest.raises(ValueError, match="policy"):
        PrivacyOptions(policy="block")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="not a valid regex"):
        PrivacyOptions(patterns={"x": "("})
    with pytest.raises(ValueError, match="empty string"):
        PrivacyOptions(patterns={"x": "a*"})
    with pytest.raises(ValueError, match="identifier"):
        PrivacyOptions(patterns={"phone": "x"})
    with pytest.raises(ValueError, match="nests groups too deeply"):  # RecursionError before
        PrivacyOptions(patterns={"deep": "(" * 500 + "a" + ")" * 500})


#: Catastrophic for a backtracking engine on a run of a's that fails before a later "ab" (the
#: prefilter lets the line through): `re` needs ~2^n steps, so n=24 takes seconds, 60 forever.
SLOW = r"(a|aa)+b"


def test_a_catastrophic_custom_pattern_is_stopped_not_waited_for(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from shared.datasets import privacy

    monkeypatch.setattr(privacy, "PATTERN_TIMEOUT_SECONDS", 0.05)
    det = Detector(PrivacyOptions(patterns={"order_id": r"GM\d{10}", "bad": SLOW}))
    with pytest.raises(privacy.SlowPattern, match=r"bad=.*stopped after 0.05 s.*Rewrite") as e:
        det.scan_text("a" * 24 + "X then ab GM2024060112")
    assert e.value.name == "bad"
    det.drop("bad")
    assert [h.kind for h in det.scan_text("a" * 24 + "X then ab GM2024060112")] == ["order_id"]


def test_the_validator_reports_a_slow_pattern_once_and_checks_the_rest(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """One error on the first line it stalls on (the team's policy could not be applied, so
    the dataset is invalid); the pattern is dropped, the built-in kinds and the other
    patterns still run on every later line."""
    from shared.datasets import privacy

    monkeypatch.setattr(privacy, "PATTERN_TIMEOUT_SECONDS", 0.05)
    hostile = "a" * 26 + "X then ab"
    data = jsonl(
        example(("hello", "hi there")),
        example((hostile, "ok fine")),
        example((hostile + " GM2024060112", "ok fine")),
        example(("call 138-1234-5678 " + hostile, "ok fine")),
    )
    report = validate(data, privacy=PrivacyOptions(patterns={"order_id": r"GM\d{10}", "bad": SLOW}))
    assert not report.valid
    f = found(report)
    assert f["pii_pattern_too_slow"] == [(2, "contents[0].parts[0]")]
    assert "not checked for bad" in report.errors[0].message
    assert report.stats["personal_data"]["counts"] == {"order_id": 1, "phone": 1}


def _planted_file() -> tuple[bytes, list[tuple[int, str, str, str]]]:
    """A file with the PLANTED values spread over lines and turns; (line, path, kind, value)."""
    rows: list[Any] = []
    expect: list[tuple[int, str, str, str]] = []
    for i, (text, kind, value) in enumerate(PLANTED):
        if i % 2:
            rows.append(example(("你好，请问怎么联系客服？", text)))
            path = "contents[1].parts[0]"
        else:
            rows.append(
                {"contents": [turn("user", "在吗"), turn("model", "在的"), turn("user", text)]}
            )
            rows[-1]["contents"].append(turn("model", "好的，已经为您记录。"))
            path = "contents[2].parts[0]"
        expect.append((len(rows), path, kind, value))
        rows.append(example(("How do I reset my password?", f"Open Settings > Account {i}.")))
    return jsonl(*rows), expect


@pytest.mark.parametrize("ascii_only", [False, True])
def test_planted_values_reported_at_their_lines_paths_and_kinds(ascii_only: bool) -> None:
    data, expect = _planted_file()
    if ascii_only:  # the prefilter must see `\\uXXXX`-escaped keywords as well
        data = b"\n".join(
            json.dumps(json.loads(x), ensure_ascii=True).encode() for x in data.splitlines()
        )
    report = validate(data, max_findings_per_code=100)
    assert report.valid
    got = sorted(
        (f.line, f.path, f.to_dict()["kind"]) for f in report.warnings if f.code == "personal_data"
    )
    assert got == sorted((ln, path, kind) for ln, path, kind, _ in expect)
    counts = report.stats["personal_data"]["counts"]
    for kind in {k for _, k, _ in PLANTED}:
        assert counts[kind] == sum(1 for _, k, _ in PLANTED if k == kind)
    assert report.stats["personal_data"]["examples"] == len(PLANTED)
    assert report.summary()["personal_data"] == counts  # what the run record keeps
    # never the raw value, anywhere in the report
    doc = json.dumps(report.to_dict(), ensure_ascii=False)
    for _, _, _, value in expect:
        if value:
            assert value not in doc
            assert value.replace(" ", "").replace("-", "") not in doc


def test_policies() -> None:
    data, _ = _planted_file()
    warn = validate(data)
    assert warn.valid and "personal_data" in warn.counts
    reject = validate(data, privacy=PrivacyOptions(policy="reject"))
    assert not reject.valid
    assert reject.counts["personal_data_rejected"] == len(PLANTED)
    assert "personal_data" not in reject.counts
    redact = validate(data, privacy=PrivacyOptions(policy="redact"))
    assert redact.valid and redact.stats["personal_data"]["policy"] == "redact"
    assert "placeholder" in redact.warnings[0].message or any(
        "placeholder" in f.message for f in redact.warnings if f.code == "personal_data"
    )
    off = validate(data, privacy=PrivacyOptions(enabled=False))
    assert "personal_data" not in off.counts and off.stats["personal_data"] == {"policy": "off"}


def test_invalid_lines_are_scanned_too() -> None:
    data = jsonl(
        {"contents": [turn("user", f"手机 {PHONE}"), turn("assistant", "好")]},  # unknown role
        {"contents": [turn("user", "q"), {"role": "model", "parts": [{"text": 5}]}]},
    )
    report = validate(data, privacy=PrivacyOptions(policy="reject"))
    found = [(f.line, f.path) for f in report.errors if f.code == "personal_data_rejected"]
    assert found == [(1, "contents[0].parts[0]")]


# -- the prefilter never hides a value the detectors report ---------------------------------
FRAGMENTS = [
    PHONE,
    "+86 138 1234 5678",
    IDN,
    CARD,
    "6222 0202 0000 1234 567",
    "a.b@c.cn",
    "QQ:123456",
    "扣扣 1234567",
    "微信 ab_123456",
    "V信:zhangsan88",
    "WeChat ID abc-12345",
    "10.0.0.1",
    "fe80::1:2",
    "::",
    "12:34:56",
    "订单",
    "abc",
    " ",
    "，",
    "😀",
    "\n",
    '"',
    "\\",
    "1",
    "-",
    WIDE_PHONE,
    "１",
    "－",
    "　",
    "138　1234　5678",
]


PREFILTER = Prefilter(PrivacyOptions())


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from(FRAGMENTS), min_size=1, max_size=8), st.booleans())
def test_prefilter_flags_every_line_the_detectors_would_report(
    parts: list[str], ascii_only: bool
) -> None:
    text = "".join(parts)
    ex = example(("问题", text))
    raw = json.dumps(ex, ensure_ascii=ascii_only).encode()
    other = json.dumps(example(("hi", "hello there")), ensure_ascii=ascii_only).encode()
    lines = [other, raw, other]
    flagged = PREFILTER.candidates(b"\n".join(lines), lines, 10)
    assert flagged is not None
    if Detector().scan_text(text):
        assert 11 in flagged
    assert 10 not in flagged and 12 not in flagged


#: Custom patterns whose matches the raw JSON spells differently from the text: anchors,
#: whitespace escapes, quotes, backslashes, slashes, full-width digits (`\d`), Chinese literals,
#: emoji (a surrogate pair when escaped), case-insensitive letters, look-arounds.
CUSTOM = {
    "anchored": r"^GM\d{4}$",
    "spaced": r"GM\s?\d{4}",
    "quoted": r'id"\d{2}',
    "order_no": "订单号[0-9]{3}",
    "vip": r"(?i)vip\d",
    "wide": r"[^\x00-\x7f]{2}\d",
    "path": r"a/b\\x",
    "ticket": r"工单(?=\d)\d+",
    "emoji": r"😀\d",
    "tabbed": r"x\ty",
}
CUSTOM_FRAGMENTS = [
    "GM", "1234", "１２３４", "\n", " ", "\t", '"', "\\", "/", "订单号", "😀", "vip", "VIP",
    "id", "a", "b", "x", "y", "工单", "您好", "ok",
]  # fmt: skip
CUSTOM_PREFILTER = Prefilter(PrivacyOptions(patterns=CUSTOM))
CUSTOM_DETECTOR = Detector(PrivacyOptions(patterns=CUSTOM))


def test_custom_patterns_are_rewritten_for_raw_json_not_left_to_every_text() -> None:
    assert CUSTOM_PREFILTER.unscreened == []


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(CUSTOM_FRAGMENTS), min_size=1, max_size=8), st.booleans())
def test_prefilter_flags_every_line_a_custom_pattern_would_report(
    parts: list[str], ascii_only: bool
) -> None:
    """Before the rewrite, `^GM\\d{4}$`, `GM\\s?\\d{4}` across a newline, `id"\\d{2}` and full-width
    digits were missed (no finding, and no redaction), and Chinese patterns screened nothing."""
    text = "".join(parts)
    raw = json.dumps(example(("问题", text)), ensure_ascii=ascii_only).encode()
    other = json.dumps(example(("hi", "hello there")), ensure_ascii=ascii_only).encode()
    lines = [other, raw, other]
    flagged = CUSTOM_PREFILTER.candidates(b"\n".join(lines), lines, 10)
    assert flagged is not None
    if CUSTOM_DETECTOR.scan_text(text):
        assert 11 in flagged
    assert 10 not in flagged and 12 not in flagged


def test_unscreenable_custom_pattern_scans_every_line() -> None:
    """A back-reference has no superset rewrite: that pattern runs on every text."""
    opts = PrivacyOptions(patterns={"ticket": r"工单(\d)\1\d*", "order_id": "GM\\d{10}"})
    pre = Prefilter(opts)
    assert pre.unscreened == ["ticket"]
    data = jsonl(example(("工单11345 怎么样了", "处理中")), example(("GM2024060112", "查到了")))
    report = validate(data, privacy=opts)
    kinds = sorted(f.to_dict()["kind"] for f in report.warnings if f.code == "personal_data")
    assert kinds == ["order_id", "ticket"]
    assert report.stats["personal_data"]["unscreened_patterns"] == ["ticket"]


def test_batch_without_blob_still_screened() -> None:
    lines = [json.dumps(example(("q", f"call {PHONE}"))).encode()]
    pre = Prefilter(PrivacyOptions())
    assert pre.candidates(b"\n".join(Batch(5, 0, lines).lines), lines, 5) == {5}
