"""One tiny real call per model, where the pipeline will call it (`models --check`, smoke test).

`countTokens` costs nothing and answers 404 where a model is not served, so a wrong serving
location in the catalog (or an override) fails at deploy time instead of after a paid tuning
job, at the first evaluation. The location and host are the ones `VertexModels` picks for the
base model (`Catalog.serving_location`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from shared.errors import PipelineError
from shared.gcp.vertex_models import VertexModels

#: The probe's prompt: a few tokens of the users' language.
PROBE = [{"role": "user", "parts": [{"text": "你好, hello"}]}]


@dataclass(frozen=True)
class ModelProbe:
    name: str
    location: str
    host: str
    ok: bool
    detail: str  #: token count, or what failed


def probe_models(names: Iterable[str], models: VertexModels) -> list[ModelProbe]:
    out = []
    for name in names:
        location = models.location_for(name)
        try:
            host = models.catalog.host(location)
            tokens = models.count_tokens(name, PROBE)
        except PipelineError as e:
            out.append(ModelProbe(name, location, "", False, e.message))
            continue
        out.append(ModelProbe(name, location, host, True, f"countTokens answered {tokens}"))
    return out
