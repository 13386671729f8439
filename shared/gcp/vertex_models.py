"""`Models` on Vertex AI's generated v1 clients: `generateContent` and `countTokens`.

Short model names (`gemini-3.5-flash`) become the publisher path in this project and region,
so the evaluator can pass either a base model name or the tuned endpoint the poller recorded.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from shared.errors import PermanentError, PipelineError
from shared.gcp.retry import DEFAULT_DEADLINE_S, DEFAULT_INITIAL_S, DEFAULT_MAX_S
from shared.gcp.vertex_clients import DEFAULT_CALL_TIMEOUT_S, RetryPolicy, make_client
from shared.ports import Generation, GenerationSettings

T = TypeVar("T")


def model_path(model: str, project: str, location: str) -> str:
    """Full resource name for a short publisher model name; full names pass through."""
    model = model.strip()
    if model.startswith(("projects/", "publishers/", "endpoints/")):
        return model
    return f"projects/{project}/locations/{location}/publishers/google/models/{model}"


def _response_text(response: Any, model: str) -> str:
    """Text of the first candidate. A blocked prompt or an empty candidate is permanent: the
    same request would be refused again."""
    if not response.candidates:
        reason = getattr(response.prompt_feedback.block_reason, "name", "no candidates")
        raise PermanentError(f"{model} returned no answer ({reason}).")
    parts = response.candidates[0].content.parts
    return "".join(p.text for p in parts if p.text)


class VertexModels:
    """Inference on base models and tuned endpoints (implements `shared.ports.Models`)."""

    def __init__(
        self,
        project: str,
        location: str,
        client: Any = None,
        *,
        token_client: Any = None,
        api_endpoint: str | None = None,
        deadline_s: float = DEFAULT_DEADLINE_S,
        initial_backoff_s: float = DEFAULT_INITIAL_S,
        max_backoff_s: float = DEFAULT_MAX_S,
        call_timeout_s: float = DEFAULT_CALL_TIMEOUT_S,
        on_retry: Callable[[int, PipelineError, float], None] | None = None,
    ) -> None:
        self.project = project
        self.location = location
        self._client = client or make_client("prediction", location, api_endpoint=api_endpoint)
        self._token_client = token_client or make_client(
            "tokens", location, api_endpoint=api_endpoint
        )
        self._policy = RetryPolicy(
            deadline_s, initial_backoff_s, max_backoff_s, call_timeout_s, on_retry
        )
        self._timeout = call_timeout_s

    def _call(self, fn: Callable[[], T], *, what: str, quota: bool = False) -> T:
        return self._policy.call(fn, what=what, quota=quota)

    def generate(
        self,
        model: str,
        contents: Sequence[Mapping[str, Any]],
        *,
        system_instruction: Mapping[str, Any] | None = None,
        settings: GenerationSettings | None = None,
    ) -> Generation:
        from google.cloud.aiplatform_v1 import types

        name = model_path(model, self.project, self.location)
        request = types.GenerateContentRequest(model=name, contents=[dict(c) for c in contents])
        if system_instruction is not None:
            request.system_instruction = types.Content(mapping=dict(system_instruction))
        if settings is not None:
            request.generation_config = generation_config(settings)
        response = self._call(
            lambda: self._client.generate_content(
                request=request, retry=None, timeout=self._timeout
            ),
            what=f"generateContent on {name}",
        )
        usage = getattr(response, "usage_metadata", None)  # GenerateContentResponse.UsageMetadata
        billed_out = None
        if usage is not None:  # thinking tokens are billed as output tokens
            billed_out = int(usage.candidates_token_count) + int(usage.thoughts_token_count)
        return Generation(
            text=_response_text(response, name),
            input_tokens=int(usage.prompt_token_count) if usage is not None else None,
            output_tokens=billed_out,
        )

    def count_tokens(self, model: str, contents: Sequence[Mapping[str, Any]]) -> int:
        from google.cloud.aiplatform_v1 import types

        name = model_path(model, self.project, self.location)
        request = types.CountTokensRequest(endpoint=name, contents=[dict(c) for c in contents])
        if "/publishers/" in f"/{name}":
            request.model = name  # only publisher models name themselves in the body
        response = self._call(
            lambda: self._token_client.count_tokens(
                request=request, retry=None, timeout=self._timeout
            ),
            what=f"countTokens on {name}",
        )
        return int(response.total_tokens)


def generation_config(settings: GenerationSettings) -> Any:
    """The v1 `GenerationConfig` for `settings`; only what is set is sent."""
    from google.cloud.aiplatform_v1 import types

    config = types.GenerationConfig()
    if settings.temperature is not None:
        config.temperature = settings.temperature
    if settings.max_output_tokens is not None:
        config.max_output_tokens = settings.max_output_tokens
    if settings.thinking_budget is not None and settings.thinking_level is not None:
        raise ValueError("thinking_budget and thinking_level together are a 400 on Vertex AI")
    thinking = types.GenerationConfig.ThinkingConfig()
    if settings.thinking_budget is not None:
        thinking.thinking_budget = settings.thinking_budget
        config.thinking_config = thinking
    elif settings.thinking_level is not None:
        level = types.GenerationConfig.ThinkingConfig.ThinkingLevel
        thinking.thinking_level = level.__members__[settings.thinking_level]  # by name
        config.thinking_config = thinking
    return config
