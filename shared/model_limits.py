"""The one table of per-model tuning limits and prices.

Limits change over time, so they live here and nowhere else (no literals scattered through the
validator or the launcher). Sources: Vertex AI "About supervised fine-tuning for Gemini models"
and "Prepare supervised fine-tuning data for Gemini models" (see ../shared/guide/SFT_FACTS.md).
Prices are list prices per million *training* tokens (Vertex AI generative AI pricing page,
"Gemini tuning", as remembered in 2025 — not re-checked from this offline machine; check
cloud.google.com/vertex-ai/generative-ai/pricing before quoting). They are only ever shown as an
estimate, and a model whose price we are unsure of has None (the report then shows null).
"""

from __future__ import annotations

from dataclasses import dataclass

MB = 1024 * 1024
GB = 1024 * MB


@dataclass(frozen=True)
class ModelLimits:
    """What Vertex AI accepts for supervised tuning of one base model."""

    name: str
    max_tokens_per_example: int
    max_validation_examples: int
    max_training_file_bytes: int
    adapter_sizes: tuple[int, ...]
    max_training_examples: int = 10_000_000
    max_multimodal_training_examples: int = 300_000
    max_images_per_example: int = 30
    max_image_bytes: int = 20 * MB
    max_audio_per_example: int = 1
    max_pdfs_per_example: int = 4
    max_videos_per_example: int = 1
    # USD per 1M training tokens; None where no public price is known to us.
    training_price_per_million_tokens: float | None = None


_FLASH_ADAPTERS = (1, 2, 4, 8, 16)
_OTHER_ADAPTERS = (1, 2, 4, 8)

MODEL_LIMITS: dict[str, ModelLimits] = {
    m.name: m
    for m in (
        ModelLimits(
            "gemini-2.5-flash",
            131_072,
            5_000,
            1 * GB,
            _FLASH_ADAPTERS,
            training_price_per_million_tokens=5.0,
        ),
        ModelLimits(
            "gemini-2.5-flash-lite",
            131_072,
            5_000,
            1 * GB,
            _FLASH_ADAPTERS,
            training_price_per_million_tokens=None,  # not known to us
        ),
        ModelLimits(
            "gemini-2.5-pro",
            131_072,
            5_000,
            1 * GB,
            _OTHER_ADAPTERS,
            training_price_per_million_tokens=25.0,
        ),
        ModelLimits(
            "gemini-2.0-flash",
            131_072,
            5_000,
            1 * GB,
            _OTHER_ADAPTERS,
            training_price_per_million_tokens=3.0,
        ),
        ModelLimits(
            "gemini-2.0-flash-lite",
            131_072,
            5_000,
            1 * GB,
            _OTHER_ADAPTERS,
            training_price_per_million_tokens=1.0,
        ),
    )
}

DEFAULT_MODEL = "gemini-2.5-flash"


def normalize_model_name(name: str) -> str:
    """Accept the forms people paste: `gemini-2.5-flash`, `gemini-2.5-flash-001`,
    `publishers/google/models/gemini-2.5-flash`, `projects/.../models/gemini-2.5-flash`."""
    short = name.strip().rsplit("/", 1)[-1]
    if short in MODEL_LIMITS:
        return short
    # Strip a version suffix such as -001 or -preview-05-20.
    for known in sorted(MODEL_LIMITS, key=len, reverse=True):
        if short.startswith(known + "-"):
            return known
    return short


def limits_for(name: str) -> ModelLimits | None:
    """Limits for a model name in any accepted form, or None when the model is unknown."""
    return MODEL_LIMITS.get(normalize_model_name(name))
