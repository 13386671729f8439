"""Validator CPU time, throughput and peak memory on two generated datasets, beside its peers:
a naive json.loads walk, Together's `check_file` (together 3.1.1) and the same walk with orjson
(the multi-core target's reference).

    python -m bench validator                          # 500 MB files (generated into bench/data/)
    BENCH_VALIDATOR_MB=100 python -m bench validator   # quick run
    BENCH_PEERS_PYTHON=.venv-peers/bin/python python -m bench validator   # with check_file

Each measurement runs in a fresh subprocess, so CPU seconds (the whole process: interpreter
start, imports, its worker processes) and peak RSS (VmHWM) belong to that run alone. Rounds are
interleaved (every tool once, then again), so load from other work on the machine falls on all
tools alike; the table prints each round side by side and the ratios of CPU seconds.
`check_file` runs in its own interpreter because together 3.1.1 pins `rich<15` (this project
pins rich 15.0.0): `python -m venv .venv-peers && .venv-peers/bin/pip install together==3.1.1`.
"""

from __future__ import annotations

import json
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

DATA = Path(__file__).parent / "data"

_ZH = [
    "您好，请问有什么可以帮您？",
    "我的账号登录不上了，一直提示密码错误。",
    "请提供您的角色ID和所在服务器，我来帮您查询。",
    "充值了六百四十八元但是钻石没有到账。",
    "非常抱歉给您带来不便，订单正在核实中，预计两小时内到账。",
    "这个活动的奖励什么时候发放？",
    "活动奖励会在活动结束后二十四小时内通过邮件发放。",
    "我的装备被误分解了，能恢复吗？",
    "根据规则，误操作分解的装备可以在七天内申请恢复一次。",
    "游戏一直闪退，手机型号是华为Mate60。",
    "请尝试清除缓存后重新登录，如果问题依旧，请提供日志截图。",
    "公会战几点开始？",
    "每周六晚上八点准时开始，请提前十分钟进入准备区域。",
    "怎么解除手机绑定？",
]
_EN = [
    "Hi, I can't log in to my account since the last update.",
    "Please share your player ID and server so I can look into it.",
    "I bought the season pass but the rewards are not showing up.",
    "Sorry for the trouble! The purchase is being verified and should arrive within two hours.",
    "When does the double XP weekend start?",
    "The event starts Friday at 18:00 UTC.",
    "My game crashes on the loading screen every time.",
    "Please clear the cache, reinstall, and send us the crash log if it still happens.",
    "How do I transfer my progress to a new phone?",
    "Link your account under Settings > Account, then log in on the new device.",
]


def zh_text(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(_ZH) for _ in range(n))


def en_text(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(_EN) for _ in range(n))


def mixed_text(rng: random.Random, n: int) -> str:
    return "".join(
        rng.choice(_ZH) if rng.random() < 0.6 else " " + rng.choice(_EN) + " " for _ in range(n)
    )


def _mixed_line(rng: random.Random, i: int) -> bytes:
    turns = []
    for t in range(rng.choice((2, 4, 6))):
        role = "user" if t % 2 == 0 else "model"
        turns.append({"role": role, "parts": [{"text": mixed_text(rng, rng.randint(1, 6))}]})
    turns[0]["parts"][0]["text"] += f" #{i}"
    ex: dict[str, object] = {"contents": turns}
    if i % 2 == 0:
        ex = {"systemInstruction": {"parts": [{"text": "你是游戏客服助手。Be polite."}]}, **ex}
    return json.dumps(ex, ensure_ascii=rng.random() < 0.3).encode()


def _short_line(rng: random.Random, i: int) -> bytes:
    q = rng.choice(("hi", "help", "你好", "refund?", "ban?"))
    a = rng.choice(("Hello!", "How can I help?", "您好！", "Sure."))
    return (
        b'{"contents":[{"role":"user","parts":[{"text":"%s %d"}]},'
        b'{"role":"model","parts":[{"text":"%s"}]}]}'
        % (json.dumps(q)[1:-1].encode(), i, json.dumps(a)[1:-1].encode())
    )


def ensure(name: str, mb: int) -> Path:
    """Generate bench/data/<name>-<mb>MB.jsonl once; reuse it afterwards."""
    DATA.mkdir(exist_ok=True)
    path = DATA / f"{name}-{mb}MB.jsonl"
    if path.exists():
        return path
    make = _mixed_line if name == "mixed" else _short_line
    rng = random.Random(7)
    target = mb * 1024 * 1024
    tmp = path.with_suffix(".tmp")
    with tmp.open("wb") as f:
        size = i = 0
        buf: list[bytes] = []
        while size < target:
            line = make(rng, i) + b"\n"
            buf.append(line)
            size += len(line)
            i += 1
            if len(buf) >= 10000:
                f.write(b"".join(buf))
                buf.clear()
        f.write(b"".join(buf))
    tmp.rename(path)
    return path


_NAIVE = """
import json, sys
bad = n = 0
with open(sys.argv[1], encoding="utf-8") as f:
    for line in f:
        ex = json.loads(line)
        n += 1
        ok = isinstance(ex, dict) and isinstance(ex.get("contents"), list) and ex["contents"]
        if ok:
            for turn in ex["contents"]:
                if not (isinstance(turn, dict) and turn.get("role") in ("user", "model")
                        and isinstance(turn.get("parts"), list) and turn["parts"]):
                    ok = False
                    break
                for part in turn["parts"]:
                    if not (isinstance(part, dict) and isinstance(part.get("text"), str)):
                        ok = False
        bad += not ok
print(n, bad)
"""

