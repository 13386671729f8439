"""Every IAM grant outside the functions' own runtime roles is one row of infra/roles.json
"grants" (identity, role, on what, why), and docs/DEPLOY.md's identity table shows each row:
Terraform grants exactly that table, no more, no less."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.infra.hcl import FUNCTION_MODULE, INFRA, REPO, ROLES_FILE, literal, load

GRANTS: list[dict[str, Any]] = json.loads(ROLES_FILE.read_text(encoding="utf-8"))["grants"]
IAM_TYPE = re.compile(r"^google_\w+_iam_member$")


def _iam_resources(folder: Path, prefix: str) -> dict[str, dict[str, Any]]:
    return {
        f"{prefix}{address}": body
        for address, body in load(folder).resources.items()
        if IAM_TYPE.match(address.split(".")[0]) and not (prefix and address.endswith(".runtime"))
    }


def _roles(body: dict[str, Any]) -> list[str]:
    role = body["role"]
    if "each.value" in role:
        return sorted(re.findall(r'"(roles/[\w.]+)"', str(body["for_each"])))
    return [literal(role)]


DECLARED = {
    **_iam_resources(INFRA, ""),
    **_iam_resources(FUNCTION_MODULE, "module.function: "),
}
TABLE = {g["terraform"]: g for g in GRANTS}


def test_terraform_declares_exactly_the_table_grants() -> None:
    assert sorted(DECLARED) == sorted(TABLE)


@pytest.mark.parametrize("address", sorted(TABLE))
def test_each_grant_has_the_table_roles_and_member(address: str) -> None:
    body, row = DECLARED[address], TABLE[address]
    assert _roles(body) == sorted(row["roles"])
    assert row["member"] in str(body["member"])
    assert row["why"] and row["on"] and row["identity"]


def test_deploy_doc_lists_every_grant() -> None:
    doc = (REPO / "docs" / "DEPLOY.md").read_text(encoding="utf-8")
    rows = [ln for ln in doc.splitlines() if ln.startswith("|")]
    for g in GRANTS:
        for role in g["roles"]:
            assert any(g["identity"] in r and f"`{role}`" in r for r in rows), (g["identity"], role)


#: The one grant the Vertex AI (AI Platform) service agent holds: batch inference jobs run as it
#: and must read their input (the batch-inference page); tuning jobs run as the tuning account.
VERTEX_AGENT_GRANTS = {"google_storage_bucket_iam_member.batch_agent_uses_batch_inference"}


def test_no_grant_goes_to_the_vertex_agent_or_a_primitive_role() -> None:
    for address, body in DECLARED.items():
        assert "vertex_agent" not in str(body["member"]), address
        if "google_project_service_identity.aiplatform" in str(body["member"]):
            assert address in VERTEX_AGENT_GRANTS, address
            assert body.get("condition"), f"{address}: the agent's grant must be conditioned"
        assert not set(_roles(body)) & {"roles/owner", "roles/editor", "roles/viewer"}, address
