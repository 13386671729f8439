"""The fast path: msgspec types that describe the common, fully valid text-only example.

Decoding a line straight into these types checks JSON syntax, UTF-8, types, required fields,
roles, non-empty lists and non-empty texts, and rejects unknown keys, all in C. Any line they
reject (multimodal, function calling, snake-case keys, or a real mistake) goes to the detailed
walk in `format_rules.py`, which accepts every valid variant and explains every invalid one, so
these types only decide speed, never validity.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

NonEmptyText = Annotated[str, msgspec.Meta(min_length=1)]


class TextPart(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    text: NonEmptyText


TextParts = Annotated[list[TextPart], msgspec.Meta(min_length=1)]


class Turn(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    role: Literal["user", "model"]
    parts: TextParts


class SystemInstruction(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    parts: TextParts
    role: str | None = None


class TextExample(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    contents: Annotated[list[Turn], msgspec.Meta(min_length=1)]
    systemInstruction: SystemInstruction | None = None


fast_decoder: msgspec.json.Decoder[TextExample] = msgspec.json.Decoder(TextExample)
#: Untyped decoding for the detailed walk (same strict JSON grammar as the fast path).
any_decoder: msgspec.json.Decoder[object] = msgspec.json.Decoder()
