"""The first `terraform apply` of an empty project does things in an order Google accepts
(issue 16, defect 4): service accounts only once iam.googleapis.com is on, and the Eventarc
service agent minted, and waited for, before the storage trigger is created
(terraform-provider-google #25294, #14584).

Ordering is what an offline plan cannot show failing (the stand-in providers accept any order),
so these read the dependency edges Terraform will follow from the configuration itself.
"""

from __future__ import annotations

import pytest

from tests.infra.hcl import INFRA, literal, load

ROOT = load(INFRA)


def _depends_on(address: str) -> set[str]:
    body = ROOT.resources[address]
    return {str(d).removeprefix("${").removesuffix("}") for d in body.get("depends_on", [])}


@pytest.mark.parametrize("account", ["build", "tuning"])
def test_service_accounts_wait_for_the_iam_api(account: str) -> None:
    assert "google_project_service.apis" in _depends_on(f"google_service_account.{account}")
    apis = str(ROOT.locals["apis"])
    assert "iam.googleapis.com" in apis


def test_eventarc_service_agent_is_minted_after_its_api() -> None:
    address = "google_project_service_identity.eventarc"
    body = ROOT.resources[address]
    assert literal(body["service"]) == "eventarc.googleapis.com"
    assert "google-beta" in str(body["provider"])  # the resource exists only in google-beta
    assert "google_project_service.apis" in _depends_on(address)


def test_functions_wait_for_the_eventarc_agent() -> None:
    # The propagation wait comes after the agent ...
    assert "google_project_service_identity.eventarc" in _depends_on("time_sleep.iam_propagation")
    # ... and every function (the validator holds the storage trigger) comes after the wait.
    assert "time_sleep.iam_propagation" in _depends_on("terraform_data.ready")
    validator = ROOT.modules["validator"]
    assert "terraform_data.ready.output" in str(validator["project_id"])
