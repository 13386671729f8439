"""Convert chat JSONL in the legacy `messages` / OpenAI shape to the Vertex AI `contents` shape.

Today's tuning API rejects `{"messages": [...]}` with "Missing required `contents` field", and
teams arrive with OpenAI fine-tuning files. Rather than hand-editing thousands of lines, they run
`gemini-tuning convert`. The mapping (system -> systemInstruction, assistant -> model, tool calls
-> functionCall / functionResponse parts) is lossless for text and tools; anything it cannot map
faithfully (images by URL, dangling tool results, ...) is skipped with a reason instead of being
guessed at, so the output never silently differs from what the author meant.

Streaming: one line in memory at a time, so a 1 GB training file converts in bounded memory.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, BinaryIO

import orjson

#: Line numbers kept per reason in a report; counts are always complete.
MAX_LINES_PER_REASON = 10

_ROLE_MAP = {"user": "user", "assistant": "model", "model": "model", "tool": "user"}


class Unconvertible(ValueError):
    """One line cannot be converted faithfully. `reason` groups lines in the report."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


#: What each reason means and what the user can do about it (shown once per reason).
REASON_HINTS: dict[str, str] = {
    "not_utf8": "the line is not UTF-8 text; re-save the file as UTF-8",
    "invalid_json": "the line is not valid JSON; fix the syntax (one JSON object per line)",
    "not_an_object": 'each line must be a JSON object like {"messages": [...]}',
    "unknown_format": "the object has neither `messages` nor `contents`; nothing to convert",
    "bad_messages": "`messages` must be a non-empty list of {role, content} objects",
    "unknown_role": "roles must be system, user, assistant (or model), tool or function",
    "misplaced_system": "a system message after the conversation started has no Gemini "
    "equivalent (one systemInstruction per example); move it to the top",
    "unsupported_content": "only text content converts; images/audio/files need a gs:// "
    "fileData part written by hand",
    "empty_message": "a message has no text and no tool call; remove it or fill it in",
    "bad_tool_call": "a tool call needs a function name and JSON-object arguments",
    "orphan_tool_result": "a tool message must answer an earlier assistant tool call "
    "(matching tool_call_id or name)",
    "no_turns": "the example has no user or assistant messages",
}


@dataclass
class ReasonTally:
    """How many lines failed for one reason, with the first few line numbers and details."""

    count: int = 0
    samples: list[tuple[int, str]] = field(default_factory=list)

    def add(self, line_no: int, detail: str) -> None:
        self.count += 1
        if len(self.samples) < MAX_LINES_PER_REASON:
            self.samples.append((line_no, detail))


@dataclass
class ConvertReport:
    """Counts for one conversion plus every skipped line grouped by reason."""

    lines: int = 0
    converted: int = 0
    passed_through: int = 0
    blank: int = 0
    skipped: dict[str, ReasonTally] = field(default_factory=dict)

    @property
    def skipped_total(self) -> int:
        return sum(t.count for t in self.skipped.values())

    @property
    def written(self) -> int:
        return self.converted + self.passed_through

    @property
    def ok(self) -> bool:
        return not self.skipped

    def skip(self, line_no: int, err: Unconvertible) -> None:
        self.skipped.setdefault(err.reason, ReasonTally()).add(line_no, err.detail)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "lines": self.lines,
            "converted": self.converted,
            "passed_through": self.passed_through,
            "written": self.written,
            "blank": self.blank,
            "skipped": self.skipped_total,
            "skipped_by_reason": {
                reason: {
                    "count": t.count,
                    "hint": REASON_HINTS.get(reason, ""),
                    "samples": [{"line": n, "detail": d} for n, d in t.samples],
                }
                for reason, t in sorted(self.skipped.items())
            },
        }


# --------------------------------------------------------------------------------------------
# One example
# --------------------------------------------------------------------------------------------


def _text_parts(content: Any, where: str) -> list[dict[str, Any]]:
    """OpenAI content: a string, None, or a list of {type: text, text} parts."""
    if content is None:
        return []
    if isinstance(content, str):
        return [{"text": content}] if content else []
    if isinstance(content, list):
        parts: list[dict[str, Any]] = []
        for i, item in enumerate(content):
            if isinstance(item, str):
                if item:
                    parts.append({"text": item})
                continue
            if not isinstance(item, Mapping):
                raise Unconvertible("bad_messages", f"{where} content[{i}] is not an object")
            kind = item.get("type", "text")
            if kind not in ("text", "input_text", "output_text"):
                raise Unconvertible("unsupported_content", f"{where} has a {kind!r} part")
            text = item.get("text")
            if not isinstance(text, str):
                raise Unconvertible("bad_messages", f"{where} content[{i}] has no text string")
            if text:
                parts.append({"text": text})
        return parts
    raise Unconvertible("bad_messages", f"{where} content is {type(content).__name__}")


