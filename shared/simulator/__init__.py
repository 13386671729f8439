"""The Vertex AI simulator of the embedded local backend (built by `shared.composition`).

It plays the tuning service and the models on one machine and labels everything it produces as
simulated. The pieces live in `sim_*` modules: `sim_config` (knobs, fault injection),
`sim_jobs` (stored jobs, state over time), `sim_tuner`, `sim_models`, `sim_judge` (a chrF-based
stand-in for the autorater), `sim_similarity` and `sim_text` (retrieval and replies).

Quick reference for people running the demo (`<root>/state/simulator.json` or env):
`training_seconds` / SIM_TRAINING_SECONDS, `fail_jobs` / SIM_FAIL_JOBS ("all" or a display-name
glob), `transient_errors` / SIM_TRANSIENT_ERRORS, `quota` / SIM_QUOTA, `permanent_error` /
SIM_PERMANENT_ERROR, `models_transient_errors` / SIM_MODELS_TRANSIENT_ERRORS, `batch_seconds` /
SIM_BATCH_SECONDS (batch inference jobs).
"""

from __future__ import annotations

from shared.simulator.batch import SimulatedBatchPredictor
from shared.simulator.config import ENV_VARS, SimConfig
from shared.simulator.judge import SimulatedJudge
from shared.simulator.models import SimulatedModels
from shared.simulator.tuner import SimulatedTuner

__all__ = [
    "ENV_VARS",
    "SimConfig",
    "SimulatedBatchPredictor",
    "SimulatedJudge",
    "SimulatedModels",
    "SimulatedTuner",
]
