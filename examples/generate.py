"""Regenerate the bundled example datasets from the hand-written intent tables.

    python examples/generate.py            # writes datasets/game-cs-{zh,en}/ and broken/*/
    python examples/generate.py --check    # exits 1 if the committed files are out of date

Why a generator and not hand-edited JSONL: the held-out (validation/test) questions must be
what a real test set is, so that the evaluation demo shows an honest, imperfect score with a
real gap: mostly paraphrases of trained questions (the tuned model should get them right),
plus whole intents the model never trained on (every `HOLD_OUT_EVERY`-th intent: it should get
them wrong). No held-out question is a training question. Keeping intents, paraphrases and
answers together in `intents/<lang>.txt` makes that hold by construction and keeps the text
reviewable.

Split rules (deterministic; the only shuffle uses a fixed seed):
- each `Q` line gives one single-turn training example;
- each `F`/`FA` follow-up gives one multi-turn training example (the intent's question, its
  answer, then the follow-ups so far), and some intents open with a greeting exchange;
- `P` lines are held out and alternate validation, test, validation, ... in file order, so
  no held-out question appears in the training file;
- a held-out intent (every `HOLD_OUT_EVERY`-th, counting from 1) trains nothing: its first `Q`
  and its `P` lines alternate validation / test like the others.
"""

from __future__ import annotations

import argparse
import copy
import json
import random
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SEED = 20240601
#: Every this many intents, one is held out whole (never trained on).
HOLD_OUT_EVERY = 6
LANGS = ("zh", "en")

#: (user, model) greeting exchanges that open some multi-turn examples, per language.
GREETINGS: dict[str, tuple[tuple[str, str], ...]] = {
    "zh": (
        ("你好，在吗？", "您好，我是《星辰幻境》客服星星，很高兴为您服务！请问遇到了什么问题呢？"),
        ("客服你好", "您好！我是客服星星，请您描述一下遇到的问题，我会尽力帮您解决。"),
        ("有人吗", "在的，您好！我是《星辰幻境》在线客服星星，请问有什么可以帮您？"),
        ("您好，想咨询一个问题", "您好，请说，我是客服星星，会尽快为您解答。"),
    ),
    "en": (
        ("Hi, anyone there?",
         "Hi there! I'm Nova from Starfall Realms support. What can I help you with today?"),
        ("Hello support",
         "Hello! This is Nova from player support. Please tell me what happened and I'll do my "
         "best to sort it out."),
        ("Hey, I need some help",
         "Of course! I'm Nova, a Starfall Realms support agent. What seems to be the problem?"),
        ("Good evening, quick question",
         "Good evening! Nova here from player support. Go ahead, I'm listening."),
    ),
}  # fmt: skip


@dataclass
class Intent:
    name: str
    questions: list[str] = field(default_factory=list)
    paraphrases: list[str] = field(default_factory=list)
    answer: str = ""
    followups: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class Table:
    system: str
    intents: list[Intent]


def _unescape(text: str) -> str:
    return text.replace("\\n", "\n").strip()