def _json_args(raw: Any, where: str) -> dict[str, Any]:
    """Tool-call arguments arrive as a JSON string (OpenAI) or already as an object."""
    if raw is None or raw == "":
        return {}
    if isinstance(raw, str):
        try:
            raw = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise Unconvertible("bad_tool_call", f"{where} arguments are not valid JSON") from None
    if not isinstance(raw, dict):
        raise Unconvertible("bad_tool_call", f"{where} arguments are not a JSON object")
    return raw


def _function_call(call: Any, where: str) -> tuple[str | None, dict[str, Any]]:
    """Returns (tool_call_id, functionCall part) for an OpenAI tool call or legacy function_call."""
    if not isinstance(call, Mapping):
        raise Unconvertible("bad_tool_call", f"{where} is not an object")
    fn = call.get("function", call)
    if not isinstance(fn, Mapping) or not isinstance(fn.get("name"), str) or not fn["name"]:
        raise Unconvertible("bad_tool_call", f"{where} has no function name")
    args = _json_args(fn.get("arguments"), where)
    call_id = call.get("id")
    return (call_id if isinstance(call_id, str) else None), {
        "functionCall": {"name": fn["name"], "args": args}
    }


def _function_response(msg: Mapping[str, Any], name: str, where: str) -> dict[str, Any]:
    """A tool result becomes functionResponse; `response` must be an object, so wrap others."""
    content = msg.get("content")
    if isinstance(content, list):
        content = "".join(p["text"] for p in _text_parts(content, where))
    value: Any = content
    if isinstance(content, str):
        try:
            value = orjson.loads(content)
        except orjson.JSONDecodeError:
            value = content
    response = value if isinstance(value, dict) else {"content": value}
    return {"functionResponse": {"name": name, "response": response}}


def _schema(node: Any) -> Any:
    """JSON Schema -> Vertex `Schema`: enum type names are upper case, `["x", "null"]` is
    `nullable`. Other keywords are kept as they are."""
    if isinstance(node, list):
        return [_schema(x) for x in node]
    if not isinstance(node, Mapping):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "type" and isinstance(value, list):
            kinds = [v for v in value if v != "null"]
            if len(kinds) == 1 and isinstance(kinds[0], str):
                out["type"] = kinds[0].upper()
                if len(kinds) < len(value):
                    out["nullable"] = True
                continue
        if key == "type" and isinstance(value, str):
            out["type"] = value.upper()
        elif key in ("properties", "$defs", "definitions") and isinstance(value, Mapping):
            out[key] = {k: _schema(v) for k, v in value.items()}
        else:
            out[key] = _schema(value)
    return out


def _declaration(fn: Any) -> dict[str, Any] | None:
    if not isinstance(fn, Mapping) or not isinstance(fn.get("name"), str):
        return None
    decl: dict[str, Any] = {"name": fn["name"]}
    if isinstance(fn.get("description"), str):
        decl["description"] = fn["description"]
    if isinstance(fn.get("parameters"), Mapping):
        decl["parameters"] = _schema(fn["parameters"])
    return decl


def _tools(obj: Mapping[str, Any]) -> list[dict[str, Any]] | None:
    """OpenAI `tools` / legacy `functions` -> one Gemini tool with functionDeclarations."""
    tools, functions = obj.get("tools"), obj.get("functions")
    raw = (
        [t.get("function") for t in tools if isinstance(t, Mapping)]
        if isinstance(tools, list)
        else []
    )
    raw += functions if isinstance(functions, list) else []
    decls = [d for d in map(_declaration, raw) if d is not None]
    return [{"functionDeclarations": decls}] if decls else None


