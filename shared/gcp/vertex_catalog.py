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
