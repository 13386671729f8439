"""Personal-data detectors: what counts as a phone number, ID number, card number... in a text.

Customer-service logs from a Chinese game carry players' contact and identity data, and a tuned
model can repeat what it was trained on. These detectors favour precision: numbers are only
reported when their structure says so (ID numbers pass the ISO 7064 MOD 11-2 check digit and
carry a real birth date, card numbers pass the Luhn check, QQ numbers and WeChat IDs need a
keyword right before them), so random digit strings such as order numbers are not reported.

Values never leave this module unmasked: a `Hit` keeps the raw value only so that `redact` can
replace it; findings and logs show `mask(value)`.

Speed: `scan_text` runs Python regexes over one text and is meant for the few texts that the
chunk-level prefilter (`pii_prefilter.py`) or a cheap character test lets through.

A team's own patterns come from a `tuning.yaml` or `--pii-pattern`, so they are input: they run
on the `regex` engine (the `re` syntax they were checked with; it also defuses many nested
repetitions outright) with `PATTERN_TIMEOUT_SECONDS` per text. A pattern past it backtracks
catastrophically (`(a|aa)+b` on a run of a's): `scan_text` raises `SlowPattern` instead of
holding the validator until its platform timeout, on every redelivery.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

Policy = Literal["warn", "reject", "redact"]
POLICIES: tuple[Policy, ...] = ("warn", "reject", "redact")
#: The same policies, mildest first: a tuning.yaml may make the deployment's stricter only.
STRICTNESS: tuple[Policy, ...] = ("warn", "redact", "reject")

#: How long one custom pattern may search one text (a sane pattern needs milliseconds for the
#: longest text an example holds); past it the pattern is stopped (`SlowPattern`).
PATTERN_TIMEOUT_SECONDS = 1.0

#: Built-in kinds, in the order their matches win when two overlap (an 18-digit ID number with a
#: valid check digit is not also reported as a card number).
KINDS = ("id_card", "bank_card", "phone", "email", "qq", "wechat", "ipv4", "ipv6")

#: The first two digits of a resident ID: province-level region codes.
_PROVINCES = frozenset(
    (
        11,
        12,
        13,
        14,
        15,
        21,
        22,
        23,
        31,
        32,
        33,
        34,
        35,
        36,
        37,
        41,
        42,
        43,
        44,
        45,
        46,
        50,
        51,
        52,
        53,
        54,
        61,
        62,
        63,
        64,
        65,
        71,
        81,
        82,
        83,
        91,
    )
)
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,31}$")

_ID_CARD = re.compile(r"(?<![0-9])[1-9][0-9]{5}(?:18|19|20)[0-9]{2}[01][0-9][0-3][0-9]{4}[0-9Xx]")
_DIGITS = re.compile(r"(?<![0-9])[0-9](?:[ \-]?[0-9]){14,22}(?![0-9])")
_PHONE = re.compile(
    r"(?<![0-9])(?:(?:\+|00)86[ \-]?)?1[3-9][0-9](?:[ \-]?[0-9]{4}){2}(?![0-9])", re.ASCII
)
_EMAIL = re.compile(
    r"(?<![A-Za-z0-9._%+\-])[A-Za-z0-9._%+\-]{1,64}@[A-Za-z0-9\-]{1,63}(?:\.[A-Za-z0-9\-]{1,63})*"
    r"\.[A-Za-z]{2,24}(?![A-Za-z])",
    re.ASCII,
)
_QQ = re.compile(
    r"(?<![A-Za-z])(?:qq|扣扣)(?:号码|号|账号|帐号)?[ \t]*(?:[:：=]|是|为)?[ \t]*"
    r"([1-9][0-9]{4,10})(?![0-9])",
    re.IGNORECASE,
)
_WECHAT = re.compile(
    r"(?<![A-Za-z])(?:微信|weixin|wechat|vx|wx|v信|薇信)(号码|号|账号|帐号|id)?[ \t]*"
    r"([:：=]|是|为)?[ \t]*([A-Za-z][-_A-Za-z0-9]{5,19})(?![-_A-Za-z0-9])",
    re.IGNORECASE,
)
_IPV4 = re.compile(
    r"(?<![0-9.])(?:(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])\.){3}"
    r"(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])(?!\.?[0-9])"
)
_IPV6 = re.compile(r"(?<![0-9A-Fa-f:])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![0-9A-Fa-f:])")
#: Characters without which no built-in kind can match (digits, "@", ":" and keyword letters).
#: Shared mailboxes of a company (what an agent tells players to write to), not a person's.
_ROLE_ACCOUNTS = frozenset(
    "admin billing contact creator creators family feedback help hr info kefu legal "  # noqa: SIM905
    "no-reply noreply payment payments press privacy report security service support "
    "webmaster".split()
)
#: RFC 2606 / 6761 names that never belong to anyone.
_RESERVED_DOMAINS = (".example", ".test", ".invalid", ".localhost", "example.com", "example.org")
_HAS_DIGIT = re.compile(r"[0-9]").search
_MAYBE = re.compile(r"[0-9@:]|qq|扣扣|微信|weixin|wechat|vx|wx|v信|薇信", re.IGNORECASE)


#: What a Chinese input method types in numbers: full-width digits (`１３８…`), the ID number's
#: `Ｘ`, the full-width hyphen and the ideographic space, mapped one character to one. The
#: built-in detectors read the mapped text, so their spans are the original text's. (Full-width
#: letters and `＠` are left alone: e-mail addresses and IDs are not typed that way, and
#: screening for them would double the prefilter's cost.)
_HALF_WIDTH = {0xFF10 + i: 0x30 + i for i in range(10)} | {
    0xFF0D: 0x2D,
    0xFF38: 0x58,
    0xFF58: 0x78,
    0x3000: 0x20,
}


def half_width(text: str) -> str:
    """`text` with full-width digits, `Ｘ`, hyphen and space as ASCII (same length, offsets)."""
    return text if text.isascii() else text.translate(_HALF_WIDTH)


@dataclass(frozen=True, slots=True)
class Hit:
    """One personal value in a text: its kind and span (the raw value is `text[start:end]`)."""

    kind: str
    start: int
    end: int
    value: str

    def at(self, text: str) -> Hit:
        """This hit with its value read from `text` (the same span in the original text)."""
        return Hit(self.kind, self.start, self.end, text[self.start : self.end])

    @property
    def key(self) -> str:
        """The value normalised so that one value written two ways gets one placeholder."""
        value = half_width(self.value)
        if self.kind in ("phone", "id_card", "bank_card", "qq"):
            v = "".join(c for c in value if c in "0123456789Xx").upper()
            return v[-11:] if self.kind == "phone" else v
        return value.lower()


@dataclass(frozen=True)
class PrivacyOptions:
    """What to look for and what to do about it.

    `policy`: `warn` (default) reports findings as warnings; `reject` makes them errors, so the
    dataset is invalid; `redact` reports warnings and tells the pipeline to train on a copy made
    by `redact_stream`. `patterns` adds a team's own formats, name -> regex (e.g.
    `{"order_id": r"GM\\d{10}"}`); names become placeholder names (`<ORDER_ID_1>`).
    `enabled=False` turns the personal-data checks off.
    """

    policy: Policy = "warn"
    patterns: Mapping[str, str] = field(default_factory=dict)
    enabled: bool = True

    def __post_init__(self) -> None:
        if self.policy not in POLICIES:
            raise ValueError(
                f"Unknown personal-data policy {self.policy!r}. Use one of: {', '.join(POLICIES)}."
            )
        for name, pattern in self.patterns.items():
            if not _NAME.match(name) or name.lower() in KINDS:
                raise ValueError(
                    f"Pattern name {name!r} must be a new identifier (letters, digits, _; not "
                    f"one of {', '.join(KINDS)})."
                )
            try:
                rx = re.compile(pattern)
            except re.error as e:
                raise ValueError(f"Pattern {name}={pattern!r} is not a valid regex: {e}.") from None
            except RecursionError:  # `((((…))))` hundreds deep: Python's parser recurses per group
                raise ValueError(
                    f"Pattern {name} nests groups too deeply for Python's regex parser; no "
                    "personal-data format needs that. Flatten it."
                ) from None
            if rx.search(""):
                raise ValueError(f"Pattern {name}={pattern!r} matches the empty string.")

    def combined(self, other: PrivacyOptions) -> PrivacyOptions:
        """The stricter policy of the two and both sets of patterns (`other` wins a name)."""
        strict = max(self.policy, other.policy, key=STRICTNESS.index)
        return PrivacyOptions(strict, {**self.patterns, **other.patterns}, self.enabled)


def parse_pattern(spec: str) -> tuple[str, str]:
    """`NAME=REGEX` -> (name, regex), as `--pii-pattern` takes it."""
    name, sep, rx = spec.partition("=")
    if not sep or not name or not rx:
        raise ValueError(f"--pii-pattern {spec!r}: write NAME=REGEX, e.g. order_id=GM\\d{{10}}.")
    return name.strip(), rx


def id_card_ok(v: str) -> bool:
    """18-digit resident ID: known province, real past birth date, MOD 11-2 check digit."""
    if len(v) != 18 or not v[:17].isdigit() or int(v[:2]) not in _PROVINCES:
        return False
    try:
        born = date(int(v[6:10]), int(v[10:12]), int(v[12:14]))
    except ValueError:
        return False
    if born.year < 1900 or born > date.today():
        return False
    total = sum(int(c) * w for c, w in zip(v, _ID_WEIGHTS, strict=False))
    return _ID_CHECK[total % 11] == v[17].upper()


def luhn_ok(digits: str) -> bool:
    """The Luhn check digit of payment card numbers."""
    total = 0
    for i, c in enumerate(reversed(digits)):
        d = ord(c) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _bank_ok(value: str) -> bool:
    digits = value.replace(" ", "").replace("-", "")
    # UnionPay (62), Visa (4), Mastercard (5), JCB / Amex (3): other leading digits are not cards.
    return 16 <= len(digits) <= 19 and digits[0] in "3456" and luhn_ok(digits)


def _ipv6_ok(value: str) -> bool:
    if value.count(":") < 2 or sum(1 for g in value.split(":") if g) < 3:
        return False
    try:
        ipaddress.IPv6Address(value)
    except ValueError:
        return False
    return True


class SlowPattern(ValueError):
    """A custom pattern searched one text for longer than `PATTERN_TIMEOUT_SECONDS`."""

    def __init__(self, name: str, pattern: str) -> None:
        self.name = name
        super().__init__(
            f"Pattern {name}={pattern!r} was stopped after {PATTERN_TIMEOUT_SECONDS:g} s on one "
            "text: it backtracks catastrophically (a repetition inside a repetition, such as "
            "`(a|aa)+`). Rewrite it without the nested repetition (e.g. `a+`)."
        )


class Detector:
    """All built-in detectors plus the custom patterns of one `PrivacyOptions`."""

    def __init__(self, options: PrivacyOptions | None = None) -> None:
        self.options = options or PrivacyOptions()
        self.custom: list[tuple[str, str, Any]] = []
        if self.options.patterns:
            import regex  # only where custom patterns run: not in every function's cold start

            for n, p in self.options.patterns.items():
                try:
                    self.custom.append((n.lower(), p, regex.compile(p)))
                except (regex.error, RecursionError) as e:  # `re` accepted it; the engine not
                    raise ValueError(f"Pattern {n}={p!r} is not a valid regex: {e}.") from None
        self.kinds = KINDS + tuple(n for n, _, _ in self.custom)

    def drop(self, name: str) -> None:
        """Stop using a custom pattern (after it was too slow); its kind stays counted."""
        self.custom = [c for c in self.custom if c[0] != name]

    def scan_text(self, text: str) -> list[Hit]:
        """Every personal value in `text`, sorted by position, overlaps resolved by kind order.
        Raises `SlowPattern` for a custom pattern past its time limit on this text."""
        hits: list[Hit] = []
        half = half_width(text)
        if _MAYBE.search(half):
            found = _builtin(half)
            # the value as written (full-width digits stay full-width in a redacted copy's
            # replaced span, and in nothing else: only masks leave this module)
            hits += found if half is text else [h.at(text) for h in found]
        for name, pattern, rx in self.custom:
            try:
                found = rx.finditer(text, timeout=PATTERN_TIMEOUT_SECONDS)
                hits += (Hit(name, m.start(), m.end(), m.group()) for m in found if m.end())
            except TimeoutError:
                raise SlowPattern(name, pattern) from None
        if len(hits) < 2:
            return hits
        rank = {k: i for i, k in enumerate(self.kinds)}
        hits.sort(key=lambda h: (rank[h.kind], h.start))
        kept: list[Hit] = []
        for h in hits:
            if all(h.end <= k.start or h.start >= k.end for k in kept):
                kept.append(h)
        return sorted(kept, key=lambda h: h.start)


def _builtin(text: str) -> list[Hit]:
    hits: list[Hit] = []
    if _HAS_DIGIT(text):
        for m in _ID_CARD.finditer(text):
            if id_card_ok(m.group()) and not text[m.end() : m.end() + 1].isdigit():
                hits.append(Hit("id_card", m.start(), m.end(), m.group()))
        for m in _DIGITS.finditer(text):
            if _bank_ok(m.group()):
                hits.append(Hit("bank_card", m.start(), m.end(), m.group()))
        hits += (Hit("phone", m.start(), m.end(), m.group()) for m in _PHONE.finditer(text))
        for m in _QQ.finditer(text):
            hits.append(Hit("qq", m.start(1), m.end(1), m.group(1)))
        if "." in text:
            hits += (Hit("ipv4", m.start(), m.end(), m.group()) for m in _IPV4.finditer(text))
    if "@" in text:
        for m in _EMAIL.finditer(text):
            local, _, domain = m.group().lower().partition("@")
            if local not in _ROLE_ACCOUNTS and not domain.endswith(_RESERVED_DOMAINS):
                hits.append(Hit("email", m.start(), m.end(), m.group()))
    for m in _WECHAT.finditer(text):
        wid = m.group(3)
        # With only a space between keyword and ID ("微信 Android"), ask for an ID-like token.
        if m.group(1) or m.group(2) or any(c.isdigit() or c in "_-" for c in wid):
            hits.append(Hit("wechat", m.start(3), m.end(3), wid))
    if text.count(":") >= 2:
        for m in _IPV6.finditer(text):
            if _ipv6_ok(m.group()):
                hits.append(Hit("ipv6", m.start(), m.end(), m.group()))
    return hits


def mask(kind: str, value: str) -> str:
    """A sample that shows the shape of a value but never the value: `138******78`."""
    if kind == "email":
        user, _, domain = value.partition("@")
        tld = domain.rsplit(".", 1)[-1]
        return f"{user[:1]}***@***.{tld}"
    if kind == "ipv4":
        a, b, *_ = value.split(".")
        return f"{a}.{b}.*.*"
    if kind == "ipv6":
        return value.split(":", 1)[0] + ":****"
    n = len(value)
    head = min(3, n // 4)
    tail = min(2, n // 6)
    return value[:head] + "*" * (n - head - tail) + value[n - tail :]


def placeholder(kind: str, n: int) -> str:
    """The typed placeholder `redact` writes for the n-th distinct value of a kind."""
    return f"<{kind.upper()}_{n}>"


class Placeholders:
    """Consistent placeholders within one example: the same value always gets the same one."""

    def __init__(self) -> None:
        self._seen: dict[tuple[str, str], str] = {}
        self._count: dict[str, int] = {}

    def __call__(self, hit: Hit) -> str:
        k = (hit.kind, hit.key)
        ph = self._seen.get(k)
        if ph is None:
            n = self._count[hit.kind] = self._count.get(hit.kind, 0) + 1
            ph = self._seen[k] = placeholder(hit.kind, n)
        return ph


def replace(text: str, hits: Iterable[Hit], names: Placeholders) -> str:
    """`text` with every hit replaced by its placeholder (hits sorted and non-overlapping)."""
    out: list[str] = []
    at = 0
    for h in hits:
        out.append(text[at : h.start])
        out.append(names(h))
        at = h.end
    out.append(text[at:])
    return "".join(out)
