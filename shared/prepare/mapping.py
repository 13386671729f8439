"""Which column holds what, and which sender value is the player and which the agent.

Exports name their columns in Chinese or English and their senders in many ways (玩家 / 客服 /
系统 / 机器人, player / agent / bot...). The defaults below cover the common names; a team with
other names writes a small `--map` YAML file:

    columns: {session: 工单号, role: 发送者, text: 聊天内容, timestamp: 发送时间}
    roles:
      user: [VIP玩家]        # added to the built-in player names
      model: [机器人]        # keep bot rows, as agent answers
      drop: [系统公告]

A value in the mapping wins over the built-in lists, so `model: [机器人]` keeps bot rows that are
dropped by default. Header and role values are compared trimmed and case-folded.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import yaml

Field = Literal["session", "role", "text", "timestamp"]
FIELDS: tuple[Field, ...] = ("session", "role", "text", "timestamp")
REQUIRED: tuple[Field, ...] = ("session", "role", "text")
#: What a sender value becomes: a Gemini role, or `drop` (system, bot and auto-reply rows).
Target = Literal["user", "model", "drop"]
TARGETS: tuple[Target, ...] = ("user", "model", "drop")


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


#: Header names recognised without a mapping, per field (compared by `_key`).
HEADERS: dict[Field, tuple[str, ...]] = {
    "session": _words(
        "会话id 会话编号 会话 对话id 工单号 工单id 工单编号 工单 session_id session ticket_id "
        "ticket conversation_id conversation chat_id dialog_id thread_id"
    ),
    "role": _words(
        "角色 发送方 发送者 发送人 身份 消息来源 role sender sender_type speaker from author"
    ),
    "text": _words("内容 消息 消息内容 聊天内容 文本 回复内容 text content message body msg"),
    "timestamp": _words(
        "时间 发送时间 时间戳 消息时间 创建时间 timestamp time datetime created_at sent_at date"
    ),
}

#: Sender values recognised without a mapping.
ROLES: dict[Target, tuple[str, ...]] = {
    "user": _words("玩家 用户 客户 顾客 访客 会员 user player customer client visitor human"),
    "model": _words(
        "客服 人工客服 人工 坐席 客服专员 agent assistant staff support model gm operator"
    ),
    "drop": _words(
        "系统 系统消息 系统通知 机器人 智能客服 自动回复 system bot robot auto-reply auto_reply "
        "autoreply"
    ),
}


def _key(value: str) -> str:
    return value.strip().lstrip("\ufeff").casefold()


def _header_key(value: str) -> str:
    return _key(value).replace(" ", "_").replace("-", "_")


@dataclass(frozen=True)
class ExportMap:
    """Column names the user gave (field -> header) and sender values (value -> target)."""

    columns: Mapping[str, str] = field(default_factory=dict)
    roles: Mapping[str, Target] = field(default_factory=dict)

    def role_table(self) -> dict[str, Target]:
        """Every known sender value -> target, the user's values winning."""
        table: dict[str, Target] = {}
        for target, values in ROLES.items():
            for v in values:
                table[_key(v)] = target
        table.update({_key(k): t for k, t in self.roles.items()})
        return table


def parse_map(text: str, source: str) -> ExportMap:
    """A `--map` YAML document. Raises ValueError saying what to fix."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ValueError(f"{source} is not valid YAML: {e}") from None
    if doc is None:
        return ExportMap()
    if not isinstance(doc, dict):
        raise ValueError(f"{source}: expected `columns:` and/or `roles:` at the top.")
    unknown = sorted(set(map(str, doc)) - {"columns", "roles"})
    if unknown:
        raise ValueError(f"{source}: unknown key(s) {', '.join(unknown)}; use columns and roles.")
    columns = doc.get("columns") or {}
    if not isinstance(columns, dict):
        raise ValueError(f"{source}: columns must map {', '.join(FIELDS)} to header names.")
    for name, header in columns.items():
        if name not in FIELDS:
            raise ValueError(f"{source}: columns.{name} is not a field; use {', '.join(FIELDS)}.")
        if not isinstance(header, (str, int)) or not str(header).strip():
            raise ValueError(f"{source}: columns.{name} must be a header name.")
    roles_raw = doc.get("roles") or {}
    if not isinstance(roles_raw, dict):
        raise ValueError(f"{source}: roles must map user / model / drop to lists of values.")
    roles: dict[str, Target] = {}
    for target, values in roles_raw.items():
        if target not in TARGETS:
            raise ValueError(f"{source}: roles.{target} is not user, model or drop.")
        if isinstance(values, (str, int)):
            values = [values]
        if not isinstance(values, list):
            raise ValueError(f"{source}: roles.{target} must be a list of sender values.")
        for v in values:
            roles[str(v)] = target
    return ExportMap({str(k): str(v) for k, v in columns.items()}, roles)


@dataclass(frozen=True)
class Columns:
    """Column positions of the four fields in one file (timestamp may be absent)."""

    session: int
    role: int
    text: int
    timestamp: int | None
    #: field -> header, as found (for the report)
    headers: Mapping[str, str]


def resolve(header: Sequence[Any], mapping: ExportMap, source: str) -> Columns:
    """Find each field's column in a header row. Raises ValueError naming what is missing and
    the headers there are, so the user can write `--map`."""
    keys = [_header_key(str(h)) if h is not None else "" for h in header]
    found: dict[str, int] = {}
    for fld in FIELDS:
        wanted = mapping.columns.get(fld)
        if wanted is not None:
            try:
                found[fld] = keys.index(_header_key(wanted))
            except ValueError:
                raise ValueError(
                    f"{source}: the mapping names column {wanted!r} for {fld}, but the header "
                    f"has {_shown(header)}. Fix --map."
                ) from None
            continue
        for name in HEADERS[fld]:
            k = _header_key(name)
            if k in keys:
                found[fld] = keys.index(k)
                break
    missing = [f for f in REQUIRED if f not in found]
    if missing:
        raise ValueError(
            f"{source}: no column for {', '.join(missing)} among {_shown(header)}. Name them "
            "in a --map file, e.g. `columns: {session: 工单号, role: 发送者, text: 内容, "
            "timestamp: 时间}`."
        )
    return Columns(
        found["session"],
        found["role"],
        found["text"],
        found.get("timestamp"),
        {f: str(header[i]) for f, i in found.items()},
    )


def _shown(header: Sequence[Any]) -> str:
    names = [str(h) for h in header if h is not None and str(h).strip()]
    return ", ".join(repr(n) for n in names[:20]) or "no names (is the first row a header?)"