#: The same walk with orjson reading bytes: the multi-core stretch target's reference.
_ORJSON = (
    _NAIVE.replace("import json,", "import orjson,")
    .replace('open(sys.argv[1], encoding="utf-8")', 'open(sys.argv[1], "rb")')
    .replace("json.loads", "orjson.loads")
)
assert "orjson.loads" in _ORJSON and '"rb"' in _ORJSON

_VALIDATOR = """
import os, sys
from shared.datasets import validate_dataset
from shared.datasets.privacy import PrivacyOptions
# Every check on: personal data (built-in kinds + one custom pattern), languages, near-duplicates,
# length outliers. WORKERS processes (1: the bounded-memory single-process path).
with open(sys.argv[1], "rb") as f:
    r = validate_dataset(f, privacy=PrivacyOptions(patterns={"order_id": r"GM[0-9]{10}"}),
                         workers=WORKERS)
pd, nd = r.stats["personal_data"], r.stats["near_duplicates"]
print(r.stats["examples"], r.valid, sum(r.counts.values()), "pii", pd["counts"], pd["prefilter"],
      "near-dup sample", nd["sampled_examples"], "stride", nd["sample_stride"])
"""


def _run(code: str, path: Path, exe: str) -> tuple[float, float, str, float, float]:
    """(seconds, peak RSS MB, stdout, largest child's peak RSS MB, CPU seconds of the process
    and its children) of `code` run on `path` in a fresh interpreter."""
    wrapper = (
        "import runpy, sys, time\n"
        "t = time.perf_counter()\n"
        "c = time.process_time()\n"
        f"exec(compile({code!r}, 'bench', 'exec'))\n"
        "dt = time.perf_counter() - t\n"
        "cpu = time.process_time() - c\n"
        "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0].split()[1]\n"
        "import resource\n"
        "ru = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
        "print('@@', dt, int(hwm) / 1024, ru.ru_maxrss / 1024, cpu + ru.ru_utime + ru.ru_stime)\n"
    )
    out = subprocess.run(
        [exe, "-c", wrapper, str(path)],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).parent.parent,
    ).stdout
    result, timing = out.rsplit("@@", 1)
    dt, rss, kids, cpu = timing.split()
    return float(dt), float(rss), result.strip(), float(kids), float(cpu)


_TOGETHER = """
import sys
from together.lib.utils.files import check_file
r = check_file(sys.argv[1])
print(r["is_check_passed"], r.get("num_samples"), r.get("message"))
"""


def _peers_python() -> str | None:
    """The interpreter that has together installed (BENCH_PEERS_PYTHON), if it works."""
    exe = os.environ.get("BENCH_PEERS_PYTHON")
    if not exe:
        return None
    ok = subprocess.run([exe, "-c", "import together.lib.utils.files"], capture_output=True)
    return exe if ok.returncode == 0 else None


def main() -> None:
    mb = int(os.environ.get("BENCH_VALIDATOR_MB", "500"))
    rounds = int(os.environ.get("BENCH_VALIDATOR_RUNS", "3"))
    cores = os.cpu_count() or 1
    peers = _peers_python()
    tools: list[tuple[str, str, str]] = [
        ("validator", _VALIDATOR.replace("WORKERS", "1"), sys.executable),
        ("naive json.loads walk", _NAIVE, sys.executable),
        ("orjson walk", _ORJSON, sys.executable),
        (f"validator, {cores} procs", _VALIDATOR.replace("WORKERS", str(cores)), sys.executable),
    ]
    if peers:
        tools.insert(2, ("together check_file", _TOGETHER, peers))
    else:
        print("  (together check_file skipped: set BENCH_PEERS_PYTHON, see the docstring)")
    for name in ("mixed", "short"):
        t0 = time.perf_counter()
        path = ensure(name, mb)
        size = path.stat().st_size / 1e6
        print(f"{name}: {path.name} {size:,.0f} MB (ready in {time.perf_counter() - t0:.1f} s)")
        cpu: dict[str, list[float]] = {label: [] for label, _, _ in tools}
        for r in range(rounds):
            for label, code, exe in tools:
                dt, rss, out, kids, c = _run(code, path, exe)
                cpu[label].append(c)
                more = f" + {cores - 1} x {kids:.1f} MB" if kids else ""
                print(
                    f"  round {r + 1} {label:24s} cpu {c:6.2f} s  {size / dt:7.1f} MB/s  "
                    f"peak RSS {rss:6.1f} MB{more}  ({out})",
                    flush=True,
                )
        mine = cpu["validator"]
        for label, _, _ in tools[1:]:
            if label.startswith("validator,"):
                continue
            ratios = ", ".join(f"{t / v:.2f}x" for t, v in zip(cpu[label], mine, strict=True))
            print(f"  {label} CPU / validator CPU, per round: {ratios}")
        print(f"  validator CPU per round: {', '.join(f'{c:.2f} s' for c in mine)}")
        print(
            "  median CPU: "
            + ", ".join(f"{label} {statistics.median(v):.2f} s" for label, v in cpu.items())
        )


if __name__ == "__main__":
    main()
