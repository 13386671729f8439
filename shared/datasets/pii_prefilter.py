"""Which lines of a 4 MB chunk could hold personal data: one Hyperscan pass over the raw bytes.

Running the Python detectors on every text would cost more than the rest of the validator (a
regex call per text is 1-3 µs; a 1 GB file has millions of texts). Instead the raw JSON bytes
of a whole chunk are scanned once by Hyperscan (vectorised, multi-pattern, about 1 GB/s here)
for patterns that every personal value must contain: 11 digits with optional separators (phone,
ID, card), dotted quads, `:hex:` (IPv6), `x@y` (e-mail), and the QQ / WeChat keywords in raw
and `\\uXXXX`-escaped spelling. Only the lines it flags are decoded and scanned exactly
(`privacy.Detector`). Each pattern is implied by the matching detector, so the prefilter never
hides a value the detectors would report (a property test checks this).

Custom patterns join the same pass, rewritten by `raw_pattern` to match their texts' raw JSON
spelling (a pattern as written missed anchored, quoted, whitespace and full-width-digit matches,
and could not screen Chinese at all), in Hyperscan's prefilter mode; the few it cannot rewrite
or compile run on every text. Without the `hyperscan` package every line is a candidate:
slower, same findings.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from itertools import accumulate
from typing import Any

from shared.datasets.lines import Line
from shared.datasets.privacy import PrivacyOptions
from shared.datasets.raw_pattern import raw_pattern, spellings

_KEYWORDS = ("微信", "v信", "薇信", "扣扣")
#: Full-width digits (`１３８…`, UTF-8 or `\\uFF1X`) anywhere, or an ideographic space / full-width
#: hyphen between two digits: the numbers `privacy.half_width` lets the detectors read. As one
#: literal-led pattern beside the ASCII ones it costs nothing measurable (0.0358 vs 0.0359 CPU s
#: per 40 MB, min of 5); widening the digit-run pattern itself cost 2.2x.
_WIDE_DIGITS = (
    rb"\xef\xbc[\x90-\x99]|\x5cuff1[0-9]"  # a full-width digit, UTF-8 or escaped
    rb"|[0-9](?:\xe3\x80\x80|\x5cu3000|\xef\xbc\x8d|\x5cuff0d)[0-9]"  # a wide separator
)
_BUILTIN: tuple[bytes, ...] = (
    rb"[0-9](?:[ \-]?[0-9]){10}",
    rb"[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]",
    rb":[0-9a-f]{0,4}:",
    rb"[a-z0-9._%+\-]@[a-z0-9\-]",
    b"qq|vx|wx|wechat|weixin|" + b"|".join(b"".join(map(spellings, k)) for k in _KEYWORDS),
    _WIDE_DIGITS,
)


class Prefilter:
    """Flags candidate lines in chunks of raw JSONL; one instance per validation (Hyperscan
    scratch space is not shared between threads)."""

    def __init__(self, options: PrivacyOptions) -> None:
        #: custom pattern names the prefilter cannot screen (run on every text instead)
        self.unscreened: list[str] = []
        self.engine = "none"
        self._db: Any = None
        try:
            import hyperscan
        except ImportError:  # pragma: no cover - the wheel is a dependency; kept for other OSes
            self.unscreened = [n.lower() for n in options.patterns]
            return
        exprs = list(_BUILTIN)
        flags = [hyperscan.HS_FLAG_CASELESS] * len(exprs)
        custom = hyperscan.HS_FLAG_PREFILTER | hyperscan.HS_FLAG_CASELESS
        for name, rx in options.patterns.items():
            raw = raw_pattern(rx)  # as it must read in raw JSON (escapes, \uXXXX, quotes)
            if raw is not None and _compiles(hyperscan, raw, custom):
                exprs.append(raw)
                flags.append(custom)
            else:
                self.unscreened.append(name.lower())
        db = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
        db.compile(expressions=exprs, ids=list(range(len(exprs))), elements=len(exprs), flags=flags)
        self._db = db
        self.engine = "hyperscan"

    def candidates(
        self, blob: bytes | memoryview, lines: Sequence[Line], first_line: int
    ) -> set[int] | None:
        """1-based line numbers (of `lines`, which `blob` joins with b"\\n") that may hold
        personal data; None means every line (no prefilter available)."""
        if self._db is None:
            return None
        ends: list[int] = []
        add = ends.append

        def on_match(_id: int, _start: int, end: int, _flags: int, _ctx: object) -> None:
            add(end)

        self._db.scan(blob, match_event_handler=on_match)
        if not ends:
            return set()
        starts = list(accumulate((len(x) + 1 for x in lines), initial=0))
        return {first_line + bisect_right(starts, e - 1) - 1 for e in ends}


def _compiles(hyperscan: Any, rx: bytes, flags: int) -> bool:
    try:
        db = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
        db.compile(expressions=[rx], flags=[flags])
    except Exception:  # hyperscan.error: any unsupported construct
        return False
    return True
