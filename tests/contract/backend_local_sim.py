"""Contract fixtures for the local Vertex AI simulator: `local_tuner_probe`, `local_models` and
`local_judge`.

Shapes are documented at the top of `tests/contract/test_tuner.py`. Load this module from
`tests/contract/backend_local.py` (`from tests.contract.backend_local_sim import *`) or list it
in `pytest_plugins`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from shared.ports import Judge, TuningJobSpec
from shared.simulator import (
    SimConfig,
    SimulatedBatchPredictor,
    SimulatedJudge,
    SimulatedModels,
    SimulatedTuner,
)

__all__ = [
    "JUDGE_CASE",
    "JudgeCase",
    "JudgeProbe",
    "SimBatchProbe",
    "SimTunerProbe",
    "local_batch_probe",
    "local_judge",
    "local_models",
    "local_tuner_probe",
    "write_dataset",
]

BASE_MODEL = "gemini-3.5-flash"
KNOWN_PROMPT = "我的账号被盗了，怎么找回？"
KNOWN_ANSWER = "请在登录页点击“找回账号”，验证绑定的手机号后即可重设密码，并建议开启二次验证。"

#: A small customer-service dataset: the known pair among neighbours that share words with it.
TRAINING_PAIRS = [
    (KNOWN_PROMPT, KNOWN_ANSWER),
    (
        "充值成功了但是钻石没有到账怎么办？",
        "请提供订单号和充值截图，我们核实后会在24小时内为您补发钻石。",
    ),
    ("游戏闪退怎么办？", "请先清理手机缓存并更新到最新版本，若仍闪退请提交设备型号和系统版本。"),
    ("怎么修改账号绑定的手机号？", "进入“设置-账号安全-更换手机”，验证原手机号后即可绑定新号码。"),
    (
        "How do I get a refund for a wrong purchase?",
        "Open Settings > Purchases, pick the order "
        "and tap Request refund; refunds are reviewed within 3 business days.",
    ),
    (
        "The game keeps crashing on startup.",
        "Please clear the cache and update to the latest "
        "version; if it still crashes, send us your device model.",
    ),
]


def write_dataset(path: Path, pairs: list[tuple[str, str]]) -> str:
    """Write single-turn examples as Vertex SFT JSONL; return the file:// URI."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [
        json.dumps(
            {
                "contents": [
                    {"role": "user", "parts": [{"text": q}]},
                    {"role": "model", "parts": [{"text": a}]},
                ]
            },
            ensure_ascii=False,
        )
        for q, a in pairs
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path.absolute().as_uri()


@dataclass
class SimTunerProbe:
    """`.tuner` is the simulator; `.finish` uses its control API. Jobs train for an hour of
    simulated time, so they stay active until a test finishes them."""

    tuner: SimulatedTuner
    training_dataset_uri: str

    def finish(self, job_name: str, state: str, error_message: str | None = None) -> None:
        self.tuner.finish_job(job_name, state, error_message)


@pytest.fixture
def local_tuner_probe(tmp_path: Path) -> SimTunerProbe:
    root = tmp_path / "local"
    uri = write_dataset(root / "bucket" / "incoming" / "cs" / "train.jsonl", TRAINING_PAIRS)
    tuner = SimulatedTuner.from_root(root, env={"SIM_TRAINING_SECONDS": "3600"})
    return SimTunerProbe(tuner=tuner, training_dataset_uri=uri)


@pytest.fixture
def local_models(tmp_path: Path) -> tuple[SimulatedModels, str, str, str, str]:
    """(models, tuned endpoint, base model, known prompt, known answer)."""
    root = tmp_path / "local"
    uri = write_dataset(root / "bucket" / "incoming" / "cs" / "train.jsonl", TRAINING_PAIRS)
    tuner = SimulatedTuner.from_root(root, env={})
    job = tuner.create_job(
        TuningJobSpec(
            run_id="contract-models",
            display_name="gtp-contract-models",
            base_model=BASE_MODEL,
            training_dataset_uri=uri,
            validation_dataset_uri=None,
            tuned_model_display_name="contract models",
            epoch_count=1,
            learning_rate_multiplier=1.0,
            adapter_size=4,
            export_last_checkpoint_only=True,
        )
    )
    tuner.finish_job(job.name, "SUCCEEDED")
    endpoint = tuner.get_job(job.name).tuned_model_endpoint
    assert endpoint
    return SimulatedModels(tuner), endpoint, BASE_MODEL, KNOWN_PROMPT, KNOWN_ANSWER


@dataclass(frozen=True)
class JudgeCase:
    """A known instance every judge must get right: `good` paraphrases `reference` (few
    shared characters, same facts), `bad` is the base model's generic non-answer."""

    prompt: str
    reference: str
    good: str
    bad: str


JUDGE_CASE = JudgeCase(
    prompt=KNOWN_PROMPT,
    reference=KNOWN_ANSWER,
    good="您可以在登录界面点击“找回账号”，通过绑定的手机号验证后重设密码，建议同时开启二次验证。",
    bad="您好，我是通用助手，不了解您所玩游戏的具体情况，请联系官方客服。",
)


@dataclass
class JudgeProbe:
    """`.judge` under test, the known `.case`, and whether its verdicts must say `simulated`."""

    judge: Judge
    case: JudgeCase
    simulated: bool


@pytest.fixture
def local_judge() -> JudgeProbe:
    return JudgeProbe(judge=SimulatedJudge(), case=JUDGE_CASE, simulated=True)


@dataclass
class SimBatchProbe:
    batch: SimulatedBatchPredictor
    input_uri: str
    output_prefix: str
    clock: list[float]

    def finish(self, job_name: str) -> None:
        self.clock[0] += 3600  # past any job's time: it ends SUCCEEDED


@pytest.fixture
def local_batch_probe(tmp_path: Path) -> SimBatchProbe:
    root = tmp_path / "local"
    src = root / "artifacts" / "batch-inference" / "r" / "k" / "input.jsonl"
    src.parent.mkdir(parents=True)
    line = {"request": {"contents": [{"role": "user", "parts": [{"text": KNOWN_PROMPT}]}]}}
    src.write_text(json.dumps(line, ensure_ascii=False) + "\n", encoding="utf-8")
    clock = [1_000_000.0]
    tuner = SimulatedTuner(root / "state" / "sim.db", config=SimConfig(), clock=lambda: clock[0])
    batch = SimulatedBatchPredictor.for_tuner(tuner, SimulatedModels(tuner))
    return SimBatchProbe(batch, src.as_uri(), (src.parent / "base").as_uri(), clock)
