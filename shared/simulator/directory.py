"""The simulator's Vertex AI model directory: every catalog model that is still served, as GA,
with knobs to play Google changing its list (so the catalog check runs in `make test`):

- `SIM_CATALOG_GONE=gemini-3.5-flash,...`: these catalog models answer 404 (a retirement);
- `SIM_CATALOG_NEW=gemini-3.9-flash,...`: listed though the catalog does not know them;
- `SIM_CATALOG_STAGE=gemini-3.5-flash=PUBLIC_PREVIEW,...`: reported with this launch stage.
"""

from __future__ import annotations

from collections.abc import Mapping

from shared.catalog import Catalog
from shared.ports import PublisherModel


def _names(text: str) -> list[str]:
    return [n.strip() for n in text.split(",") if n.strip()]


class SimulatedDirectory:
    """The `ModelDirectory` port, played from the catalog and the `SIM_CATALOG_*` knobs."""

    simulated = True

    def __init__(self, catalog: Catalog, env: Mapping[str, str] | None = None) -> None:
        e = env or {}
        gone = set(_names(e.get("SIM_CATALOG_GONE", "")))
        stages = dict(
            pair.split("=", 1) for pair in _names(e.get("SIM_CATALOG_STAGE", "")) if "=" in pair
        )
        self._models: dict[str, PublisherModel] = {}
        for info in catalog:
            if info.name in gone or info.lifecycle.shut_down:
                continue
            self._models[info.name] = PublisherModel(info.name, stages.get(info.name, "GA"))
        for name in _names(e.get("SIM_CATALOG_NEW", "")):
            self._models[name] = PublisherModel(name, stages.get(name, "PUBLIC_PREVIEW"))

    def get(self, name: str) -> PublisherModel | None:
        return self._models.get(name)

    def list_gemini(self) -> list[PublisherModel] | None:
        return [m for n, m in sorted(self._models.items()) if n.startswith("gemini-")]
