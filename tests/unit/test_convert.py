"""`gemini-tuning convert`: each mapping rule, skipped lines, and the file-safety promises."""

from __future__ import annotations

import io
import itertools
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.cli import main
from shared.datasets.convert import (
    MAX_LINES_PER_REASON,
    REASON_HINTS,
    Unconvertible,
    convert_line,
    convert_stream,
)


def _convert_bytes(data: bytes) -> tuple[list[dict[str, Any]], Any]:
    dst = io.BytesIO()
    report = convert_stream(io.BytesIO(data), dst)
    rows = [json.loads(line) for line in dst.getvalue().decode("utf-8").splitlines()]
    return rows, report


def _jsonl(*objs: Any) -> bytes:
    return b"".join(json.dumps(o, ensure_ascii=False).encode() + b"\n" for o in objs)


# --- mapping rules ------------------------------------------------------------------------------


def test_legacy_messages_map_roles_and_system_instruction() -> None:
    out = convert_line(
        {
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "Hi"},
                {"role": "model", "content": "Hello"},
                {"role": "user", "content": "Bye"},
                {"role": "assistant", "content": "Goodbye"},
            ]
        }
    )
    assert out == {
        "systemInstruction": {"role": "system", "parts": [{"text": "Be brief."}]},
        "contents": [
            {"role": "user", "parts": [{"text": "Hi"}]},
            {"role": "model", "parts": [{"text": "Hello"}]},
            {"role": "user", "parts": [{"text": "Bye"}]},
            {"role": "model", "parts": [{"text": "Goodbye"}]},
        ],
    }


def test_no_system_message_means_no_system_instruction() -> None:
    out = convert_line(
        {"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]}
    )
    assert "systemInstruction" not in out
    assert [c["role"] for c in out["contents"]] == ["user", "model"]


def test_consecutive_same_role_messages_merge_into_parts() -> None:
    out = convert_line(
        {
            "messages": [
                {"role": "system", "content": "s1"},
                {"role": "system", "content": "s2"},
                {"role": "user", "content": "q1"},
                {"role": "user", "content": "q2"},
                {"role": "assistant", "content": "a"},
            ]
        }
    )
    assert out["systemInstruction"]["parts"] == [{"text": "s1"}, {"text": "s2"}]
    assert out["contents"] == [
        {"role": "user", "parts": [{"text": "q1"}, {"text": "q2"}]},
        {"role": "model", "parts": [{"text": "a"}]},
    ]


def test_openai_content_lists_become_text_parts() -> None:
    out = convert_line(
        {
            "messages": [
                {
                    "role": "user",
                    "content": [{"type": "text", "text": "x"}, {"type": "text", "text": "y"}],
                },
                {"role": "assistant", "content": [{"type": "text", "text": "z"}], "weight": 1},
            ]
        }
    )
    assert out["contents"][0]["parts"] == [{"text": "x"}, {"text": "y"}]
    assert out["contents"][1] == {"role": "model", "parts": [{"text": "z"}]}


def test_openai_tool_calls_and_results_become_function_parts() -> None:
    out = convert_line(
        {
            "messages": [
                {"role": "user", "content": "Where is order 42?"},
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "call_1",
                            "type": "function",
                            "function": {"name": "lookup_order", "arguments": '{"order_id": 42}'},
                        },
                        {
                            "id": "call_2",
                            "type": "function",
                            "function": {"name": "lookup_user", "arguments": "{}"},
                        },
                    ],
                },
                {"role": "tool", "tool_call_id": "call_1", "content": '{"status": "shipped"}'},
                {"role": "tool", "tool_call_id": "call_2", "content": "plain text"},
                {"role": "assistant", "content": "It shipped."},
            ],
            "tools": [
                {
                    "type": "function",
                    "function": {
                        "name": "lookup_order",
                        "description": "Find an order",
                        "parameters": {
                            "type": "object",
                            "properties": {"order_id": {"type": ["integer", "null"]}},
                        },
                    },
                }
            ],
        }
    )
    assert out["contents"] == [
        {"role": "user", "parts": [{"text": "Where is order 42?"}]},
        {
            "role": "model",
            "parts": [
                {"functionCall": {"name": "lookup_order", "args": {"order_id": 42}}},
                {"functionCall": {"name": "lookup_user", "args": {}}},
            ],
        },
        {
            "role": "user",
            "parts": [
                {"functionResponse": {"name": "lookup_order", "response": {"status": "shipped"}}},
                {
                    "functionResponse": {
                        "name": "lookup_user",
                        "response": {"content": "plain text"},
                    }
                },
            ],
        },
        {"role": "model", "parts": [{"text": "It shipped."}]},
    ]
    assert out["tools"] == [
        {
            "functionDeclarations": [
                {
                    "name": "lookup_order",
                    "description": "Find an order",
                    "parameters": {
                        "type": "OBJECT",
                        "properties": {"order_id": {"type": "INTEGER", "nullable": True}},
                    },
                }
            ]
        }
    ]


