"""Ask Vertex AI which catalog models exist for a project and region (`models --check`).

`ModelGardenService.GetPublisherModel` on `publishers/google/models/<id>` answers 404 for a
model that does not exist (or is gone) and carries `launch_stage` / `version_state`; it says
nothing about tunability or retirement dates, which stay the catalog's (SFT_FACTS.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shared.errors import NotFound, PipelineError
from shared.gcp.vertex_clients import RetryPolicy, make_client
from shared.ports import PublisherModel


@dataclass(frozen=True)
class PublisherModelCheck:
    name: str
    exists: bool | None  #: None: the question could not be answered (see `detail`)
    detail: str = ""


def check_publisher_models(
    names: list[str],
    *,
    project: str,
    location: str,
    client: Any = None,
    api_endpoint: str | None = None,
) -> list[PublisherModelCheck]:
    from google.cloud.aiplatform_v1 import types

    client = client or make_client("model_garden", location, api_endpoint=api_endpoint)
    policy = RetryPolicy(deadline_s=20.0)
    out = []
    for name in names:
        request = types.GetPublisherModelRequest(name=f"publishers/google/models/{name}")

        def get(r: Any = request) -> Any:
            return client.get_publisher_model(request=r, retry=None, timeout=20)

        try:
            model = policy.call(get, what=f"publisher model {name} ({project}, {location})")
        except NotFound:
            out.append(PublisherModelCheck(name, False, "not found for this project and region"))
            continue
        except PipelineError as e:
            out.append(PublisherModelCheck(name, None, e.message))
            continue
        stage = getattr(getattr(model, "launch_stage", None), "name", "")
        out.append(PublisherModelCheck(name, True, stage.lower().replace("_", " ")))
    return out


class VertexModelDirectory:
    """The `ModelDirectory` port on Vertex AI: `GetPublisherModel` (v1 `ModelGardenService`) at
    the tuning location, and `ListPublisherModels` (only in the v1beta1 client) for Gemini
    models the catalog does not list."""

    def __init__(
        self, project: str, location: str, *, api_endpoint: str | None = None, client: Any = None
    ) -> None:
        self.project, self.location = project, location
        self._endpoint = api_endpoint
        self._client = client
        self._policy = RetryPolicy(deadline_s=20.0)
        self.list_error: str | None = None  #: why the last `list_gemini` returned None

    def _v1(self) -> Any:
        if self._client is None:
            self._client = make_client("model_garden", self.location, api_endpoint=self._endpoint)
        return self._client

    def get(self, name: str) -> PublisherModel | None:
        from google.cloud.aiplatform_v1 import types

        request = types.GetPublisherModelRequest(name=f"publishers/google/models/{name}")
        try:
            model = self._policy.call(
                lambda: self._v1().get_publisher_model(request=request, retry=None, timeout=20),
                what=f"publisher model {name} ({self.project}, {self.location})",
            )
        except NotFound:
            return None
        stage = getattr(getattr(model, "launch_stage", None), "name", "") or ""
        return PublisherModel(name, "" if stage == "LAUNCH_STAGE_UNSPECIFIED" else stage)

    def list_gemini(self) -> list[PublisherModel] | None:
        from google.api_core.client_options import ClientOptions
        from google.cloud import aiplatform_v1beta1

        from shared.gcp.vertex_clients import service_host

        cls = getattr(aiplatform_v1beta1, "ModelGardenServiceClient", None)
        if cls is None or not hasattr(cls, "list_publisher_models"):
            return None  # this client cannot list: the check covers the catalog's models only
        endpoint = self._endpoint or service_host(self.location)
        kwargs: dict[str, Any] = {"client_options": ClientOptions(api_endpoint=endpoint)}
        if endpoint.startswith("http://"):
            from google.auth.credentials import AnonymousCredentials

            kwargs.update(transport="rest", credentials=AnonymousCredentials())  # type: ignore[no-untyped-call]
        client = cls(**kwargs)
        request = aiplatform_v1beta1.types.ListPublisherModelsRequest(parent="publishers/google")

        def listing() -> list[PublisherModel]:
            out = []
            for m in client.list_publisher_models(request=request, retry=None, timeout=60):
                short = str(m.name).rsplit("/", 1)[-1]
                if short.startswith("gemini-"):
                    stage = getattr(getattr(m, "launch_stage", None), "name", "") or ""
                    out.append(
                        PublisherModel(short, "" if stage == "LAUNCH_STAGE_UNSPECIFIED" else stage)
                    )
            return out

        try:
            result: list[PublisherModel] = self._policy.call(
                listing, what=f"publisher models ({self.project}, {self.location})"
            )
        except PipelineError as e:  # the check still covers the catalog's own models
            self.list_error = e.message
            return None
        return result
