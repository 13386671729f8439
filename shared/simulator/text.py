"""Text helpers of the simulated models: n-gram features, language, token estimate, and the
generic replies of a base model that has never seen the training data.

Character n-grams are used because Chinese has no spaces: a word tokenizer would see one
"word" per sentence, while character bigrams match paraphrases that share most of their terms.
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from shared import errors
from shared.datasets.tokens import estimate_text

#: Tokens Gemini bills for one image / file part (its documented per-image figure).
FILE_PART_TOKENS = 258


def is_cjk(ch: str) -> bool:
    o = ord(ch)
    return (
        0x4E00 <= o <= 0x9FFF  # CJK unified ideographs
        or 0x3400 <= o <= 0x4DBF  # extension A
        or 0x20000 <= o <= 0x2A6DF  # extension B
        or 0xF900 <= o <= 0xFAFF  # compatibility ideographs
        or 0x3040 <= o <= 0x30FF  # hiragana, katakana
        or 0xAC00 <= o <= 0xD7AF  # hangul syllables
    )


def normalize(text: str) -> str:
    """NFKC (full-width -> half-width), lower case, punctuation and symbols -> spaces."""
    out = [
        ch if unicodedata.category(ch)[0] in "LN" else " "
        for ch in unicodedata.normalize("NFKC", text).lower()
    ]
    return " ".join("".join(out).split())


def features(text: str) -> Counter[str]:
    """CJK runs give character unigrams + bigrams; other words give the word itself plus its
    boundary-marked character trigrams (so "refund" and "refunds" still overlap)."""
    feats: Counter[str] = Counter()
    for segment in normalize(text).split(" "):
        if not segment:
            continue
        if any(is_cjk(ch) for ch in segment):
            feats.update(segment)
            feats.update(segment[i : i + 2] for i in range(len(segment) - 1))
        else:
            feats["w:" + segment] += 1
            marked = f"#{segment}#"
            feats.update(marked[i : i + 3] for i in range(len(marked) - 2))
    return feats


def language(text: str) -> str:
    """ "zh" when CJK characters are at least 30% of the letters, else "en"."""
    letters = [ch for ch in text if ch.isalpha()]
    if not letters:
        return "en"
    cjk = sum(1 for ch in letters if is_cjk(ch))
    return "zh" if cjk / len(letters) >= 0.3 else "en"


def part_text(part: Mapping[str, Any]) -> str:
    text = part.get("text")
    return text if isinstance(text, str) else ""


def turn_text(turn: Mapping[str, Any]) -> str:
    parts = turn.get("parts")
    if not isinstance(parts, list):
        return ""
    return "\n".join(t for p in parts if isinstance(p, Mapping) and (t := part_text(p)))


def check_contents(contents: Sequence[Mapping[str, Any]]) -> None:
    """Vertex's 400 for a request without usable turns, with what to send instead."""
    if not isinstance(contents, Sequence) or isinstance(contents, str | bytes) or not contents:
        raise errors.PermanentError(
            "400 contents must be a non-empty list of turns such as "
            '[{"role": "user", "parts": [{"text": "..."}]}].'
        )
    for i, turn in enumerate(contents):
        if not isinstance(turn, Mapping) or not isinstance(turn.get("parts"), list):
            raise errors.PermanentError(
                f"400 contents[{i}] must be an object with a 'parts' list, got {turn!r:.80}."
            )


def estimate_tokens(contents: Sequence[Mapping[str, Any]]) -> int:
    """Deterministic stand-in for `count_tokens`: the validator's calibrated text estimate
    (`shared.datasets.tokens`, one CJK character ~ one token) plus a fixed 258 per file part."""
    total = 0
    for turn in contents:
        parts = turn.get("parts")
        for part in parts if isinstance(parts, list) else []:
            if not isinstance(part, Mapping):
                continue
            total += estimate_text(part_text(part)) if "text" in part else FILE_PART_TOKENS
    return max(total, 1)


_GENERIC: dict[str, tuple[str, ...]] = {
    "zh": (
        "您好！感谢您的咨询。关于您提到的问题，建议您先查看帮助中心和最新公告；如果仍未解决，"
        "请提供账号信息和问题截图，我们会尽快为您处理。",
        "您好，很高兴为您服务。这类问题通常可以通过重新登录或更新到最新版本来解决。"
        "如果问题依旧存在，请联系人工客服，我们会进一步协助您。",
        "感谢您的耐心等待！我暂时无法确认具体情况，建议您通过官方渠道提交工单，"
        "相关团队核实后会第一时间与您联系。",
        "您好！您的反馈我们已经收到。为了更准确地帮助您，请补充一下问题出现的时间和具体表现，"
        "我们会根据情况为您提供解决方案。",
    ),
    "en": (
        "Hello, and thanks for reaching out! I'd suggest checking the help center and the latest "
        "announcements first. If that doesn't solve it, please share your account details and a "
        "screenshot so the team can look into it.",
        "Thanks for your question. Issues like this can often be fixed by signing in again or "
        "updating to the latest version. If it keeps happening, please contact a support agent.",
        "Thank you for your patience. I can't confirm the specifics right now; please open a "
        "ticket through the official support channel and the team will get back to you.",
        "Thanks for the feedback! Could you tell me when the problem started and what exactly "
        "you see? With those details I can point you to the right solution.",
    ),
}


def generic_reply(prompt: str) -> str:
    """A polite reply in the prompt's language that uses no training data: what a base model
    says to a question it has no specific knowledge about. Same prompt, same reply."""
    options = _GENERIC[language(prompt)]
    digest = hashlib.sha256(prompt.encode("utf-8")).digest()
    return options[digest[0] % len(options)]
