"""Where each Vertex call goes (issue 16, defect 1): the location a resource name names, else
the catalog's serving location for the model, on the host the catalog's table gives."""

from __future__ import annotations

import pytest
from google.auth.credentials import AnonymousCredentials

from shared.catalog import BUILTIN, load_catalog
from shared.errors import ConfigError, NotFound
from shared.gcp.vertex import VertexModels, VertexTuner
from shared.gcp.vertex_clients import make_client, service_host
from tests.fakes.vertex_fake import VertexFake
from tests.unit.gcp_vertex.conftest import FAST, PROJECT

PROMPT = [{"role": "user", "parts": [{"text": "充值没到账怎么办？"}]}]


def _locations(fake: VertexFake, route: str) -> list[str]:
    return [r.path.split("/locations/")[1].split("/")[0] for r in fake.requests_for(route)]


def test_base_3x_models_are_called_in_the_jurisdictions_multi_region(fake: VertexFake) -> None:
    for region, expected in (("us-central1", "us"), ("europe-west4", "eu")):
        models = VertexModels(PROJECT, region, api_endpoint=fake.endpoint, **FAST)
        models.generate("gemini-3.5-flash", PROMPT)
        models.count_tokens("gemini-3.1-flash-lite", PROMPT)
        assert _locations(fake, "generate")[-1] == expected
        assert _locations(fake, "count_tokens")[-1] == expected


def test_base_2x_models_stay_in_the_deployment_region(fake: VertexFake) -> None:
    models = VertexModels(PROJECT, "europe-west4", api_endpoint=fake.endpoint, **FAST)
    models.generate("gemini-2.5-flash", PROMPT)
    assert _locations(fake, "generate") == ["europe-west4"]


def test_a_tuned_endpoint_is_called_where_its_name_says(fake: VertexFake) -> None:
    endpoint = f"projects/{PROJECT}/locations/us/endpoints/42"
    fake.teach(endpoint, "充值没到账怎么办？", "请提供订单号。")
    models = VertexModels(PROJECT, "us-central1", api_endpoint=fake.endpoint, **FAST)
    assert models.generate(endpoint, PROMPT).text == "请提供订单号。"
    assert _locations(fake, "generate") == ["us"]


def test_an_override_moves_a_models_serving_location(fake: VertexFake) -> None:
    catalog = load_catalog(
        {"gemini-3.5-flash": {"serving": {"base": ["global"], "tuned": ["us", "eu"]}}}
    )
    models = VertexModels(
        PROJECT, "us-central1", api_endpoint=fake.endpoint, catalog=catalog, **FAST
    )
    models.generate("gemini-3.5-flash", PROMPT)
    assert _locations(fake, "generate") == ["global"]


def test_jobs_and_models_are_addressed_in_their_own_location(fake: VertexFake) -> None:
    tuner = VertexTuner(PROJECT, "us-central1", api_endpoint=fake.endpoint, **FAST)
    with pytest.raises(NotFound):  # the fake has no such job; the path is what matters
        tuner.get_job(f"projects/{PROJECT}/locations/europe-west4/tuningJobs/1")
    assert [r.path for r in fake.state.requests][-1].startswith(
        f"/v1/projects/{PROJECT}/locations/europe-west4/tuningJobs/"
    )
    with pytest.raises(NotFound):
        tuner.set_default_checkpoint(f"projects/{PROJECT}/locations/us/models/9@1", "2")
    assert fake.state.requests[-1].path == f"/v1/projects/{PROJECT}/locations/us/models/9"


@pytest.mark.parametrize(
    ("location", "host"),
    [
        ("us", "aiplatform.us.rep.googleapis.com"),
        ("eu", "aiplatform.eu.rep.googleapis.com"),
        ("global", "aiplatform.googleapis.com"),
        ("us-central1", "us-central1-aiplatform.googleapis.com"),
    ],
)
def test_clients_use_the_catalogs_host_for_their_location(location: str, host: str) -> None:
    assert service_host(location) == host
    client = make_client("prediction", location, credentials=AnonymousCredentials())
    assert client.api_endpoint == host


def test_an_unknown_location_is_a_config_error_that_says_what_to_do() -> None:
    with pytest.raises(ConfigError, match="VERTEX_LOCATION"):
        BUILTIN.host("moon-central1")
