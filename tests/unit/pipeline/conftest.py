"""A whole local backend in a temp folder, with hand-cranked message delivery.

The pipeline steps run on the real local adapters (folder bucket, SQLite store, SQLite bus,
simulator) — the same ones the contract suites hold to the port behaviour — so these tests
check pipeline behaviour, not call sequences. `World.pump()` plays Pub/Sub: it delivers every
due message of the pipeline topics to the step that subscribes to it.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from shared.composition import LazyDeps
from shared.events import StorageObject, decode_message, parse_pubsub_data
from shared.local.blobs import FolderBlobs
from shared.local.bus import SqliteBus
from shared.local.paths import LocalLayout
from shared.local.store import SqliteRunStore
from shared.pipeline import evaluate, launch
from shared.runs import Run
from shared.settings import Settings
from shared.simulator.config import SimConfig
from shared.simulator.models import SimulatedModels
from shared.simulator.tuner import SimulatedTuner

ZH_EXAMPLES = [
    (
        "充值了648元宝但是没到账怎么办？",
        "非常抱歉给您带来困扰。请提供订单号和角色ID，我们会在24小时内为您补发元宝。",
    ),
    (
        "账号被盗了，装备全没了",
        "请立即修改密码并绑定手机，然后提交账号申诉，客服会在3个工作日内核实并找回装备。",
    ),
    (
        "活动奖励什么时候发放？",
        "周年庆活动奖励将在活动结束后48小时内通过游戏邮件发放，请注意查收。",
    ),
    (
        "游戏一直卡顿掉线",
        "建议切换到稳定的网络，清理游戏缓存后重启；若仍掉线，请提供设备型号和截图。",
    ),
    ("怎么申请退款？", "未消耗的充值可在7天内申请退款，请在客服中心提交订单号，审核后原路退回。"),
    (
        "未成年人充值限额是多少？",
        "根据规定，8至16周岁用户单次充值不超过50元，每月累计不超过200元。",
    ),
]


def example_line(q: str, a: str) -> str:
    return json.dumps(
        {
            "contents": [
                {"role": "user", "parts": [{"text": q}]},
                {"role": "model", "parts": [{"text": a}]},
            ]
        },
        ensure_ascii=False,
    )


def dataset_bytes(pairs: list[tuple[str, str]]) -> bytes:
    return ("\n".join(example_line(q, a) for q, a in pairs) + "\n").encode()


@dataclass
class World:
    root: Path
    deps: LazyDeps
    tuner: SimulatedTuner
    clock: list[float]
    bus: SqliteBus
    delivered: list[tuple[str, str]] = field(default_factory=list)

    @property
    def store(self) -> SqliteRunStore:
        return self.deps.store  # type: ignore[return-value]

    def drop(self, name: str, data: bytes) -> StorageObject:
        info = self.deps.blobs.write_bytes("bucket", name, data)
        return StorageObject(info.bucket, info.name, info.generation, info.size, info.md5)

    def drop_dataset(
        self,
        folder: str = "ds",
        *,
        train: bytes | None = None,
        test: bytes | None = None,
        tuning_yaml: str | None = None,
    ) -> StorageObject:
        if tuning_yaml is not None:
            self.drop(f"incoming/{folder}/tuning.yaml", tuning_yaml.encode())
        if test is not None:
            self.drop(f"incoming/{folder}/test.jsonl", test)
        return self.drop(
            f"incoming/{folder}/train.jsonl",
            train if train is not None else dataset_bytes(ZH_EXAMPLES),
        )

    def advance_clock(self, seconds: float) -> None:
        self.clock[0] += seconds

    def pump(self, rounds: int = 10) -> None:
        """Deliver due messages to the launcher/evaluator until nothing is left."""
        handlers: dict[str, Callable[[str], Any]] = {
            "t-launcher": lambda rid: launch.handle_validated(self.deps, rid),
            "t-evaluator": lambda rid: evaluate.handle_evaluation_request(self.deps, rid),
        }
        for _ in range(rounds):
            moved = False
            for sub, handler in handlers.items():
                for m in self.bus.pull(sub, 50):
                    msg = decode_message(
                        parse_pubsub_data(
                            {
                                "message": {
                                    "data": base64.b64encode(m.data).decode(),
                                    "attributes": m.attributes,
                                }
                            }
                        )
                    )
                    assert msg.run_id
                    self.delivered.append((sub, msg.run_id))
                    handler(msg.run_id)
                    self.bus.ack(m)
                    moved = True
            if not moved:
                return

    def events(self, run_id: str) -> list[str]:
        out = []
        for m in self.bus.pull("t-run-events", 500):
            if m.attributes.get("run_id") == run_id:
                out.append(m.attributes["status"])
            self.bus.ack(m)
        return out

    def run(self, run_id: str) -> Run:
        r = self.store.get(run_id)
        assert r is not None
        return r


def make_world(
    tmp_path: Path,
    *,
    max_jobs: int = 1,
    sim: SimConfig | None = None,
    env: dict[str, str] | None = None,
) -> World:
    root = tmp_path / "root"
    (root / "bucket").mkdir(parents=True)
    (root / "artifacts").mkdir()
    (root / "state").mkdir()
    settings = Settings.from_env(
        {
            "BACKEND": "local",
            "LOCAL_ROOT": str(root),
            "MAX_CONCURRENT_JOBS": str(max_jobs),
            **(env or {}),
        }
    )
    clock = [1_000_000.0]
    tuner = SimulatedTuner(
        LocalLayout(root).simulator_db,
        config=sim or SimConfig(training_seconds=100.0),
        control=LocalLayout(root).simulator_control,
        clock=lambda: clock[0],
        catalog=settings.catalog,  # as composition builds it: the deployment's catalog
    )
    bus = SqliteBus(LocalLayout(root).bus_db)
    for topic, sub in (
        ("dataset-validated", "t-launcher"),
        ("evaluation-requested", "t-evaluator"),
        ("run-events", "t-run-events"),
    ):
        bus.subscribe(topic, sub)
    deps = LazyDeps(
        settings,
        blobs=FolderBlobs(root),
        bus=bus,
        store=SqliteRunStore(LocalLayout(root).runs_db),
        tuner=tuner,
        models=SimulatedModels(tuner),
    )
    return World(root, deps, tuner, clock, bus)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    yield make_world(tmp_path)
