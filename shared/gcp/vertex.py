"""Vertex AI adapters: `VertexTuner` (tuning jobs), `VertexModels` (inference) and
`VertexJudge` (model-based evaluation).

Importing this module is cheap; the ~0.8 s `google.cloud.aiplatform_v1` import happens when an
adapter is constructed, so only the functions that use Vertex AI pay it.
"""

from __future__ import annotations

from shared.gcp.vertex_judge import VertexJudge
from shared.gcp.vertex_models import VertexModels, model_path
from shared.gcp.vertex_tuning import (
    ADAPTER_SIZE_NAMES,
    VertexTuner,
    adapter_size_enum,
    console_url,
    normalise_state,
)

__all__ = [
    "ADAPTER_SIZE_NAMES",
    "VertexJudge",
    "VertexModels",
    "VertexTuner",
    "adapter_size_enum",
    "console_url",
    "model_path",
    "normalise_state",
]
