"""`gemini-tuning prepare` on a large generated chat export: throughput and peak memory.

Generates a CSV of Chinese customer-service sessions (one message per row; 2,000 sessions open
at once, so each session's rows are spread over the file as a chat system writes them; player /
agent / bot / system senders; order numbers and UIDs that make sessions differ), then runs
`gemini-tuning prepare` on it in a child process and reads the child's peak resident memory
from the kernel (`wait4` rusage). The CSV is generated at bench time in a temporary folder and
deleted afterwards, never committed.

    python -m bench.bench_prepare            # 1 GB (BENCH_PREPARE_MB overrides: 64 is quick)
"""

from __future__ import annotations

import csv
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OPEN_SESSIONS = 2_000

_ASK = (
    "我充值了{n}元但是钻石没到账，订单号GP{o}",
    "登录的时候一直提示网络异常，角色UID是{u}",
    "我的号好像被盗了，UID {u}，昨晚的装备全没了",
    "活动奖励没有领到，我明明完成了第{n}关",
    "怎么举报开挂的玩家，对局编号{o}",
    "误买了{n}元的礼包，可以退款吗",
    "改名卡在哪里买，我想改成{u}",
    "副本第{n}层的BOSS打不过，有什么攻略吗",
)
_ANSWER = (
    "非常抱歉给您带来困扰，请提供角色UID和订单号GP{o}的支付截图，我们核实后会在{n}小时内补发。",
    "请先在登录页点击修复客户端并清除缓存；如仍失败，请在设置-客服中心提交工单并附上UID {u}。",
    "请立即修改密码并开启二次验证，我们已为UID {u}提交冻结申请，核实需要{n}个工作日。",
    "活动奖励会在活动结束后24小时内通过邮件发放，第{n}关的奖励请在邮箱查收。",
    "请在对局结算界面点击对方头像选择举报，对局{o}我们会在48小时内处理并反馈结果。",
    "虚拟商品一经购买原则上不支持退款，{n}元礼包如属未成年人误充值请按官网流程申请。",
    "改名卡可在商城-道具页购买，改名后七天内不能再次修改，名称{u}目前可用。",
    "第{n}层BOSS建议先提升装备评分，组队时带上治疗职业，攻略可在社区置顶帖查看。",
)


def generate(path: Path, target_bytes: int, seed: int = 1) -> int:
    """Write the export; returns its rows."""
    rng = random.Random(seed)
    next_id = 0
    sessions: list[list[tuple[str, str]]] = []

    def new_session() -> list[tuple[str, str]]:
        nonlocal next_id
        next_id += 1
        msgs: list[tuple[str, str]] = [("机器人", "您好，人工客服马上为您服务。")]
        for _ in range(rng.randint(1, 4)):
            k = rng.randrange(len(_ASK))
            v = {
                "n": rng.randint(1, 999),
                "o": rng.randint(10**7, 10**8),
                "u": rng.randint(10**8, 10**9),
            }
            msgs.append(("玩家", _ASK[k].format(**v)))
            if rng.random() < 0.3:
                msgs.append(("玩家", "在吗？"))
            msgs.append(("客服", _ANSWER[k].format(**v)))
        msgs.append(("系统", "会话已结束。"))
        msgs.reverse()  # popped from the end
        return msgs

    ids: list[int] = []
    for _ in range(OPEN_SESSIONS):
        sessions.append(new_session())
        ids.append(next_id)
    rows = 0
    t = 1_700_000_000
    with path.open("w", encoding="utf-8-sig", newline="") as f:
        w = csv.writer(f)
        w.writerow(["会话ID", "发送方", "内容", "时间"])
        while f.tell() < target_bytes:
            for _ in range(10_000):
                i = rng.randrange(OPEN_SESSIONS)
                sender, text = sessions[i].pop()
                t += 1
                w.writerow(
                    [
                        f"T{ids[i]:09d}",
                        sender,
                        text,
                        time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(t)),
                    ]
                )
                rows += 1
                if not sessions[i]:
                    sessions[i] = new_session()
                    ids[i] = next_id
    return rows


def measure(csv_path: Path, out: Path) -> tuple[float, float, int, int]:
    """(wall seconds, CPU seconds, peak RSS bytes, exit code) of one `prepare` run in a child
    process (CPU: user + system of the child, what a loaded 2-core machine does not inflate)."""
    cmd = [
        sys.executable,
        "-m",
        "shared.cli",
        "prepare",
        str(csv_path),
        "--out",
        str(out),
        "--json",
    ]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    cpu = usage.ru_utime + usage.ru_stime
    return wall, cpu, usage.ru_maxrss * 1024, proc.returncode


def main() -> None:
    mb = int(os.environ.get("BENCH_PREPARE_MB", "1024"))
    with tempfile.TemporaryDirectory(prefix="bench-prepare-") as tmp:
        folder = Path(tmp)
        src = folder / "export.csv"
        t0 = time.perf_counter()
        rows = generate(src, mb * 1024 * 1024)
        size = src.stat().st_size
        print(f"generated {size / 1e6:,.0f} MB, {rows:,} rows in {time.perf_counter() - t0:.0f} s")
        wall, cpu, rss, code = measure(src, folder / "out")
        print(
            f"prepare: exit {code}, {cpu:.0f} CPU s ({size / 1e6 / cpu:.2f} MB/s per CPU s), "
            f"{wall:.0f} s wall ({size / 1e6 / wall:.2f} MB/s), {rows / cpu:,.0f} rows per CPU s, "
            f"peak RSS {rss / 2**20:.0f} MiB"
        )


if __name__ == "__main__":
    main()