def test_legacy_function_call_and_function_role() -> None:
    out = convert_line(
        {
            "messages": [
                {"role": "user", "content": "weather?"},
                {
                    "role": "assistant",
                    "function_call": {"name": "wx", "arguments": '{"city": "Oslo"}'},
                },
                {"role": "function", "name": "wx", "content": "rain"},
                {"role": "assistant", "content": "Rain."},
            ],
            "functions": [{"name": "wx", "parameters": {"type": "object"}}],
        }
    )
    assert out["contents"][1]["parts"] == [
        {"functionCall": {"name": "wx", "args": {"city": "Oslo"}}}
    ]
    assert out["contents"][2]["parts"] == [
        {"functionResponse": {"name": "wx", "response": {"content": "rain"}}}
    ]
    assert out["tools"] == [
        {"functionDeclarations": [{"name": "wx", "parameters": {"type": "OBJECT"}}]}
    ]


def test_contents_lines_pass_through_byte_for_byte() -> None:
    line = '{"contents":[{"role":"user","parts":[{"text":"充值没到账"}]}],  "extra": 1}'
    obj = json.loads(line)
    assert convert_line(obj) is obj
    dst = io.BytesIO()
    report = convert_stream(io.BytesIO(line.encode() + b"\r\n"), dst)
    assert dst.getvalue() == line.encode() + b"\n"
    assert (report.passed_through, report.converted) == (1, 0)


def test_chinese_text_round_trips_unescaped() -> None:
    text = "您好，请提供订单号（以 GP 开头），我们会在 24 小时内为您补发钻石。😀"
    rows, report = _convert_bytes(
        _jsonl(
            {
                "messages": [
                    {"role": "user", "content": "充值未到账"},
                    {"role": "assistant", "content": text},
                ]
            }
        )
    )
    assert report.ok and rows[0]["contents"][1]["parts"][0]["text"] == text
    dst = io.BytesIO()
    convert_stream(
        io.BytesIO(
            _jsonl(
                {
                    "messages": [
                        {"role": "user", "content": text},
                        {"role": "assistant", "content": "好"},
                    ]
                }
            )
        ),
        dst,
    )
    assert text.encode("utf-8") in dst.getvalue() and b"\\u" not in dst.getvalue()


