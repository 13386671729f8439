"""Personal values for tests, made valid (or deliberately invalid) by the real checksum rules."""

from __future__ import annotations

import random

_W = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def id_check(first17: str) -> str:
    return "10X98765432"[sum(int(c) * w for c, w in zip(first17, _W, strict=True)) % 11]


def id_number(region: str = "110105", born: str = "19900307", seq: str = "123") -> str:
    """A resident ID number with a correct MOD 11-2 check digit."""
    body = region + born + seq
    return body + id_check(body)


def luhn_digit(body: str) -> str:
    total = 0
    for i, c in enumerate(reversed(body)):
        d = int(c)
        if i % 2 == 0:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return str(-total % 10)


def card_number(prefix: str = "622202", length: int = 19, seed: int = 1) -> str:
    """A card number passing the Luhn check."""
    rng = random.Random(seed)
    body = prefix + "".join(rng.choice("0123456789") for _ in range(length - len(prefix) - 1))
    return body + luhn_digit(body)


def broken_card(card: str) -> str:
    """The same card number with a wrong check digit."""
    return card[:-1] + str((int(card[-1]) + 1) % 10)


def broken_id(idn: str) -> str:
    """The same ID number with a wrong check digit."""
    wrong = [c for c in "0123456789X" if c != idn[-1]]
    return idn[:-1] + wrong[0]
