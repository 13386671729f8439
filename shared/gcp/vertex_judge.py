"""`Judge` on Vertex AI's generated v1 `EvaluationServiceClient.evaluate_instances`.

Why these choices:
- The instance goes as `json_instance` (a JSON string of prompt / response / reference): the
  service renders the rubric template's `{placeholders}` from its keys, so one shape serves any
  custom template and Chinese text travels as UTF-8, not escapes.
- Pairwise names its columns (`response` vs `baseline_model_response`, the Vertex SDK's own
  defaults) so the service can flip candidate and baseline between samples to cancel position
  bias without confusing which is which.
- `PairwiseChoice` is mapped by enum *name*: the wire numbers (BASELINE=1, CANDIDATE=2, TIE=3)
  are not in any order a reader would guess.
- The v1 `PairwiseMetricResult` carries no confidence, so `confidence` stays None rather than
  inventing one; a result without a verdict (e.g. a custom output format) is a permanent error.
"""

from __future__ import annotations

import json
from typing import Any, TypeVar

from shared.errors import PermanentError
from shared.gcp.vertex_clients import DEFAULT_RETRY, RetryPolicy, make_client
from shared.ports import (
    PairwiseJudgement,
    PointwiseJudgement,
    require_metric_prompt_template,
)

T = TypeVar("T")

#: Column names the instance JSON uses; templates refer to them as `{prompt}`, `{response}`...
PROMPT_KEY = "prompt"
RESPONSE_KEY = "response"
BASELINE_KEY = "baseline_model_response"
REFERENCE_KEY = "reference"
#: `PairwiseChoice` member names the port reports (UNSPECIFIED is not a verdict).
PAIRWISE_CHOICES = frozenset({"CANDIDATE", "BASELINE", "TIE"})


def instance_json(values: dict[str, str | None]) -> str:
    """The `json_instance` string: keys with a None value are left out, so a template that
    does not use `{reference}` is not handed an empty one."""
    return json.dumps({k: v for k, v in values.items() if v is not None}, ensure_ascii=False)


def choice_name(choice: Any) -> str:
    """`PairwiseChoice.CANDIDATE` (or its name) -> "CANDIDATE"; anything else is refused."""
    name = getattr(choice, "name", None) or str(choice)
    name = name.rsplit(".", 1)[-1]
    if name not in PAIRWISE_CHOICES:
        raise PermanentError(
            f"the evaluation service returned no pairwise verdict ({name}); check that the "
            "metric prompt template asks for a choice and sets no custom output format."
        )
    return name


class VertexJudge:
    """Model-based judging on Vertex AI (implements `shared.ports.Judge`)."""

    def __init__(
        self,
        project: str,
        location: str,
        client: Any = None,
        *,
        api_endpoint: str | None = None,
        retry: RetryPolicy = DEFAULT_RETRY,
    ) -> None:
        self.project = project
        self.location = location
        self._client = client or make_client("evaluation", location, api_endpoint=api_endpoint)
        self._policy = retry
        self._timeout = retry.call_timeout_s

    @property
    def location_path(self) -> str:
        """The request's `location`: `projects/<p>/locations/<l>`."""
        return f"projects/{self.project}/locations/{self.location}"

    def _evaluate(self, request: Any, what: str) -> Any:
        return self._policy.call(
            lambda: self._client.evaluate_instances(
                request=request, retry=None, timeout=self._timeout
            ),
            what=what,
        )

    def pointwise(
        self, *, prompt: str, response: str, reference: str | None, metric_prompt_template: str
    ) -> PointwiseJudgement:
        from google.cloud.aiplatform_v1 import types

        require_metric_prompt_template(metric_prompt_template)
        request = types.EvaluateInstancesRequest(
            location=self.location_path,
            pointwise_metric_input=types.PointwiseMetricInput(
                metric_spec=types.PointwiseMetricSpec(
                    metric_prompt_template=metric_prompt_template
                ),
                instance=types.PointwiseMetricInstance(
                    json_instance=instance_json(
                        {PROMPT_KEY: prompt, RESPONSE_KEY: response, REFERENCE_KEY: reference}
                    )
                ),
            ),
        )
        out = self._evaluate(request, f"evaluateInstances (pointwise) in {self.location_path}")
        result = out.pointwise_metric_result
        if "score" not in result:
            raise PermanentError(
                "the evaluation service returned no pointwise score; check that the metric "
                "prompt template asks for a score and sets no custom output format."
            )
        return PointwiseJudgement(score=float(result.score), explanation=result.explanation)

    def pairwise(
        self,
        *,
        prompt: str,
        response: str,
        baseline_response: str,
        reference: str | None,
        metric_prompt_template: str,
    ) -> PairwiseJudgement:
        from google.cloud.aiplatform_v1 import types

        require_metric_prompt_template(metric_prompt_template)
        request = types.EvaluateInstancesRequest(
            location=self.location_path,
            pairwise_metric_input=types.PairwiseMetricInput(
                metric_spec=types.PairwiseMetricSpec(
                    metric_prompt_template=metric_prompt_template,
                    candidate_response_field_name=RESPONSE_KEY,
                    baseline_response_field_name=BASELINE_KEY,
                ),
                instance=types.PairwiseMetricInstance(
                    json_instance=instance_json(
                        {
                            PROMPT_KEY: prompt,
                            RESPONSE_KEY: response,
                            BASELINE_KEY: baseline_response,
                            REFERENCE_KEY: reference,
                        }
                    )
                ),
            ),
        )
        out = self._evaluate(request, f"evaluateInstances (pairwise) in {self.location_path}")
        result = out.pairwise_metric_result
        return PairwiseJudgement(
            choice=choice_name(result.pairwise_choice), explanation=result.explanation
        )
