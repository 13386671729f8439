"""What is wrong with a line that is not one strict JSON value, in words a data owner can act on.

msgspec's decode errors name a byte offset and a terse reason; `json_problem` turns them into a
column (in characters, as an editor counts) and a hint for the common causes: lone surrogate
escapes, two objects on one line, pretty-printed examples, raw control characters, NaN.
"""

from __future__ import annotations

import re

import msgspec

#: What decoding one raw line can raise (bad UTF-8 included; nesting deeper than the decoder
#: recurses, for callers that do not check `json_shape.depth_problem` first).
DECODE_ERRORS = (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError, RecursionError)
_BYTE_AT = re.compile(r"\(byte (\d+)\)")
_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


def json_problem(raw: bytes, err: Exception) -> tuple[str, str]:
    """(code, message) for a line that is not one strict JSON value."""
    text = str(err)
    m = _BYTE_AT.search(text)
    at = int(m.group(1)) if m else len(raw)
    col = len(raw[:at].decode("utf-8", "replace")) + 1
    bad = raw[at : at + 1]
    if "surrogate" in text or ("truncated" in text and _SURROGATE.search(raw)):
        hint = (
            "a \\uD800-\\uDFFF escape that is not part of a surrogate pair is not valid "
            "text. Fix how that string was encoded"
        )
    elif "trailing characters" in text:
        hint = (
            "there is more after the first JSON value (two objects on one line?). Put "
            "each example on its own line"
        )
    elif "truncated" in text:
        hint = (
            "the line ends before the JSON value is complete (an example split over "
            "several lines, e.g. pretty-printed JSON?). Write each example on one line"
        )
    elif bad and bad[0] < 0x20:
        hint = (
            f"raw control character 0x{bad[0]:02x} inside the JSON. Escape it (\\n, \\t or \\u00XX)"
        )
    elif raw[at : at + 3] in (b"NaN", b"Inf") or raw[at : at + 4] == b"-Inf":
        hint = "NaN and Infinity are not JSON. Write null or a finite number"
    elif "out of range" in text:
        hint = "a number is out of range. Write it as a string or a smaller number"
    else:
        hint = f"{text.split(' (byte')[0].removeprefix('JSON is malformed: ')}. Fix the syntax"
    return "invalid_json", f"Invalid JSON at column {col}: {hint}."
