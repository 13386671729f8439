"""The evaluation's own cost: estimated before the first paid call, replaced by the billed
tokens the responses report once it has run.

Why: an evaluation is not free. A sample of 500 asked of the tuned model, the base model and the
production model, plus checkpoint screening and a judge asked in both orders, is thousands of
calls; a budget that counts only the tuning job is a budget that lies. The estimate is
examples x models x tokens (the validator's token estimate of the eval set) plus judge calls,
priced from the catalog's online-prediction prices, or its batch prices when the models are
asked in batch inference jobs (`evaluation.mode`); where the catalog has no price the figure
is tokens only and says so (`MODEL_CATALOG_OVERRIDES` can add `price_per_million_input_tokens`
and `price_per_million_output_tokens`). Judge calls are counted, never priced: the Gen AI
evaluation service bills separately and its price is not in the catalog.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

#: Output share of an example's tokens when the validator measured none (question and answer
#: of about the same length).
DEFAULT_OUTPUT_SHARE = 0.5


@dataclass(frozen=True)
class EvalCost:
    """Prediction calls and tokens, judge calls, and USD where the prices are known."""

    basis: str  #: "estimate" (before) or "actual" (billed tokens from the responses)
    prediction_calls: int
    input_tokens: int
    output_tokens: int
    judge_calls: int
    usd: float | None  #: predictions only; None: a price is unknown
    input_price: float | None  #: USD per 1M input tokens
    output_price: float | None
    note: str = ""
    pricing: str = "online"  #: "online" or "batch" (Vertex AI batch inference, discounted)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _usd(
    input_tokens: int, output_tokens: int, input_price: float | None, output_price: float | None
) -> float | None:
    if input_price is None or output_price is None:
        return None
    return round(input_tokens / 1e6 * input_price + output_tokens / 1e6 * output_price, 4)


def _price_note(usd: float | None, pricing: str = "online") -> str:
    if usd is not None:
        return f"predictions at the catalog's {pricing} prices; judge calls are not priced"
    return (
        f"no {pricing}-prediction price for this model in the catalog: tokens only (add "
        "price_per_million_input_tokens / price_per_million_output_tokens to "
        "MODEL_CATALOG_OVERRIDES to get USD)"
    )


def estimate(
    *,
    examples: int,
    answers_per_example: int,
    tokens_per_example: float,
    output_share: float = DEFAULT_OUTPUT_SHARE,
    screening_calls: int = 0,
    judge_calls_per_example: int = 0,
    input_price: float | None = None,
    output_price: float | None = None,
    pricing: str = "online",
) -> EvalCost:
    """Before any call: `examples` sampled, each answered by `answers_per_example` models
    (tuned once, plus each baseline), `screening_calls` more for checkpoint screening."""
    calls = examples * answers_per_example + screening_calls
    out_per_call = tokens_per_example * output_share
    in_per_call = tokens_per_example - out_per_call
    inp, out = round(calls * in_per_call), round(calls * out_per_call)
    usd = _usd(inp, out, input_price, output_price)
    return EvalCost(
        "estimate", calls, inp, out, examples * judge_calls_per_example, usd,
        input_price, output_price,
        f"estimate: examples x models x the validator's tokens per example; "
        f"{_price_note(usd, pricing)}", pricing,
    )  # fmt: skip


def actual(
    tokens: Mapping[str, Mapping[str, int]],
    *,
    judge_calls: int,
    input_price: float | None = None,
    output_price: float | None = None,
    estimated: EvalCost | None = None,
    pricing: str = "online",
) -> EvalCost:
    """After: the billed tokens per role the report counted (`calls`, `input`, `output`,
    `uncounted`). Calls whose response gave no counts are priced at the estimate's rate."""
    calls = sum(int(t.get("calls", 0)) for t in tokens.values())
    inp = sum(int(t.get("input", 0)) for t in tokens.values())
    out = sum(int(t.get("output", 0)) for t in tokens.values())
    uncounted = sum(int(t.get("uncounted", 0)) for t in tokens.values())
    note = "actual: billed tokens from the responses' usage metadata"
    if uncounted and estimated is not None and estimated.prediction_calls:
        inp += round(uncounted * estimated.input_tokens / estimated.prediction_calls)
        out += round(uncounted * estimated.output_tokens / estimated.prediction_calls)
        note += f"; {uncounted} call(s) reported no usage and are counted at the estimate's rate"
    usd = _usd(inp, out, input_price, output_price)
    return EvalCost(
        "actual", calls, inp, out, judge_calls, usd, input_price, output_price,
        f"{note}; {_price_note(usd, pricing)}", pricing,
    )  # fmt: skip


def eval_set_tokens(validation_summary: Mapping[str, Any], role: str) -> float | None:
    """Estimated tokens per example of the eval file (`test` or `validation`) from the
    validator's summary, else of the training file (the run record's digest), None when the
    validator measured neither."""
    files = validation_summary.get("files")
    st = files.get(role) if isinstance(files, Mapping) else None
    if not isinstance(st, Mapping):
        st = validation_summary
    n, total = st.get("examples"), st.get("estimated_tokens")
    if not isinstance(n, int) or not isinstance(total, int | float) or n <= 0:
        return None
    return float(total) / n


def output_share(validation_summary: Mapping[str, Any]) -> float:
    """The share of a training example's tokens in its answers (the validator's means)."""
    est = validation_summary.get("estimated_tokens")
    if not isinstance(est, Mapping):
        return DEFAULT_OUTPUT_SHARE
    inp, out = est.get("input"), est.get("output")
    i = inp.get("mean") if isinstance(inp, Mapping) else None
    o = out.get("mean") if isinstance(out, Mapping) else None
    if not isinstance(i, int | float) or not isinstance(o, int | float) or i + o <= 0:
        return DEFAULT_OUTPUT_SHARE
    return float(o) / float(i + o)
