"""`Models` on Vertex AI's generated v1 clients: `generateContent` and `countTokens`.

Where a call goes: a resource name that names its location (a tuned endpoint
`projects/p/locations/us/endpoints/7`, a checkpoint's endpoint) is called there; a short base
model name (`gemini-3.5-flash`) becomes the publisher path in the location the catalog says
serves that base model for this deployment (`Catalog.serving_location`: base 3.x models are not
served on single regions such as us-central1). Each location gets its own client and host.

Dataset turns arrive as the JSON the validator accepted, in camelCase (`fileData`,
`functionCall`, the docs' spelling) or snake_case: they go through protobuf's JSON parser, which
reads both spellings and refuses an unknown field with its name, instead of proto-plus's
constructor, which knows only snake_case (`Unknown field for Part: fileData`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from shared.catalog import BUILTIN, Catalog, resource_location
from shared.errors import PermanentError
from shared.gcp.vertex_clients import DEFAULT_RETRY, ClientsByLocation, RetryPolicy
from shared.ports import Generation, GenerationSettings

T = TypeVar("T")


def model_path(model: str, project: str, location: str) -> str:
    """Full resource name for a short publisher model name; full names pass through."""
    model = model.strip()
    if model.startswith(("projects/", "publishers/", "endpoints/")):
        return model
    return f"projects/{project}/locations/{location}/publishers/google/models/{model}"


#: Media parts whose `displayName` the REST API lists but the pinned client's protos lack
#: (aiplatform_v1 2.7.0 `FileData` has only mime_type and file_uri): a label, not content, so
#: it is left out of the request rather than failing the example.
_MEDIA_KEYS = ("fileData", "file_data", "inlineData", "inline_data")
_LABEL_KEYS = ("displayName", "display_name")


def _without_labels(content: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of `content` without media display names (the input is never modified)."""
    out = dict(content)
    parts = out.get("parts")
    if isinstance(parts, list):
        out["parts"] = [
            {
                k: (
                    {f: x for f, x in v.items() if f not in _LABEL_KEYS}
                    if k in _MEDIA_KEYS and isinstance(v, Mapping)
                    else v
                )
                for k, v in p.items()
            }
            if isinstance(p, Mapping)
            else p
            for p in parts
        ]
    return out


def to_content(raw: Mapping[str, Any], what: str = "a content") -> Any:
    """A v1 `Content` from dataset JSON (camelCase or snake_case field names); an unknown
    field or a wrong type is a PermanentError naming it (the same turn would fail again)."""
    from google.cloud.aiplatform_v1 import types
    from google.protobuf import json_format

    pb = types.Content.pb(types.Content())
    try:
        json_format.ParseDict(_without_labels(raw), pb, ignore_unknown_fields=False)
    except (json_format.ParseError, TypeError, ValueError) as e:
        raise PermanentError(
            f"{what} is not a Gemini Content the API accepts ({e}). Fix that example "
            "(`gemini-tuning validate` checks the same fields)."
        ) from None
    return types.Content.wrap(pb)


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
        catalog: Catalog | None = None,
        retry: RetryPolicy = DEFAULT_RETRY,
    ) -> None:
        self.project = project
        self.location = location  #: the deployment's region (VERTEX_LOCATION)
        self.catalog = catalog or BUILTIN
        self._clients = ClientsByLocation("prediction", api_endpoint=api_endpoint, fixed=client)
        self._token_clients = ClientsByLocation(
            "tokens", api_endpoint=api_endpoint, fixed=token_client
        )
        self._policy = retry
        self._timeout = retry.call_timeout_s

    def location_for(self, model: str) -> str:
        """Where a call to `model` goes: the location its resource name names, else where the
        catalog serves that base model for this deployment."""
        named = resource_location(model)
        if named is not None:
            return named
        return self.catalog.serving_location(model, "base", self.location)

    def connect(self, model: str) -> None:
        """Build the clients a call to `model` uses now (the ~0.8 s client import is cold-start
        work: an instance can pay it before its first request, and the benchmark measures it)."""
        location = self.location_for(model)
        self._clients(location)
        self._token_clients(location)

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

        location = self.location_for(model)
        name = model_path(model, self.project, location)
        request = types.GenerateContentRequest(
            model=name, contents=[to_content(c, f"turn {i + 1}") for i, c in enumerate(contents)]
        )
        if system_instruction is not None:
            request.system_instruction = to_content(system_instruction, "the system instruction")
        if settings is not None:
            request.generation_config = generation_config(settings)
        response = self._call(
            lambda: self._clients(location).generate_content(
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

        location = self.location_for(model)
        name = model_path(model, self.project, location)
        request = types.CountTokensRequest(
            endpoint=name, contents=[to_content(c, f"turn {i + 1}") for i, c in enumerate(contents)]
        )
        if "/publishers/" in f"/{name}":
            request.model = name  # only publisher models name themselves in the body
        response = self._call(
            lambda: self._token_clients(location).count_tokens(
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
