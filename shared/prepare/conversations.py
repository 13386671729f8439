"""The messages of one session -> Gemini examples.

In order: empty messages are skipped, consecutive messages of one role are merged (players
often send three short lines in a row), agent greetings before the player's first message are
dropped (there is nothing they answer), a trailing player message without an answer is trimmed
(the model would learn nothing from it), and a session longer than the model's token limit is
cut between exchanges into several examples, each starting with the player and ending with the
agent. Every decision is counted under a reason the report shows.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from shared.datasets.tokens import estimate_text

#: Tokens an example may use beyond its texts (role markers, separators): a margin on the limit.
OVERHEAD_PER_TURN = 4


@dataclass(frozen=True)
class Turn:
    role: str  # "user" | "model"
    text: str


@dataclass(frozen=True)
class Conversation:
    """One example: its session, which piece of the session (0 unless it was split), turns."""

    session: str
    piece: int
    turns: tuple[Turn, ...]

    def contents(self) -> list[dict[str, Any]]:
        return [{"role": t.role, "parts": [{"text": t.text}]} for t in self.turns]

    @property
    def final_exchange(self) -> tuple[str, str]:
        """(last player message, last agent answer): what the evaluator asks and compares."""
        return self.turns[-2].text, self.turns[-1].text

    def text(self) -> str:
        """The whole conversation as one text (what duplicates are judged on)."""
        return "\n".join(f"{t.role}: {t.text}" for t in self.turns)


def merge(messages: Iterable[tuple[str, str]], drops: Counter[str]) -> list[Turn]:
    """(role, text) in order -> alternating turns: empty skipped, same-role neighbours merged."""
    turns: list[Turn] = []
    for role, text in messages:
        text = text.strip()
        if not text:
            drops["empty_message"] += 1
            continue
        if turns and turns[-1].role == role:
            turns[-1] = Turn(role, turns[-1].text + "\n" + text)
            drops["merged_message"] += 1
        else:
            turns.append(Turn(role, text))
    while turns and turns[0].role == "model":
        turns.pop(0)
        drops["agent_turn_before_player"] += 1
    while turns and turns[-1].role == "user":
        turns.pop()
        drops["unanswered_last_message"] += 1
    return turns


def build(
    session: str,
    messages: Iterable[tuple[str, str]],
    budget: int,
    drops: Counter[str],
) -> list[Conversation]:
    """The examples of one session, each within `budget` estimated tokens."""
    turns = merge(messages, drops)
    if not turns:
        drops["session_without_answer"] += 1
        return []
    pairs = [(turns[i], turns[i + 1]) for i in range(0, len(turns) - 1, 2)]
    pieces: list[list[Turn]] = []
    current: list[Turn] = []
    used = 0
    for q, a in pairs:
        cost = estimate_text(q.text) + estimate_text(a.text) + 2 * OVERHEAD_PER_TURN
        if cost > budget:
            drops["exchange_over_token_limit"] += 1
            continue
        if current and used + cost > budget:
            pieces.append(current)
            current, used = [], 0
        current += [q, a]
        used += cost
    if current:
        pieces.append(current)
    if len(pieces) > 1:
        drops["long_session_split"] += 1
    return [Conversation(session, i, tuple(p)) for i, p in enumerate(pieces)]