def test_bom_and_blank_lines_are_tolerated() -> None:
    data = (
        b"\xef\xbb\xbf"
        + _jsonl(
            {"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]}
        )
        + b"\n  \n"
    )
    rows, report = _convert_bytes(data)
    assert len(rows) == 1 and report.ok and report.blank == 2 and report.lines == 3


# --- lines that cannot be converted ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("obj", "reason"),
    [
        ([1, 2], "not_an_object"),
        ({"prompt": "a", "completion": "b"}, "unknown_format"),
        ({"messages": []}, "bad_messages"),
        ({"messages": "hi"}, "bad_messages"),
        ({"messages": [{"role": "bot", "content": "x"}]}, "unknown_role"),
        (
            {"messages": [{"role": "user", "content": "a"}, {"role": "system", "content": "s"}]},
            "misplaced_system",
        ),
        (
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [{"type": "image_url", "image_url": {"url": "https://x/y.png"}}],
                    }
                ]
            },
            "unsupported_content",
        ),
        (
            {"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": ""}]},
            "empty_message",
        ),
        (
            {
                "messages": [
                    {"role": "user", "content": "a"},
                    {
                        "role": "assistant",
                        "tool_calls": [
                            {"id": "c", "function": {"name": "f", "arguments": "{oops"}}
                        ],
                    },
                ]
            },
            "bad_tool_call",
        ),
        (
            {
                "messages": [
                    {"role": "user", "content": "a"},
                    {
                        "role": "assistant",
                        "tool_calls": [{"id": "c", "function": {"arguments": "{}"}}],
                    },
                ]
            },
            "bad_tool_call",
        ),
        (
            {
                "messages": [
                    {"role": "user", "content": "a"},
                    {"role": "tool", "tool_call_id": "nope", "content": "x"},
                ]
            },
            "orphan_tool_result",
        ),
        ({"messages": [{"role": "system", "content": "only"}]}, "no_turns"),
        ({"messages": [{"role": "user", "content": 5}]}, "bad_messages"),
    ],
)
def test_unconvertible_examples_name_their_reason(obj: Any, reason: str) -> None:
    with pytest.raises(Unconvertible) as exc:
        convert_line(obj)
    assert exc.value.reason == reason


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda kids: (
        st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=4), kids, max_size=3)
    ),
    max_leaves=8,
)
_message = st.fixed_dictionaries(
    {"role": st.sampled_from(["system", "user", "assistant", "tool", "function", "x"])},
    optional={
        "content": _json | st.text(max_size=5),
        "tool_calls": _json
        | st.lists(
            st.fixed_dictionaries(
                {
                    "id": st.text(max_size=2),
                    "function": st.fixed_dictionaries(
                        {"name": _json, "arguments": _json | st.just("{}")}
                    ),
                }
            ),
            max_size=2,
        ),
        "tool_call_id": st.text(max_size=2),
        "name": _json,
    },
)


@settings(max_examples=300, deadline=None)
@given(st.one_of(_json, st.fixed_dictionaries({"messages": st.lists(_message, max_size=5)})))
def test_any_json_either_converts_or_names_a_reason(obj: Any) -> None:
    """Never a traceback: arbitrary input converts to alternating-role turns or is Unconvertible."""
    try:
        out = convert_line(obj)
    except Unconvertible as e:
        assert e.reason in REASON_HINTS
        return
    if out is obj:
        return
    roles = [c["role"] for c in out["contents"]]
    assert roles and all(a != b for a, b in itertools.pairwise(roles))
    assert all(c["parts"] for c in out["contents"])


