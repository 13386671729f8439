"""Evaluation: compare a tuned model with its base model on held-out examples and gate the run.

    from shared.evaluation import evaluate, EvaluationResult
    result = evaluate(models, examples, tuned_model=..., base_model=..., config=..., seed=run_id)

Modules: `examples` (prompt/reference extraction, seeded sample), `predict` (bounded fan-out with
retries), `text` + `metrics` (CJK-aware scoring), `gates` (pass/fail with reasons), `judging`
(the optional pairwise autorater over the `Judge` port), `runner` (the orchestration), `result`
(the result and its artifacts).
"""

from shared.evaluation.judging import DEFAULT_PAIRWISE_TEMPLATE
from shared.evaluation.metrics import METRIC_NAMES, score
from shared.evaluation.result import EvaluationResult
from shared.evaluation.runner import evaluate

__all__ = [
    "DEFAULT_PAIRWISE_TEMPLATE",
    "METRIC_NAMES",
    "EvaluationResult",
    "evaluate",
    "score",
]
