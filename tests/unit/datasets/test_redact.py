"""`redact_stream` and `gemini-tuning redact`: nothing detectable left, nothing else changed,
placeholders consistent within an example, the input never touched, one-line errors."""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path

import pytest

from shared.cli import main
from shared.datasets.privacy import PrivacyOptions
from shared.datasets.redact import redact_stream

from .helpers import example, jsonl, turn, validate
from .pii_data import card_number, id_number
from .test_privacy import PLANTED, _planted_file

PHONE = "13812345678"


def _redact(data: bytes, options: PrivacyOptions | None = None) -> bytes:
    out = io.BytesIO()
    redact_stream(io.BytesIO(data), out, options)
    return out.getvalue()


@pytest.mark.parametrize("ascii_only", [False, True])
def test_redacted_copy_has_nothing_detectable_and_changes_nothing_else(ascii_only: bool) -> None:
    data, expect = _planted_file()
    if ascii_only:
        data = (
            b"\n".join(
                json.dumps(json.loads(x), ensure_ascii=True).encode() for x in data.splitlines()
            )
            + b"\n"
        )
    out = _redact(data)
    after = validate(out)
    assert "personal_data" not in after.counts and after.stats["personal_data"]["examples"] == 0
    before_lines, after_lines = data.splitlines(), out.splitlines()
    assert len(before_lines) == len(after_lines) and out.endswith(b"\n")
    pii_lines = {ln for ln, *_ in expect}
    for n, (a, b) in enumerate(zip(before_lines, after_lines, strict=True), start=1):
        if n in pii_lines:
            assert a != b
            # only the values changed: same structure, same texts around the placeholders
            assert json.loads(b)["contents"][0] == json.loads(a)["contents"][0]
        else:
            assert a == b  # byte-identical
    text = out.decode()
    for _, _, _, value in expect:
        if value:
            assert value not in text
    for kind in {k for _, k, _ in PLANTED}:
        assert f"<{kind.upper()}_1>" in text


def test_placeholders_are_consistent_within_an_example() -> None:
    idn, card = id_number(), card_number()
    row = {
        "contents": [
            turn("user", f"手机{PHONE}，身份证{idn}"),
            turn("model", f"已记录 {PHONE[:3]}-{PHONE[3:7]}-{PHONE[7:]}，请确认卡号 {card}"),
            turn("user", f"另一个号码 13998765432，还是 {PHONE}"),
            turn("model", "好的"),
        ]
    }
    other = example(("再问一个", f"手机 13998765432 {PHONE}"))
    out = _redact(jsonl(row, other)).decode().splitlines()
    texts = [t["parts"][0]["text"] for t in json.loads(out[0])["contents"]]
    assert texts[0] == "手机<PHONE_1>，身份证<ID_CARD_1>"
    assert texts[1] == "已记录 <PHONE_1>，请确认卡号 <BANK_CARD_1>"
    assert texts[2] == "另一个号码 <PHONE_2>，还是 <PHONE_1>"
    # numbering starts again in the next example
    assert json.loads(out[1])["contents"][1]["parts"][0]["text"] == "手机 <PHONE_1> <PHONE_2>"


def test_layout_bytes_kept_bom_crlf_no_final_newline_invalid_json() -> None:
    clean = json.dumps(example(("q", "a long enough answer"))).encode()
    data = (
        b"\xef\xbb\xbf" + clean + b"\r\n"
        + json.dumps(example(("call", f"ok {PHONE}"))).encode() + b"\r\n"
        + b"\n"
        + b'{"contents": [broken ' + PHONE.encode() + b"\n"
        + clean
    )  # fmt: skip
    out = io.BytesIO()
    report = redact_stream(io.BytesIO(data), out)
    got = out.getvalue().split(b"\n")
    want = data.split(b"\n")
    assert len(got) == len(want)
    assert got[0] == want[0] and got[2] == want[2] and got[4] == want[4]
    assert got[1].endswith(b"\r") and b"<PHONE_1>" in got[1]
    assert got[3] == b'{"contents": [broken <PHONE_1>'
    assert report.to_dict() == {
        "lines": 5,
        "changed_lines": 2,
        "unparsed_lines": 1,
        "replaced": {"phone": 2},
    }


def test_custom_pattern_is_redacted() -> None:
    opts = PrivacyOptions(patterns={"order_id": r"GM\d{10}"})
    out = _redact(jsonl(example(("订单GM2024060112没到", "已查询"))), opts)
    assert b"<ORDER_ID_1>" in out and b"GM2024060112" not in out


def test_rejects_non_jsonl_input() -> None:
    with pytest.raises(ValueError, match="gzip"):
        _redact(gzip.compress(b'{"contents": []}\n'))


# -- the command ---------------------------------------------------------------------------
def test_cli_writes_masked_copy_and_keeps_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "train.jsonl"
    data = jsonl(example(("我的QQ号：12345678", "好的")), example(("hi", "hello there")))
    src.write_bytes(data)
    out = tmp_path / "masked.jsonl"
    assert main(["redact", str(src), str(out), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["replaced"] == {"qq": 1} and doc["changed_lines"] == 1
    assert src.read_bytes() == data
    assert b"<QQ_1>" in out.read_bytes()
    # an existing OUT needs --force; OUT == IN is refused even with --force
    assert main(["redact", str(src), str(out)]) == 2
    assert main(["redact", str(src), str(src), "--force"]) == 2
    err = capsys.readouterr().err
    assert "already exists" in err and "same file" in err
    assert src.read_bytes() == data


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["missing.jsonl", "out.jsonl"], "does not exist"),
        (["gz.jsonl", "out.jsonl"], "gzip-compressed"),
        (["ok.jsonl", "out.jsonl", "--pii-pattern", "nope"], "NAME=REGEX"),
        (["ok.jsonl", "out.jsonl", "--pii-pattern", "x=("], "not a valid regex"),
        (["ok.jsonl", "nofolder/out.jsonl"], "does not exist"),
    ],
)
def test_cli_errors_are_one_line(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    message: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "gz.jsonl").write_bytes(gzip.compress(b"{}\n"))
    (tmp_path / "ok.jsonl").write_bytes(jsonl(example()))
    assert main(["redact", *args]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and err.count("\n") == 1
    assert not (tmp_path / "out.jsonl").exists()


def test_cli_exit_1_when_lines_were_not_json(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_bytes(b'{"broken ' + PHONE.encode() + b"\n")
    assert main(["redact", str(src), str(tmp_path / "out.jsonl")]) == 1
    assert b"<PHONE_1>" in (tmp_path / "out.jsonl").read_bytes()


def test_validate_cli_policy_flags(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "train.jsonl"
    src.write_bytes(jsonl(example(("订单GM2024060112没到", f"请拨打 {PHONE}"))))
    assert main(["validate", str(src), "--json"]) == 0
    warn = json.loads(capsys.readouterr().out)
    assert [w["kind"] for w in warn["warnings"]] == ["phone"]
    assert PHONE not in json.dumps(warn)
    args = ["validate", str(src), "--json", "--pii-policy", "reject"]
    assert main([*args, "--pii-pattern", r"order_id=GM\d{10}"]) == 1
    rej = json.loads(capsys.readouterr().out)
    assert sorted(e["kind"] for e in rej["errors"]) == ["order_id", "phone"]
    assert main(["validate", str(src), "--pii-policy", "redact"]) == 0
    assert "Policy redact" in capsys.readouterr().out
    assert main(["validate", str(src), "--pii-pattern", "bad"]) == 2
    assert "NAME=REGEX" in capsys.readouterr().err
