"""The Vertex `ModelDirectory` adapter through the real v1 and v1beta1 REST clients against the
fake: a served model with its launch stage, 404 as None, the listing with a model Google added;
the catalog check on it reports that model as new."""

from __future__ import annotations

from datetime import date

from shared.catalog import BUILTIN
from shared.gcp.vertex_catalog import VertexModelDirectory
from shared.pipeline.catalog_check import ask
from tests.fakes.vertex_fake import VertexFake
from tests.unit.gcp_vertex.conftest import PROJECT


def test_get_and_list_through_the_official_clients(fake: VertexFake) -> None:
    fake.state.extra_publisher_models.append("gemini-3.9-flash")
    directory = VertexModelDirectory(PROJECT, "us-central1", api_endpoint=fake.endpoint)
    found = directory.get("gemini-3.5-flash")
    assert found is not None and found.launch_stage == "GA"
    assert directory.get("gemini-9-nonexistent") is None
    listed = directory.list_gemini()
    assert listed is not None, directory.list_error
    stages = {m.name: m.launch_stage for m in listed}
    assert stages["gemini-3.9-flash"] == "PUBLIC_PREVIEW" and stages["gemini-2.5-pro"] == "GA"
    report = ask(BUILTIN, directory, date(2026, 12, 3), {})
    assert [(d.kind, d.model) for d in report.differences] == [("new", "gemini-3.9-flash")]
