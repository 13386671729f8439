"""Shared builders for the simulator's unit tests: a clock tests move by hand, a spec."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shared.local.paths import LocalLayout
from shared.ports import TuningJobSpec
from shared.simulator import SimulatedTuner
from shared.simulator.config import SimConfig
from tests.contract.backend_local_sim import TRAINING_PAIRS, write_dataset


@dataclass
class ManualClock:
    now: float = 1_750_000_000.0

    def __call__(self) -> float:
        return self.now


def dataset(root: Path, pairs: list[tuple[str, str]] | None = None) -> str:
    return write_dataset(
        root / "bucket" / "incoming" / "ds" / "train.jsonl", pairs or TRAINING_PAIRS
    )


def make_spec(uri: str, run_id: str = "run-1", **overrides: Any) -> TuningJobSpec:
    values: dict[str, Any] = {
        "run_id": run_id,
        "display_name": f"gtp-{run_id}",
        "base_model": "gemini-3.5-flash",
        "training_dataset_uri": uri,
        "validation_dataset_uri": None,
        "tuned_model_display_name": f"tuned {run_id}",
        "epoch_count": 3,
        "learning_rate_multiplier": 1.0,
        "adapter_size": 4,
        "export_last_checkpoint_only": True,
    }
    values.update(overrides)
    return TuningJobSpec(**values)


def make_tuner(root: Path, clock: ManualClock | None = None, **config: Any) -> SimulatedTuner:
    return SimulatedTuner(
        LocalLayout(root).simulator_db,
        config=SimConfig(**config),
        clock=clock or ManualClock(),
    )
