"""Text normalisation and a CJK-aware tokenizer shared by every metric.

Why not `str.split()` or rouge-score's tokenizer: the first users answer in Chinese, which has no
spaces, and rouge-score's default tokenizer drops every non-ASCII character, so each Chinese
answer would score 0. Here each CJK character (Han, kana, bopomofo) is one token, as sacrebleu's
`zh` tokenizer does, and runs of other word characters are word tokens, so mixed answers such as
"请重启App后再试" tokenise sensibly.
"""

from __future__ import annotations

import re
import unicodedata

# Han (incl. extensions and compatibility ideographs), kana, bopomofo. Hangul is not here: Korean
# separates words with spaces, so its words are ordinary word tokens.
_CJK = (
    "\u3040-\u30ff\u3100-\u312f\u31a0-\u31ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff"
    "\uf900-\ufaff\U00020000-\U0003134f"
)
_WORD_CHAR = rf"(?:(?![{_CJK}])\w)"
#: One CJK character | a decimal number (3.5, 1,000) | a word, hyphen/apostrophe joined
#: (don't, well-known) | any other single non-space character (punctuation, symbols).
TOKEN_RE = re.compile(
    rf"[{_CJK}]"
    rf"|\d+(?:[.,]\d+)+"
    rf"|{_WORD_CHAR}+(?:[-'’]{_WORD_CHAR}+)*"
    rf"|[^\w\s]"
)
_SPACE_RE = re.compile(r"\s+")


def normalize(text: str) -> str:
    """NFKC (full-width letters and punctuation fold to their ASCII forms, so "ＯＫ，" equals
    "OK,") and collapse whitespace runs, so formatting noise is not counted as a wrong answer."""
    return _SPACE_RE.sub(" ", unicodedata.normalize("NFKC", text)).strip()


def tokenize(text: str) -> list[str]:
    """Tokens of already-normalised text (see `normalize`)."""
    return TOKEN_RE.findall(text)
