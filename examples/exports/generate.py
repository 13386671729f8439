"""Write the bundled customer-service exports: one Chinese chat log, four files.

    python examples/exports/generate.py

`chat-export.csv` (UTF-8 with a BOM, as Excel's "CSV UTF-8" saves it), `chat-export-gb18030.csv`
(what Excel's plain "CSV" saves on Chinese Windows), `chat-export.xlsx` (the same rows in a
workbook, timestamps as date cells) and `chat-export.tsv` are the same rows: the tests check that
`gemini-tuning prepare` turns each into the same dataset folder. The rows are what a ticket system
exports: one message per row, sessions interleaved in time, 系统 / 机器人 rows, a player who sends
several lines in a row, a last question nobody answered, a phone number, a repeated session.
Deterministic (a fixed seed); the .xlsx needs openpyxl (the `xlsx` extra).
"""

from __future__ import annotations

import csv
import io
import random
from datetime import datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
HEADER = ["会话ID", "发送方", "内容", "时间"]

#: (player lines, agent answer) exchanges per topic; a session is 1-3 of them.
TOPICS: dict[str, list[tuple[list[str], str]]] = {
    "login": [
        (
            ["登录一直提示网络异常", "换了WiFi也不行"],
            "您好，请先在登录页点击「修复客户端」，再清除缓存后重试；如仍失败，请提供角色UID和截图。",
        ),
        (
            ["修复了还是不行"],
            "请您在「设置-客服中心-提交工单」附上报错截图和设备型号，技术同学会在24小时内处理。",
        ),
    ],
    "recharge": [
        (
            ["我充值了648怎么没到账"],
            "非常抱歉给您带来困扰。请提供订单号和角色UID，我们核实后会在2小时内为您补发。",
        ),
        (["订单号是GM2026110188"], "已为您登记，补发成功后会通过游戏内邮件通知您，请注意查收。"),
    ],
    "stolen": [
        (
            ["我的号被盗了，装备全没了"],
            "请立即修改密码并开启二次验证，然后提交工单说明最后一次正常登录的时间，我们会冻结账号并追回物品。",
        ),
        (["多久能追回"], "核实通常需要3个工作日，期间请勿向任何人透露密码和验证码。"),
    ],
    "refund": [
        (
            ["误买了礼包能退吗"],
            "虚拟商品一经购买原则上不支持退款；如是未成年人误充值，请按官网流程提交监护人证明。",
        ),
    ],
    "cheat": [
        (
            ["遇到开挂的玩家怎么举报"],
            "请在对局结算界面点击对方头像选择「举报」，并尽量附上录像，我们会在48小时内处理并反馈结果。",
        ),
    ],
    "rename": [
        (
            ["怎么改角色名"],
            "在「背包-道具」中使用改名卡即可，改名卡可在商城购买，改名后七天内不能再次修改。",
        ),
    ],
    "event": [
        (
            ["活动奖励没领到", "昨天明明完成了"],
            "活动奖励会在活动结束后24小时内通过邮件发放，请先查看邮箱；如仍未收到，请提供UID。",
        ),
    ],
}
CLOSING = (["好的谢谢"], "不客气，祝您游戏愉快！")
BOT = "您好，欢迎来到星辰幻境客服中心，人工客服马上为您服务。"
SYSTEM = "会话已结束，感谢您的耐心等待。"


def sessions(seed: int = 20) -> list[list[tuple[str, str, str]]]:
    """Sessions as lists of (sender, text); not yet timed."""
    rng = random.Random(seed)
    out: list[list[tuple[str, str, str]]] = []
    names = list(TOPICS)
    for n in range(36):
        topic = names[n % len(names)]
        rows: list[tuple[str, str, str]] = [("机器人", BOT, topic)]
        exchanges = TOPICS[topic][: rng.randint(1, len(TOPICS[topic]))]
        for lines, answer in exchanges:
            variant = "" if n < len(names) else f"（第{n}次咨询）"
            rows += [
                ("玩家", line + (variant if i == 0 else ""), topic) for i, line in enumerate(lines)
            ]
            rows.append(("客服", answer, topic))
        if n % 3 == 0:
            rows += [("玩家", CLOSING[0][0], topic), ("客服", CLOSING[1], topic)]
        if n % 5 == 0:
            rows.append(("玩家", "还有别的问题吗", topic))  # nobody answered
        if n == 4:
            rows.insert(2, ("玩家", "我手机号13912345678，可以帮我查吗", topic))
        rows.append(("系统", SYSTEM, topic))
        out.append(rows)
    out.append(list(out[1]))  # the same conversation exported twice (a re-opened ticket)
    return out


def rows() -> list[tuple[str, str, str, datetime]]:
    """All messages, interleaved in time as a chat system writes them."""
    rng = random.Random(7)
    start = datetime(2026, 11, 2, 9, 0, 0)
    timed: list[tuple[datetime, int, tuple[str, str, str, datetime]]] = []
    for i, sess in enumerate(sessions()):
        sid = f"S{20261102000 + i}"
        t = start + timedelta(minutes=rng.randint(0, 180))
        for k, (sender, text, _) in enumerate(sess):
            t += timedelta(seconds=rng.randint(5, 90))
            timed.append((t, i * 100 + k, (sid, sender, text, t)))
    timed.sort()
    return [r for _, _, r in timed]


def csv_text(delimiter: str = ",") -> str:
    buf = io.StringIO(newline="")
    w = csv.writer(buf, delimiter=delimiter, lineterminator="\r\n")
    w.writerow(HEADER)
    for sid, sender, text, t in rows():
        w.writerow([sid, sender, text, t.strftime("%Y-%m-%d %H:%M:%S")])
    return buf.getvalue()


def main() -> None:
    text = csv_text()
    (HERE / "chat-export.csv").write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    (HERE / "chat-export-gb18030.csv").write_bytes(text.encode("gb18030"))
    (HERE / "chat-export.tsv").write_bytes(csv_text("\t").encode("utf-8"))
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "聊天记录"
    ws.append(HEADER)
    for sid, sender, text_, t in rows():
        ws.append([sid, sender, text_, t])
    wb.properties.created = wb.properties.modified = datetime(2026, 12, 3)
    wb.save(HERE / "chat-export.xlsx")


if __name__ == "__main__":
    main()
