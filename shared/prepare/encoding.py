"""Which text encoding an export uses, said out loud.

Chinese customer-service exports arrive as UTF-8, UTF-8 with a BOM (Excel's "CSV UTF-8"), GB18030
(Excel's plain "CSV" on Chinese Windows; a superset of GBK and GB2312) or UTF-16 (Excel's
"Unicode text", tab-separated). The BOM settles the first and the last; otherwise the head of the
file is tried as UTF-8 (a wrong guess fails fast: random GB18030 bytes are almost never valid
UTF-8) and then as GB18030. The name that was used is reported, so a user who sees mojibake
knows what to override with `--encoding`.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass

#: Bytes looked at to decide (a few thousand rows of a typical export).
HEAD_BYTES = 256 * 1024

#: What a user may pass to `--encoding`, with the codec each name means.
NAMES: dict[str, str] = {
    "utf-8": "utf-8",
    "utf-8-bom": "utf-8-sig",
    "gb18030": "gb18030",
    "utf-16": "utf-16",
    "utf-16-le": "utf-16-le",
    "utf-16-be": "utf-16-be",
}


@dataclass(frozen=True)
class Encoding:
    """`name` as reported to people (UTF-8-BOM, GB18030...), `codec` as Python spells it."""

    name: str
    codec: str
    #: Bytes of BOM at the start, which the codec skips itself (utf-8-sig, utf-16).
    bom: int = 0


def _decodes(head: bytes, codec: str) -> bool:
    """True when `head` is valid in `codec`; a character cut at the end of the head is fine."""
    try:
        codecs.getincrementaldecoder(codec)().decode(head, final=False)
    except UnicodeDecodeError:
        return False
    return True


def _utf16_without_bom(head: bytes) -> str | None:
    """UTF-16 LE / BE recognised by NUL bytes on one side of mostly-ASCII text (headers)."""
    probe = head[:4096]
    if len(probe) < 8:
        return None
    even = probe[0::2].count(0)
    odd = probe[1::2].count(0)
    half = len(probe) // 2
    if odd > half * 0.3 and even < half * 0.05:
        return "utf-16-le"
    if even > half * 0.3 and odd < half * 0.05:
        return "utf-16-be"
    return None


def detect(head: bytes) -> Encoding:
    """The encoding of a file that starts with `head`. Raises ValueError when it is none of the
    supported ones, with what to do."""
    if head.startswith(codecs.BOM_UTF8):
        return Encoding("UTF-8-BOM", "utf-8-sig", 3)
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return Encoding("UTF-16", "utf-16", 2)
    bare = _utf16_without_bom(head)
    if bare:
        return Encoding(bare.upper(), bare)
    if _decodes(head, "utf-8"):
        return Encoding("UTF-8", "utf-8")
    if _decodes(head, "gb18030"):
        return Encoding("GB18030", "gb18030")
    raise ValueError(
        "the file is not UTF-8, UTF-8 with a BOM, GB18030 or UTF-16 text. Re-save it from the "
        "export tool as UTF-8 (Excel: Save As > CSV UTF-8), or name its encoding with "
        f"--encoding ({', '.join(NAMES)})."
    )


def named(name: str) -> Encoding:
    """The `--encoding` a user gave. Raises ValueError for an unknown name."""
    key = name.strip().lower().replace("_", "-")
    if key not in NAMES:
        raise ValueError(f"unknown --encoding {name!r}. Use one of: {', '.join(NAMES)}.")
    codec = NAMES[key]
    bom = 3 if codec == "utf-8-sig" else 0
    return Encoding(key.upper(), codec, bom)
