"""Rows -> examples -> splits, through `shared.prepare.run.prepare` on small in-memory exports."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest

from shared.catalog import BUILTIN
from shared.datasets.privacy import PrivacyOptions
from shared.prepare.encoding import detect
from shared.prepare.mapping import parse_map
from shared.prepare.run import Options, Report, prepare, text_source

HEADER = ["session_id", "sender", "text", "timestamp"]


def _csv(rows: list[list[Any]], header: list[str] = HEADER) -> bytes:
    buf = io.StringIO(newline="")
    w = csv.writer(buf)
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue().encode("utf-8")


def _run(
    tmp: Path, data: bytes, name: str = "export.csv", **kw: Any
) -> tuple[Report, dict[str, list[Any]]]:
    out = tmp / "out"
    out.mkdir(parents=True, exist_ok=True)
    opts = Options(model=BUILTIN.default_model, catalog=BUILTIN, **kw)
    report = prepare([text_source(name, data)], out, opts)
    files = {}
    for split in ("train", "validation", "test"):
        p = out / f"{split}.jsonl"
        files[split] = (
            [json.loads(x) for x in p.read_text("utf-8").splitlines()] if p.exists() else []
        )
    return report, files


def _texts(ex: dict[str, Any]) -> list[tuple[str, str]]:
    return [(t["role"], t["parts"][0]["text"]) for t in ex["contents"]]


def test_rows_are_ordered_by_time_stably_merged_and_trimmed(tmp_path: Path) -> None:
    rows = [
        ["s1", "agent", "answer two", "2026-11-01 10:00:05"],
        ["s1", "player", "question one", "2026-11-01 10:00:01"],
        ["s1", "player", "more detail", "2026-11-01 10:00:01"],  # a tie: file order is kept
        ["s1", "bot", "auto greeting", "2026-11-01 10:00:00"],
        ["s1", "agent", "first answer", "2026/11/01 10:00:02"],
        ["s1", "player", "question two", "2026-11-01 10:00:04"],
        ["s1", "player", "no one answered this", "2026-11-01 10:00:09"],
    ]
    report, files = _run(tmp_path, _csv(rows))
    (ex,) = files["train"]
    assert _texts(ex) == [
        ("user", "question one\nmore detail"),
        ("model", "first answer"),
        ("user", "question two"),
        ("model", "answer two"),
    ]
    assert report.dropped_roles == {"bot": 1}
    assert report.dropped["unanswered_last_message"] == 1
    assert report.notes["merged_message"] == 1


def test_an_unmappable_sender_is_one_finding_with_its_row(tmp_path: Path) -> None:
    rows = [
        ["s1", "player", "hi", "1"],
        ["s1", "VIP", "x", "2"],
        ["s1", "VIP", "y", "3"],
        ["s1", "agent", "hello", "4"],
    ]
    report, _ = _run(tmp_path, _csv(rows))
    assert list(report.unmapped_roles) == ["VIP"]
    tally = report.unmapped_roles["VIP"]
    assert tally.count == 2 and tally.samples[0]["line"] == 3
    assert not report.ok


def test_a_mapping_names_columns_and_keeps_a_role_under_another_name(tmp_path: Path) -> None:
    mapping = parse_map(
        "columns: {session: 工单, role: 谁, text: 话, timestamp: 何时}\n"
        "roles: {model: [机器人], user: [VIP]}",
        "map.yaml",
    )
    rows = [["t1", "VIP", "充值没到账", "1"], ["t1", "机器人", "请提供订单号", "2"]]
    report, files = _run(tmp_path, _csv(rows, ["工单", "谁", "话", "何时"]), mapping=mapping)
    assert _texts(files["train"][0]) == [("user", "充值没到账"), ("model", "请提供订单号")]
    assert not report.unmapped_roles


def test_missing_columns_say_which_and_how_to_map_them(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"no column for role.*--map"):
        _run(tmp_path, _csv([["a", "b"]], ["会话ID", "内容"]))


def test_a_long_session_is_split_between_exchanges_within_the_budget(tmp_path: Path) -> None:
    rows = []
    for i in range(12):
        rows += [
            ["long", "user", f"question {i} " + "word " * 40, str(2 * i)],
            ["long", "agent", f"answer {i} " + "word " * 40, str(2 * i + 1)],
        ]
    report, files = _run(tmp_path, _csv(rows), max_tokens=250)
    pieces = [ex for split in files.values() for ex in split]
    assert len(pieces) == 12 // 2 and report.notes["long_session_split"] == 1
    assert all(
        ex["contents"][0]["role"] == "user" and ex["contents"][-1]["role"] == "model"
        for ex in pieces
    )
    # one session: every piece in one split
    assert sum(1 for split in files.values() if split) == 1


def _sessions(n: int, closing: bool = False) -> list[list[Any]]:
    rows = []
    topics = [
        "recharge",
        "login",
        "ban",
        "refund",
        "event",
        "rename",
        "lag",
        "report",
        "gift",
        "guild",
    ]
    for s in range(n):
        words = " ".join(f"{topics[s % len(topics)]}{s}w{k}" for k in range(12))
        rows += [
            [f"s{s:03d}", "user", f"player question {words}", "1"],
            [f"s{s:03d}", "agent", f"agent answer {words} done", "2"],
        ]
        if closing:
            rows += [
                [f"s{s:03d}", "user", "thanks a lot", "3"],
                [f"s{s:03d}", "agent", "you are welcome, have fun", "4"],
            ]
    return rows


def test_whole_conversation_duplicates_are_dropped_not_shared_closings(tmp_path: Path) -> None:
    rows = _sessions(40, closing=True)
    copy = [["dup", r[1], r[2], r[3]] for r in rows if r[0] == "s005"]
    near = [
        ["near", r[1], r[2] + ("!" if r[1] == "agent" else ""), r[3]]
        for r in rows
        if r[0] == "s006"
    ]
    report, files = _run(tmp_path, _csv(rows + copy + near))
    assert report.dropped["exact_duplicate"] == 1
    assert report.dropped["near_duplicate"] == 1
    # 40 sessions end with the same "thanks" exchange and none is dropped for it
    assert sum(len(x) for x in files.values()) == 40


def test_no_session_and_no_near_duplicate_final_exchange_spans_two_splits(tmp_path: Path) -> None:
    rows = _sessions(200)
    # 10 pairs of sessions that differ early but end with the same question and answer
    for s in range(0, 20, 2):
        last_q = next(r for r in rows if r[0] == f"s{s:03d}" and r[1] == "user")
        last_a = next(r for r in rows if r[0] == f"s{s:03d}" and r[1] == "agent")
        rows += [
            [f"twin{s}", "user", "a different opening question about my account", "1"],
            [f"twin{s}", "agent", "a different first answer about your account", "2"],
            [f"twin{s}", "user", last_q[2], "3"],
            [f"twin{s}", "agent", last_a[2], "4"],
        ]
    report, files = _run(tmp_path, _csv(rows), seed=3, max_tokens=10_000)
    assert report.examples_built == 210 and not report.dropped["near_duplicate"]
    assert report.split_groups["near_duplicate_links"] == 10
    where: dict[str, str] = {}
    for split, examples in files.items():
        for ex in examples:
            last = ex["contents"][-1]["parts"][0]["text"]
            assert where.setdefault(last, split) == split, last
    assert report.splits["validation"] > 0 and report.splits["test"] > 0
    assert report.overlap["validation"]["overlapping"] == 0
    assert report.overlap["test"]["overlapping"] == 0


def test_the_split_is_seeded_and_follows_the_validation_rule(tmp_path: Path) -> None:
    data = _csv(_sessions(120))
    a = _run(tmp_path / "a", data, seed=1)[1]
    b = _run(tmp_path / "b", data, seed=1)[1]
    c = _run(tmp_path / "c", data, seed=2)[1]
    assert a == b and a != c
    assert len(a["validation"]) == 12 and len(a["test"]) == 12


def test_personal_data_policy_redact_warn_reject(tmp_path: Path) -> None:
    rows = [
        *_sessions(5),
        ["pii", "user", "我的手机13912345678", "1"],
        ["pii", "agent", "已记录13912345678", "2"],
    ]
    data = _csv(rows)
    r, files = _run(tmp_path / "r", data, privacy=PrivacyOptions(policy="redact"))
    body = json.dumps(files, ensure_ascii=False)
    assert (
        "13912345678" not in body and body.count("<PHONE_1>") == 2 and r.personal_data["phone"] == 2
    )
    w, files = _run(tmp_path / "w", data, privacy=PrivacyOptions(policy="warn"))
    assert "13912345678" in json.dumps(files, ensure_ascii=False) and w.personal_data["phone"] == 2
    j, files = _run(tmp_path / "j", data, privacy=PrivacyOptions(policy="reject"))
    assert (
        "13912345678" not in json.dumps(files, ensure_ascii=False)
        and j.dropped["personal_data"] == 1
    )


def test_jsonl_messages_and_contents_and_a_system_instruction(tmp_path: Path) -> None:
    lines = [
        {
            "messages": [
                {"role": "user", "content": "hi"},
                {"role": "assistant", "content": "hello"},
            ]
        },
        {
            "contents": [
                {"role": "user", "parts": [{"text": "q"}]},
                {"role": "model", "parts": [{"text": "a"}]},
            ]
        },
    ]
    data = b"".join(json.dumps(x).encode() + b"\n" for x in lines) + b"not json\n"
    report, files = _run(tmp_path, data, name="chat.jsonl", system_instruction="你是客服")
    (a, b) = files["train"]
    assert a["contents"][1] == {"role": "model", "parts": [{"text": "hello"}]}
    assert (
        a["systemInstruction"]["parts"][0]["text"]
        == "你是客服"
        == b["systemInstruction"]["parts"][0]["text"]
    )
    assert report.problems["invalid_json"].count == 1


@pytest.mark.parametrize(
    ("data", "name"),
    [
        ("会话ID,内容".encode(), "UTF-8"),
        (b"\xef\xbb\xbf" + "会话ID".encode(), "UTF-8-BOM"),
        ("会话ID,内容,玩家".encode("gb18030"), "GB18030"),
        ("会话ID\t内容".encode("utf-16"), "UTF-16"),
        ("session\ttext".encode("utf-16-le"), "UTF-16-LE"),
    ],
)
def test_encodings_are_detected_and_named(data: bytes, name: str) -> None:
    assert detect(data).name == name


def test_an_encoding_error_past_the_head_is_a_clear_error(tmp_path: Path) -> None:
    from shared.cli import main

    src = tmp_path / "export.csv"
    src.write_bytes(_csv(_sessions(3000)) + "s9,user,坏的".encode("gb18030") + b"\n")
    assert main(["prepare", str(src), "--out", str(tmp_path / "out")]) == 2


def test_template_answers_are_flagged_and_kept(tmp_path: Path) -> None:
    rows = [*_sessions(30)]
    asks = [
        "充值",
        "登录",
        "封号",
        "退款",
        "活动",
        "改名",
        "卡顿",
        "举报",
        "礼包",
        "公会",
        "副本",
        "坐骑",
    ]
    for s, ask in enumerate(asks):
        rows += [
            [f"t{s}", "user", f"{ask}的问题怎么办？{ask * 3}", "1"],
            [f"t{s}", "agent", "您好，请提交工单，我们会尽快处理。", "2"],
        ]
    report, files = _run(tmp_path, _csv(rows))
    assert report.template_answers.count == 12
    assert report.template_answers.samples[0]["answer"] == "您好，请提交工单，我们会尽快处理。"
    assert sum(len(x) for x in files.values()) == 42


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-11-02 09:03:04", "2026-11-02 09:03:04.000000"),
        ("2026/11/2 9:03", "2026-11-02 09:03:00.000000"),
        ("2026年11月2日 09:03:04", "2026-11-02 09:03:04.000000"),
        ("2026-11-02T01:03:04Z", "2026-11-02 01:03:04.000000"),
        ("2026-11-02T09:03:04+08:00", "2026-11-02 01:03:04.000000"),
        ("1762074184", "2025-11-02 09:03:04.000000"),
        ("1762074184000", "2025-11-02 09:03:04.000000"),
        ("", ""),
        ("yesterday", None),
    ],
)
def test_timestamps_become_one_sortable_form(value: str, expected: str | None) -> None:
    from shared.prepare.readers import sort_time

    assert sort_time(value) == expected


def test_an_unreadable_timestamp_is_a_finding_and_keeps_file_order(tmp_path: Path) -> None:
    rows = [["s", "user", "q", "soon"], ["s", "agent", "a", "later"]]
    report, files = _run(tmp_path, _csv(rows))
    assert report.problems["unparsed_timestamp"].count == 2
    assert _texts(files["train"][0]) == [("user", "q"), ("model", "a")]


def test_a_closing_shared_by_many_sessions_is_capped_and_its_overlap_reported(
    tmp_path: Path,
) -> None:
    rows = _sessions(100, closing=True)  # every session ends "thanks" / "you are welcome"
    report, files = _run(tmp_path, _csv(rows))
    assert report.split_groups["links_refused_at_cap"] > 0
    sizes = {k: len(v) for k, v in files.items()}
    assert sizes == {"train": 80, "validation": 10, "test": 10}  # not one giant group
    assert report.overlap["validation"] == {
        "examples": 10,
        "of": 10,
        "overlapping": 10,
        "share": 1.0,
    }


def test_a_band_group_larger_than_sqlites_variable_limit_is_read_in_steps(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 1 GB export crashed with `too many SQL variables`: one band group (many sessions with
    near-identical conversations) became one `WHERE id IN (...)` query. Here SQLite's limit is
    lowered to 100 variables and 300 such sessions are prepared."""
    import sqlite3

    connect = sqlite3.connect

    def limited(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        db: sqlite3.Connection = connect(*args, **kwargs)
        db.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 100)
        return db

    monkeypatch.setattr(sqlite3, "connect", limited)  # the spill's database
    answer = "很抱歉给您带来不便，我们已经为您催促处理，请耐心等待，预计二十四小时内到账。"
    rows = []
    for s in range(300):
        rows += [
            [f"s{s:03d}", "user", f"我的充值一直没有到账，订单号是 GM{s:010d}，请帮忙看看", "1"],
            [f"s{s:03d}", "agent", answer, "2"],
        ]
    report, files = _run(tmp_path, _csv(rows))
    kept = sum(len(x) for x in files.values())
    assert report.dropped["near_duplicate"] > 100  # the group was read and compared whole
    assert kept + report.dropped["near_duplicate"] + report.dropped["exact_duplicate"] == 300
