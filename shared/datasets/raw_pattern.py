"""A team's own text pattern, rewritten to screen raw JSON bytes (for the Hyperscan prefilter).

The prefilter scans a chunk's raw JSON, where a text's characters are not always themselves: `"`
is `\\"`, a newline is `\\n`, Chinese is UTF-8 bytes or `\\uXXXX`, and a text's start and end are
next to quotes, not at the buffer's edges. A pattern handed over as written therefore missed
values the detectors report (measured: `^GM\\d{10}$`, `GM\\s\\d{10}` on a newline, `id"\\d{6}`, and
`GM\\d{10}` with full-width digits, which Python's `\\d` matches), and a pattern with any Chinese
in it could not be screened at all, so every text of the file went to Python (7x the CPU).

`raw_pattern` rewrites the pattern's parse tree (Python's own parser) so that wherever the pattern
matches a text, the rewrite matches that text's raw JSON spelling: each character becomes the
alternatives a JSON writer may spell it as, assertions (`^`, `$`, `\\b`, look-arounds) are
dropped (a superset), repeats and groups keep their shape. It may match more, never less, and
it is compiled caseless. What it cannot express (back-references, conditionals, an unknown node)
returns None: the pattern then runs on every text, as before.
"""

from __future__ import annotations

import importlib
import re
from typing import Any

#: One non-ASCII character: its UTF-8 bytes, or a `\uXXXX` escape (a surrogate pair for one
#: astral character).
_NON_ASCII = rb"(?:[\xc2-\xf4][\x80-\xbf]{1,3}|(?:\x5cu[0-9a-f]{4}){1,2})"
#: Any ASCII character written as `\u00XX` (legal JSON, if unusual).
_ESCAPED_ASCII = rb"\x5cu00[0-7][0-9a-f]"
_CONTROL = rb"\x5c[bfnrt]"


class Unsupported(Exception):
    """A construct the rewrite cannot express as a superset."""


def raw_pattern(pattern: str) -> bytes | None:
    """A Hyperscan expression (to compile caseless) matching, in raw JSON bytes, every text
    match of `pattern`; None when the pattern cannot be rewritten."""
    try:
        # Python's own parser and compiler (private, hence looked up): the tree `re` matches
        parser = importlib.import_module("re._parser")
        compiler = importlib.import_module("re._compiler")
        tree = parser.parse(pattern)
        return _sequence(tree, tree.state.flags, compiler, parser)
    except (Unsupported, ImportError, AttributeError, RecursionError, ValueError, re.error):
        return None


def _sequence(items: Any, flags: int, compiler: Any, parser: Any) -> bytes:
    return b"".join(_node(op, av, items, flags, compiler, parser) for op, av in items)


def _node(op: Any, av: Any, parent: Any, flags: int, compiler: Any, parser: Any) -> bytes:
    name = str(op)
    if name in ("LITERAL", "NOT_LITERAL", "ANY", "IN"):
        return _char(op, av, parent, flags, compiler, parser)
    if name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
        lo, hi, sub = av
        body = _sequence(sub, flags, compiler, parser)
        upper = b"" if hi == parser.MAXREPEAT else str(hi).encode()
        return b"(?:%s){%d,%s}" % (body, lo, upper)
    if name == "SUBPATTERN":
        _, add, remove, sub = av
        return b"(?:%s)" % _sequence(sub, (flags | add) & ~remove, compiler, parser)
    if name == "ATOMIC_GROUP":
        return b"(?:%s)" % _sequence(av, flags, compiler, parser)
    if name == "BRANCH":
        return b"(?:%s)" % b"|".join(_sequence(s, flags, compiler, parser) for s in av[1])
    if name in ("AT", "ASSERT", "ASSERT_NOT"):
        return b""  # a zero-width condition: without it the rewrite only matches more
    raise Unsupported(name)


def _char(op: Any, av: Any, parent: Any, flags: int, compiler: Any, parser: Any) -> bytes:
    """One character matcher as the alternatives of its raw JSON spellings."""
    one = parser.SubPattern(parent.state, [(op, av)])
    matcher = compiler.compile(one, flags)
    ascii_set = [c for c in range(128) if matcher.fullmatch(chr(c))]
    name = str(op)
    simple = name == "LITERAL" or (
        name == "IN" and all(str(k) in ("LITERAL", "RANGE") for k, _ in av)
    )
    caseless = bool(flags & parser.SRE_FLAG_IGNORECASE)
    alts: list[bytes] = []
    plain = [c for c in ascii_set if 0x20 <= c <= 0x7F and c not in (0x22, 0x5C)]
    if plain:
        alts.append(b"[" + b"".join(b"\\x%02x" % c for c in plain) + b"]")
    if 0x22 in ascii_set:
        alts.append(rb"\x5c\x22")
    if 0x5C in ascii_set:
        alts.append(rb"\x5c\x5c")
    if 0x2F in ascii_set:
        alts.append(rb"\x5c\x2f")
    if any(c < 0x20 for c in ascii_set):
        alts.append(_CONTROL)
    if ascii_set:
        alts.append(_ESCAPED_ASCII)
    if name == "LITERAL" and av >= 128 and not caseless:
        alts.append(spellings(chr(av)))
    elif not simple or caseless or _wide(op, av):
        alts.append(_NON_ASCII)  # may match some non-ASCII character: any of them (a superset)
    if not alts:
        raise Unsupported("a character class that matches nothing")
    return b"(?:" + b"|".join(alts) + b")"


def _wide(op: Any, av: Any) -> bool:
    """A simple class with a non-ASCII member or range."""
    if str(op) == "LITERAL":
        return bool(av >= 128)
    return any((v >= 128) if str(k) == "LITERAL" else (v[1] >= 128) for k, v in av)


def spellings(ch: str) -> bytes:
    """A non-ASCII character as its UTF-8 bytes or its `\\uXXXX` escape(s)."""
    utf8 = b"".join(b"\\x%02x" % b for b in ch.encode("utf-8"))
    units = ch.encode("utf-16-be")
    escape = b"".join(
        rb"\x5cu" + b"%04x" % int.from_bytes(units[i : i + 2], "big")
        for i in range(0, len(units), 2)
    )
    return b"(?:%s|%s)" % (utf8, escape)
