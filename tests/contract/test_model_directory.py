"""Contract of `ports.ModelDirectory`, against the simulator and the Vertex adapter (the official
v1 / v1beta1 clients against the HTTP fake): both directories know the catalog's served models,
answer None (not an error) for a model they do not know, and list a Gemini model Google added."""

from __future__ import annotations

from typing import Any

import pytest

from shared.catalog import BUILTIN
from shared.gcp.vertex_catalog import VertexModelDirectory
from shared.ports import ModelDirectory
from shared.simulator.directory import SimulatedDirectory
from tests.contract.backend_gcp_vertex import LOCATION, PROJECT

ADDED = "gemini-3.9-flash"


@pytest.fixture(params=("local", "gcp"))
def directory(request: pytest.FixtureRequest) -> Any:
    if request.param == "local":
        return SimulatedDirectory(BUILTIN, {"SIM_CATALOG_NEW": ADDED})
    fake = request.getfixturevalue("vertex_fake")
    fake.state.extra_publisher_models.append(ADDED)
    return VertexModelDirectory(PROJECT, LOCATION, api_endpoint=fake.endpoint)


def test_a_served_catalog_model_is_found_with_its_launch_stage(directory: Any) -> None:
    assert isinstance(directory, ModelDirectory)
    found = directory.get("gemini-3.5-flash")
    assert found is not None and found.name == "gemini-3.5-flash" and found.launch_stage == "GA"


def test_an_unknown_model_is_none_not_an_error(directory: Any) -> None:
    assert directory.get("gemini-0-never-existed") is None


def test_the_listing_has_the_added_model_and_only_gemini(directory: Any) -> None:
    listed = directory.list_gemini()
    assert listed is not None
    names = {m.name for m in listed}
    assert ADDED in names and "gemini-3.5-flash" in names
    assert all(n.startswith("gemini-") for n in names)