def parse_table(path: Path) -> Table:
    """Read one `intents/<lang>.txt`; fail loudly with the line number on a malformed line."""
    system = ""
    intents: list[Intent] = []
    pending_followup: str | None = None
    for n, line in enumerate(path.read_text("utf-8").splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        tag, _, text = line.partition(" ")
        text = _unescape(text)
        where = f"{path.name}:{n}"
        if tag == "SYSTEM":
            system = text
        elif tag == "==":
            intents.append(Intent(text))
        elif not intents:
            raise SystemExit(f"{where}: {tag} line before the first `== intent` line")
        elif tag == "Q":
            intents[-1].questions.append(text)
        elif tag == "P":
            intents[-1].paraphrases.append(text)
        elif tag == "A":
            intents[-1].answer = text
        elif tag == "F":
            pending_followup = text
        elif tag == "FA" and pending_followup is not None:
            intents[-1].followups.append((pending_followup, text))
            pending_followup = None
        else:
            raise SystemExit(f"{where}: unknown or misplaced tag {tag!r}")
    for it in intents:
        if not (it.questions and it.paraphrases and it.answer):
            raise SystemExit(f"{path.name}: intent {it.name!r} needs Q, P and A lines")
    if not system:
        raise SystemExit(f"{path.name}: missing the SYSTEM line")
    return Table(system, intents)


Turns = list[tuple[str, str]]  # (role, text)


def _row(system: str, turns: Turns) -> dict[str, Any]:
    return {
        "systemInstruction": {"role": "system", "parts": [{"text": system}]},
        "contents": [{"role": role, "parts": [{"text": text}]} for role, text in turns],
    }


def build(lang: str) -> dict[str, list[dict[str, Any]]]:
    """Return {"train": rows, "validation": rows, "test": rows} for one language."""
    table = parse_table(HERE / "intents" / f"{lang}.txt")
    train: list[Turns] = []
    held: dict[str, list[Turns]] = {"validation": [], "test": []}
    held_index = 0
    for i, it in enumerate(table.intents):
        if (i + 1) % HOLD_OUT_EVERY == 0:
            for q in it.questions[:1] + it.paraphrases:
                split = "validation" if held_index % 2 == 0 else "test"
                held[split].append([("user", q), ("model", it.answer)])
                held_index += 1
            continue
        for q in it.questions:
            train.append([("user", q), ("model", it.answer)])
        for j in range(len(it.followups)):
            q = it.questions[(j + 1) % len(it.questions)]
            turns: Turns = [("user", q), ("model", it.answer)]
            for fq, fa in it.followups[: j + 1]:
                turns += [("user", fq), ("model", fa)]
            train.append(turns)
        if i % 2 == 0:
            hello, reply = GREETINGS[lang][(i // 2) % len(GREETINGS[lang])]
            q = it.questions[-1]
            train.append([("user", hello), ("model", reply), ("user", q), ("model", it.answer)])
        for p in it.paraphrases:
            split = "validation" if held_index % 2 == 0 else "test"
            held[split].append([("user", p), ("model", it.answer)])
            held_index += 1
    random.Random(SEED).shuffle(train)
    return {
        "train": [_row(table.system, t) for t in train],
        "validation": [_row(table.system, t) for t in held["validation"]],
        "test": [_row(table.system, t) for t in held["test"]],
    }


def render(rows: list[dict[str, Any]]) -> bytes:
    """UTF-8 JSONL without BOM; Chinese stays readable (ensure_ascii=False)."""
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode("utf-8")


def _legacy(row: dict[str, Any]) -> dict[str, Any]:
    """The same example in the old `messages` shape that today's API rejects."""
    system = row["systemInstruction"]["parts"][0]["text"]
    msgs = [{"role": "system", "content": system}]
    for turn in row["contents"]:
        role = "assistant" if turn["role"] == "model" else "user"
        msgs.append({"role": role, "content": turn["parts"][0]["text"]})
    return {"messages": msgs}


def broken(rows: dict[str, list[dict[str, Any]]]) -> dict[str, bytes]:
    """Small deliberately broken train.jsonl files (one per folder under examples/broken/)."""
    zh = rows["zh"][:5]
    en = rows["en"][:5]
    legacy = render([_legacy(r) for r in zh[:3] + en[:2]])
    json_error = render(en[:2]) + render(en[2:3]).replace(b'"}]}]}', b'"}]}]', 1) + render(en[3:])
    trailing = copy.deepcopy(zh)
    trailing[1]["contents"].append({"role": "user", "parts": [{"text": "还有别的办法吗？"}]})
    gbk = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in zh).encode("gbk", "replace")
    return {
        "legacy-messages": legacy,
        "json-error-line-3": json_error,
        "trailing-user-turn": render(trailing),
        "not-utf8": gbk,
        "personal-data": render(_with_personal_data(zh)),
    }


def _check_digit_id(body: str) -> str:
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return body + "10X98765432"[sum(int(c) * w for c, w in zip(body, weights, strict=True)) % 11]


def _luhn(body: str) -> str:
    total = sum(
        (d * 2 - 9 if d > 4 else d * 2) if i % 2 == 0 else d
        for i, d in enumerate(int(c) for c in reversed(body))
    )
    return body + str(-total % 10)


def _with_personal_data(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Players' contact and identity data planted in questions (made-up values that pass the
    real ID / Luhn checks), for `gemini-tuning validate` and `gemini-tuning redact`."""
    planted = [
        "我的手机号是 138-1234-5678，验证码一直收不到",
        f"实名认证填的身份证号 {_check_digit_id('11010519900307123')}，为什么不通过",
        f"退款请打到我的卡 {_luhn('622202123456789012')}，QQ号：12345678 联系我",
        "邮箱 zhang.san88@qq.com 收不到邮件，加我微信号: wxid_ab12cd 说",
    ]
    out = copy.deepcopy(rows)
    for row, text in zip(out, planted, strict=False):
        row["contents"][-2]["parts"][0]["text"] = text
    return out


def outputs(root: Path) -> dict[Path, bytes]:
    files: dict[Path, bytes] = {}
    train: dict[str, list[dict[str, Any]]] = {}
    for lang in LANGS:
        splits = build(lang)
        for split, rows in splits.items():
            files[root / "datasets" / f"game-cs-{lang}" / f"{split}.jsonl"] = render(rows)
        train[lang] = splits["train"]
    for name, data in broken(train).items():
        files[root / "broken" / name / "train.jsonl"] = data
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=HERE, help="examples folder to write into")
    parser.add_argument("--check", action="store_true", help="only compare, write nothing")
    args = parser.parse_args(argv)
    stale = []
    for path, data in outputs(args.out).items():
        if args.check:
            if not path.exists() or path.read_bytes() != data:
                stale.append(path)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        count = data.count(b"\n")
        print(f"wrote {path} ({count} examples)")
    if stale:
        print("out of date (run python examples/generate.py):", *map(str, stale), sep="\n  ")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
