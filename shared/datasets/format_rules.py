"""The detailed walk over one decoded example: every line-level rule, with a precise path.

Runs only on lines the fast path (`schema.py`) did not accept, so it favours clear messages over
speed. It accepts every valid variant the Vertex AI format allows (function calling, snake-case
keys as proto-JSON parsing does, `gs://` / `https://` file parts) and reports each mistake with a
stable code, a path such as `contents[2].parts[0]`, and what to do.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from shared.catalog import ModelLimits
from shared.datasets.tokens import IMAGE_TOKENS, text_units

Emit = Callable[[str, str, str], None]
"""emit(code, path, message)"""

TURN_ROLES = ("user", "model")
SYSTEM_KEYS = ("systemInstruction", "system_instruction")
TOP_KEYS = frozenset({"contents", "tools", *SYSTEM_KEYS})
TURN_KEYS = frozenset({"role", "parts"})
# Proto-JSON parsing accepts both the camelCase and the snake_case spelling of every field.
TEXT = "text"
FILE_DATA = ("fileData", "file_data")
FUNCTION_CALL = ("functionCall", "function_call")
FUNCTION_RESPONSE = ("functionResponse", "function_response")
INLINE_DATA = ("inlineData", "inline_data")
DATA_KEYS = frozenset({TEXT, *FILE_DATA, *FUNCTION_CALL, *FUNCTION_RESPONSE, *INLINE_DATA})
PART_EXTRA_KEYS = frozenset({"thought", "thoughtSignature", "thought_signature"})
URI_SCHEMES = ("gs://", "https://", "http://")

#: MIME type -> media kind, for the file parts Gemini tuning accepts (one place to update).
MIME_KINDS: dict[str, str] = {
    **{f"image/{t}": "image" for t in ("jpeg", "png", "webp", "heic", "heif")},
    **{
        f"audio/{t}": "audio"
        for t in ("wav", "x-wav", "mp3", "mpeg", "aiff", "aac", "ogg", "flac", "webm")
    },
    **{
        f"video/{t}": "video"
        for t in (
            "mp4",
            "mpeg",
            "mpg",
            "mov",
            "quicktime",
            "avi",
            "x-msvideo",
            "x-flv",
            "webm",
            "wmv",
            "x-ms-wmv",
            "3gpp",
        )
    },
    "application/pdf": "pdf",
    "text/plain": "text",
}


@dataclass(slots=True)
class ExampleFacts:
    """What the statistics need from one valid example."""

    in_chars: int = 0
    in_extra: int = 0
    out_chars: int = 0
    out_extra: int = 0
    turns: int = 0
    media_tokens: int = 0
    has_system: bool = False
    has_function_call: bool = False
    last_model_turn: int = -1
    images: int = 0
    audio: int = 0
    video: int = 0
    pdf: int = 0


def _first(d: Mapping[str, Any], keys: tuple[str, ...]) -> Any:
    for k in keys:
        if k in d:
            return d[k]
    return None


def _kind(v: Any) -> str:
    return {
        dict: "an object",
        list: "a list",
        str: "a string",
        bool: "true/false",
        type(None): "null",
    }.get(type(v), "a number")


def _unknown_keys(obj: Mapping[str, Any], allowed: frozenset[str], path: str, emit: Emit) -> None:
    for k in obj:
        if k not in allowed:
            where = f"{path}.{k}" if path else str(k)
            emit(
                "unknown_key",
                where,
                f"Unknown key {k!r}; Vertex AI ignores or rejects it. Remove it or check the "
                f"spelling (allowed here: {', '.join(sorted(allowed))}).",
            )


class _Walk:
    """State for one example's walk; `ok` turns False at the first error."""

    def __init__(self, emit: Emit, limits: ModelLimits) -> None:
        self._emit = emit
        self.limits = limits
        self.ok = True
        self.facts = ExampleFacts()

    def error(self, code: str, path: str, message: str) -> None:
        self.ok = False
        self._emit(code, path, message)

    def warn(self, code: str, path: str, message: str) -> None:
        self._emit(code, path, message)

    # -- parts ---------------------------------------------------------------------------
    def part(self, p: Any, path: str, *, system: bool = False) -> tuple[int, int, str]:
        """Check one part; returns (chars, extra, kind) where kind is text/file/call/response."""
        if not isinstance(p, dict):
            self.error(
                "invalid_part",
                path,
                f'A part must be an object, got {_kind(p)}. Write {{"text": "..."}}.',
            )
            return 0, 0, ""
        data = [k for k in p if k in DATA_KEYS]
        _unknown_keys(p, DATA_KEYS | PART_EXTRA_KEYS, path, self.warn)
        if not data:
            self.error(
                "part_without_data",
                path,
                "The part has no data field. Give it exactly one of text, fileData, "
                "functionCall or functionResponse.",
            )
            return 0, 0, ""
        if len(data) > 1:
            self.error(
                "part_with_several_data_fields",
                path,
                f"The part has {len(data)} data fields ({', '.join(data)}). Split them into "
                "separate parts, one field each.",
            )
            return 0, 0, ""
        key = data[0]
        value = p[key]
        if system and key != TEXT:
            self.error(
                "invalid_system_instruction",
                path,
                f"systemInstruction parts may only hold text, found {key!r}. Move it into "
                "contents or drop it.",
            )
            return 0, 0, ""
        if key == TEXT:
            if not isinstance(value, str):
                self.error(
                    "text_not_string",
                    f"{path}.text",
                    f"text must be a string, got {_kind(value)}. Quote it (JSON-encode it).",
                )
                return 0, 0, ""
            if not value:
                self.error(
                    "empty_text",
                    f"{path}.text",
                    "text is empty; Vertex AI rejects empty text. Remove the part or fill it.",
                )
                return 0, 0, ""
            chars, extra = text_units(value)
            return chars, extra, "text"
        if key in INLINE_DATA:
            self.error(
                "inline_data_not_supported",
                path,
                "inlineData is not accepted for tuning. Upload the file to Cloud Storage and "
                'use {"fileData": {"mimeType": ..., "fileUri": "gs://..."}}.',
            )
            return 0, 0, ""
        if key in FILE_DATA:
            self.file_data(value, f"{path}.{key}")
            return 0, 0, "file"
        if key in FUNCTION_CALL:
            if not isinstance(value, dict) or not isinstance(value.get("name"), str):
                self.error(
                    "invalid_function_call",
                    f"{path}.{key}",
                    f'{key} must be an object with a string "name" (and "args"). Fix its shape.',
                )
            self.facts.has_function_call = True
            return 0, 0, "call"
        if not isinstance(value, dict) or not isinstance(value.get("name"), str):
            self.error(
                "invalid_function_call",
                f"{path}.{key}",
                f'{key} must be an object with a string "name" and a "response" object.',
            )
        return 0, 0, "response"

    def file_data(self, fd: Any, path: str) -> None:
        if not isinstance(fd, dict):
            self.error(
                "file_data_missing_field",
                path,
                f"fileData must be an object, got {_kind(fd)}. Write "
                '{"mimeType": "image/png", "fileUri": "gs://bucket/file.png"}.',
            )
            return
        mime = _first(fd, ("mimeType", "mime_type"))
        uri = _first(fd, ("fileUri", "file_uri"))
        _unknown_keys(
            fd,
            frozenset({"mimeType", "mime_type", "fileUri", "file_uri", "displayName"}),
            path,
            self.warn,
        )
        for name, value in (("mimeType", mime), ("fileUri", uri)):
            if not isinstance(value, str) or not value:
                self.error(
                    "file_data_missing_field",
                    f"{path}.{name}",
                    f"fileData needs a non-empty string {name}. Add it.",
                )
        if not isinstance(uri, str) or not isinstance(mime, str) or not uri or not mime:
            return
        if not uri.startswith(URI_SCHEMES):
            self.error(
                "unsupported_file_uri",
                f"{path}.fileUri",
                f"fileUri {uri[:80]!r} is not a gs:// or https:// URI. Upload the file to "
                "Cloud Storage and use its gs:// URI.",
            )
        kind = MIME_KINDS.get(mime.lower().split(";", 1)[0].strip())
        if kind is None:
            self.error(
                "unsupported_mime_type",
                f"{path}.mimeType",
                f"MIME type {mime[:60]!r} is not supported for tuning. Use one of "
                "image/jpeg, image/png, image/webp, audio/*, video/mp4, application/pdf, "
                "text/plain.",
            )
            return
        f = self.facts
        if kind == "image":
            f.images += 1
            f.media_tokens += IMAGE_TOKENS
        elif kind == "audio":
            f.audio += 1
        elif kind == "video":
            f.video += 1
        elif kind == "pdf":
            f.pdf += 1

    # -- turns ---------------------------------------------------------------------------
    def contents(self, contents: Any) -> None:
        if contents is None:
            self.error(
                "missing_contents",
                "contents",
                'The example has no "contents" list. Add "contents": [{"role": "user", '
                '"parts": [...]}, {"role": "model", "parts": [...]}].',
            )
            return
        if not isinstance(contents, list) or not contents:
            got = "empty" if contents == [] else _kind(contents)
            self.error(
                "missing_contents",
                "contents",
                f'"contents" must be a non-empty list of turns, got {got}. Add the turns.',
            )
            return
        f = self.facts
        f.turns = len(contents)
        prev_role: str | None = None
        prev_fn = False
        for i, turn in enumerate(contents):
            path = f"contents[{i}]"
            if not isinstance(turn, dict):
                self.error(
                    "invalid_turn",
                    path,
                    f'A turn must be an object {{"role": ..., "parts": [...]}}, got {_kind(turn)}.',
                )
                prev_role = None
                continue
            _unknown_keys(turn, TURN_KEYS, path, self.warn)
            role = turn.get("role")
            parts = turn.get("parts")
            kinds, chars, extra = self.turn_parts(parts, path)
            fn = bool(kinds & {"call", "response"})
            if role is None:
                # The docs allow no role in a single-turn example, and their function-calling
                # example carries the function response in a turn without one. Elsewhere they
                # are silent, so a missing role is a warning and the alternation is assumed.
                if kinds == {"response"} or len(contents) == 1:
                    role = "user"
                else:
                    role = "model" if prev_role == "user" else "user"
                    self.warn(
                        "missing_role",
                        f"{path}.role",
                        f'The turn has no role; it is read as "{role}" (the turns alternate). '
                        'Set "role" to "user" or "model" to be sure.',
                    )
            elif role == "function" and kinds == {"response"}:
                role = "user"  # the older spelling of a function-response turn
            elif role not in TURN_ROLES:
                self.error(
                    "unknown_role",
                    f"{path}.role",
                    f'Role {role!r} is not allowed. Use "user" or "model" (a system prompt '
                    'goes in "systemInstruction").',
                )
                prev_role = None
                continue
            if role == prev_role and not fn and not prev_fn:
                self.error(
                    "consecutive_turns",
                    path,
                    f"Two {role} turns in a row (turns {i - 1} and {i}). Merge them into one "
                    "turn or insert the missing turn of the other role.",
                )
            if role == "model":
                f.out_chars += chars
                f.out_extra += extra
                f.last_model_turn = i
            else:
                f.in_chars += chars
                f.in_extra += extra
            prev_role, prev_fn = role, fn
        if not self.ok:
            return
        if f.last_model_turn < 0:
            self.error(
                "no_model_turn",
                "contents",
                'The example has no "model" turn, so there is nothing to learn. Add the '
                "expected answer as a model turn.",
            )
        elif f.last_model_turn != len(contents) - 1:
            self.warn(
                "trailing_user_turn",
                f"contents[{len(contents) - 1}]",
                "The example ends with a user turn that has no answer; tuning ignores it. "
                "Add the model's answer or remove the last turn.",
            )

    def turn_parts(self, parts: Any, path: str) -> tuple[set[str], int, int]:
        if not isinstance(parts, list) or not parts:
            got = "missing" if parts is None else "empty" if parts == [] else _kind(parts)
            self.error(
                "missing_parts",
                f"{path}.parts",
                f'"parts" must be a non-empty list, got {got}. Write "parts": [{{"text": "..."}}].',
            )
            return set(), 0, 0
        kinds: set[str] = set()
        chars = extra = 0
        for j, p in enumerate(parts):
            c, x, kind = self.part(p, f"{path}.parts[{j}]")
            chars += c
            extra += x
            kinds.add(kind)
        return kinds, chars, extra

    def system_instruction(self, example: Mapping[str, Any]) -> None:
        present = [k for k in SYSTEM_KEYS if k in example]
        if not present:
            return
        if len(present) > 1:
            self.error(
                "invalid_system_instruction",
                present[1],
                "Both systemInstruction and system_instruction are set. Keep one.",
            )
            return
        key = present[0]
        si = example[key]
        self.facts.has_system = True
        if not isinstance(si, dict):
            self.error(
                "invalid_system_instruction",
                key,
                f'{key} must be an object {{"parts": [{{"text": "..."}}]}}, got {_kind(si)}.',
            )
            return
        _unknown_keys(si, TURN_KEYS, key, self.warn)
        parts = si.get("parts")
        if not isinstance(parts, list) or not parts:
            self.error(
                "invalid_system_instruction",
                f"{key}.parts",
                f'{key} needs a non-empty "parts" list of text parts. Add one or drop {key}.',
            )
            return
        for j, p in enumerate(parts):
            c, x, _ = self.part(p, f"{key}.parts[{j}]", system=True)
            self.facts.in_chars += c
            self.facts.in_extra += x

    def media_limits(self) -> None:
        f, lim = self.facts, self.limits
        for kind, n, most in (
            ("images", f.images, lim.max_images_per_example),
            ("audio files", f.audio, lim.max_audio_per_example),
            ("PDFs", f.pdf, lim.max_pdfs_per_example),
            ("videos", f.video, lim.max_videos_per_example),
        ):
            if n > most:
                self.error(
                    "too_many_media",
                    "contents",
                    f"{n} {kind} in one example; {lim.name} accepts at most {most}. Split the "
                    "example.",
                )


def check_example(obj: Any, limits: ModelLimits, emit: Emit) -> ExampleFacts | None:
    """Walk one decoded JSON value; emit findings; return its facts if it has no error."""
    w = _Walk(emit, limits)
    if not isinstance(obj, dict):
        w.error(
            "not_an_object",
            "",
            f"Each line must be one JSON object (an example), got {_kind(obj)}. Write one "
            '{"contents": [...]} object per line.',
        )
        return None
    if "contents" not in obj and "messages" in obj:
        w.error(
            "legacy_messages_format",
            "messages",
            'This is the older "messages" format, which Vertex AI rejects ("Missing required '
            '`contents` field"). Run `gemini-tuning convert` to rewrite the file.',
        )
        return None
    _unknown_keys(obj, TOP_KEYS, "", w.warn)
    w.system_instruction(obj)
    w.contents(obj.get("contents"))
    if "tools" in obj and not isinstance(obj["tools"], list):
        w.error(
            "invalid_tools",
            "tools",
            '"tools" must be a list of {"functionDeclarations": [...]}, got '
            f"{_kind(obj['tools'])}.",
        )
    w.media_limits()
    return w.facts if w.ok else None