def convert_line(obj: Any) -> dict[str, Any]:
    """Convert one parsed example to the `contents` shape (returned unchanged if already so).

    Raises `Unconvertible` with a reason code from `REASON_HINTS` when it cannot be mapped.
    """
    if not isinstance(obj, dict):
        raise Unconvertible("not_an_object", f"got a JSON {type(obj).__name__}")
    if "contents" in obj:
        return obj
    messages = obj.get("messages")
    if messages is None:
        keys = ", ".join(sorted(map(str, obj))) or "none"
        raise Unconvertible("unknown_format", f"keys: {keys}")
    if not isinstance(messages, list) or not messages:
        raise Unconvertible("bad_messages", "`messages` is not a non-empty list")

    system_parts: list[dict[str, Any]] = []
    contents: list[dict[str, Any]] = []
    call_names: dict[str, str] = {}  # tool_call_id -> function name
    open_calls: list[str] = []  # names called, in order, for results without an id

    for i, msg in enumerate(messages):
        where = f"message {i + 1}"
        if not isinstance(msg, Mapping):
            raise Unconvertible("bad_messages", f"{where} is not an object")
        role = msg.get("role")
        if role in ("system", "developer"):
            if contents:
                raise Unconvertible("misplaced_system", f"{where} comes after the first turn")
            system_parts.extend(_text_parts(msg.get("content"), where))
            continue
        if role == "function":  # legacy OpenAI function result: {role, name, content}
            role = "tool"
        if role not in _ROLE_MAP:
            raise Unconvertible("unknown_role", f"{where} has role {role!r}")

        parts: list[dict[str, Any]]
        if role == "tool":
            call_id = msg.get("tool_call_id")
            name = call_names.get(call_id) if isinstance(call_id, str) else None
            if name is None and isinstance(msg.get("name"), str) and msg["name"] in open_calls:
                name = msg["name"]
            if name is None and call_id is None and len(set(open_calls)) == 1:
                name = open_calls[0]
            if name is None:
                raise Unconvertible("orphan_tool_result", f"{where} answers no known tool call")
            parts = [_function_response(msg, name, where)]
        else:
            parts = _text_parts(msg.get("content"), where)
            if _ROLE_MAP[role] == "model":
                raw_calls = msg.get("tool_calls") or []
                if not isinstance(raw_calls, list):
                    raise Unconvertible("bad_tool_call", f"{where} tool_calls is not a list")
                calls = list(raw_calls)
                if msg.get("function_call") is not None:
                    calls.append(msg["function_call"])
                for j, call in enumerate(calls):
                    call_id, part = _function_call(call, f"{where} tool call {j + 1}")
                    name = part["functionCall"]["name"]
                    if call_id:
                        call_names[call_id] = name
                    open_calls.append(name)
                    parts.append(part)
        if not parts:
            raise Unconvertible("empty_message", f"{where} ({role}) is empty")

        gemini_role = _ROLE_MAP[role]
        if contents and contents[-1]["role"] == gemini_role:
            contents[-1]["parts"].extend(parts)
        else:
            contents.append({"role": gemini_role, "parts": parts})

    if not contents:
        raise Unconvertible("no_turns", "only system messages")
    out: dict[str, Any] = {}
    if system_parts:
        out["systemInstruction"] = {"role": "system", "parts": system_parts}
    out["contents"] = contents
    tools = _tools(obj)
    if tools:
        out["tools"] = tools
    return out


# --------------------------------------------------------------------------------------------
# A whole file
# --------------------------------------------------------------------------------------------


def _lines(src: BinaryIO) -> Iterator[tuple[int, bytes]]:
    for n, raw in enumerate(src, start=1):
        if n == 1 and raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]
        yield n, raw.rstrip(b"\r\n")


def convert_stream(src: BinaryIO, dst: BinaryIO) -> ConvertReport:
    """Convert `src` line by line into `dst`; skipped lines are reported, never written.

    Lines already in `contents` format are copied byte for byte (minus the line ending), so a
    half-converted file converts cleanly and Chinese text is never re-escaped.
    """
    report = ConvertReport()
    for n, raw in _lines(src):
        report.lines = n
        if not raw.strip():
            report.blank += 1
            continue
        try:
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError as e:
                raise Unconvertible(
                    "not_utf8", f"invalid UTF-8 at byte {e.start + 1} of the line"
                ) from None
            try:
                obj = orjson.loads(raw)
            except orjson.JSONDecodeError as e:
                raise Unconvertible("invalid_json", str(e)) from None
            out = convert_line(obj)
        except Unconvertible as e:
            report.skip(n, e)
            continue
        if out is obj:
            dst.write(raw.strip() + b"\n")
            report.passed_through += 1
        else:
            dst.write(orjson.dumps(out) + b"\n")
            report.converted += 1
    return report