def test_stream_skips_bad_lines_with_line_numbers_and_keeps_good_ones() -> None:
    good = {"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]}
    data = _jsonl(good) + b"{not json\n" + b'{"messages": "\xff\xfe"}\n' + _jsonl([1], good)
    rows, report = _convert_bytes(data)
    assert len(rows) == 2 and report.converted == 2 and not report.ok
    assert {r: [n for n, _ in t.samples] for r, t in report.skipped.items()} == {
        "invalid_json": [2],
        "not_utf8": [3],
        "not_an_object": [4],
    }
    assert report.to_dict()["skipped"] == 3


def test_report_caps_samples_but_counts_everything() -> None:
    n = MAX_LINES_PER_REASON + 7
    _, report = _convert_bytes(b"{bad\n" * n)
    tally = report.skipped["invalid_json"]
    assert tally.count == n and len(tally.samples) == MAX_LINES_PER_REASON


# --- the command --------------------------------------------------------------------------------


@pytest.fixture
def legacy_file(tmp_path: Path) -> Path:
    p = tmp_path / "legacy.jsonl"
    p.write_bytes(
        _jsonl(
            {
                "messages": [
                    {"role": "system", "content": "客服"},
                    {"role": "user", "content": "退款"},
                    {"role": "assistant", "content": "请提供订单号。"},
                ]
            },
            {
                "messages": [
                    {"role": "user", "content": "hi"},
                    {"role": "assistant", "content": "hello"},
                ]
            },
        )
    )
    return p


def test_cli_converts_and_leaves_input_untouched(
    legacy_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = legacy_file.read_bytes()
    out = tmp_path / "out.jsonl"
    assert main(["convert", str(legacy_file), str(out)]) == 0
    assert legacy_file.read_bytes() == before
    rows = [json.loads(x) for x in out.read_text("utf-8").splitlines()]
    assert rows[0]["systemInstruction"]["parts"] == [{"text": "客服"}]
    assert len(rows) == 2
    assert "2 converted" in capsys.readouterr().out
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_cli_refuses_to_overwrite_without_force(
    legacy_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out.jsonl"
    out.write_bytes(b"keep me\n")
    assert main(["convert", str(legacy_file), str(out)]) == 2
    assert out.read_bytes() == b"keep me\n"
    assert "--force" in capsys.readouterr().err
    assert main(["convert", str(legacy_file), str(out), "--force"]) == 0
    assert out.read_bytes() != b"keep me\n"


def test_cli_never_writes_over_its_input(legacy_file: Path) -> None:
    before = legacy_file.read_bytes()
    assert main(["convert", str(legacy_file), str(legacy_file), "--force"]) == 2
    assert legacy_file.read_bytes() == before


def test_cli_json_report_and_exit_1_when_lines_skipped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "in.jsonl"
    src.write_bytes(
        _jsonl(
            {"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]}
        )
        + b"oops\n"
    )
    assert main(["convert", str(src), str(tmp_path / "o.jsonl"), "--json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["converted"] == 1 and doc["skipped"] == 1
    assert doc["skipped_by_reason"]["invalid_json"]["samples"][0]["line"] == 2


@pytest.mark.parametrize("case", ["missing", "folder_in", "folder_out", "no_parent"])
def test_cli_usage_errors_are_messages_not_tracebacks(
    case: str, legacy_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = {
        "missing": [str(tmp_path / "nope.jsonl"), str(tmp_path / "o.jsonl")],
        "folder_in": [str(tmp_path), str(tmp_path / "o.jsonl")],
        "folder_out": [str(legacy_file), str(tmp_path)],
        "no_parent": [str(legacy_file), str(tmp_path / "a" / "b.jsonl")],
    }[case]
    assert main(["convert", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("gemini-tuning convert:") and "Traceback" not in err


# --- OUT `-`: stdout ----------------------------------------------------------------------------


def _cli(*args: str, stdin: bytes = b"", cwd: Path) -> subprocess.CompletedProcess[bytes]:
    """The real command in a child process: stdout is a real pipe, not pytest's capture."""
    code = "import sys; from shared.cli import main; sys.exit(main(sys.argv[1:]))"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    return subprocess.run(
        [sys.executable, "-c", code, *args], input=stdin, capture_output=True, cwd=cwd, env=env
    )


def test_cli_dash_writes_only_the_converted_lines_to_stdout(
    legacy_file: Path, tmp_path: Path
) -> None:
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    done = _cli("convert", str(legacy_file), "-", cwd=cwd)
    assert done.returncode == 0, done.stderr
    rows = [json.loads(x) for x in done.stdout.decode("utf-8").splitlines()]
    assert len(rows) == 2 and all("contents" in r for r in rows)
    assert rows[0]["systemInstruction"]["parts"] == [{"text": "客服"}]
    assert "2 converted" in done.stderr.decode() and "-> stdout" in done.stderr.decode()
    assert list(cwd.iterdir()) == [], "no file named - (or a temp file) is created"


def test_cli_dash_to_dash_is_a_filter_and_json_report_goes_to_stderr(
    legacy_file: Path, tmp_path: Path
) -> None:
    data = legacy_file.read_bytes() + b"oops\n"
    done = _cli("convert", "-", "-", "--json", stdin=data, cwd=tmp_path)
    assert done.returncode == 1  # a line skipped
    assert len(done.stdout.splitlines()) == 2
    assert all("contents" in json.loads(x) for x in done.stdout.splitlines())
    report = json.loads(done.stderr)
    assert report["output"] == "stdout" and report["skipped"] == 1


def test_cli_dash_with_nothing_convertible_prints_nothing_on_stdout(tmp_path: Path) -> None:
    done = _cli("convert", "-", "-", stdin=b"oops\n", cwd=tmp_path)
    assert done.returncode == 1 and done.stdout == b""
    assert "nothing was written" in done.stderr.decode()


def test_cli_dash_with_a_missing_input_is_a_message(tmp_path: Path) -> None:
    done = _cli("convert", str(tmp_path / "nope.jsonl"), "-", cwd=tmp_path)
    assert done.returncode == 2 and done.stdout == b""
    assert done.stderr.decode().startswith("gemini-tuning convert:")
