"""Every adapter call an identity makes is allowed by the roles Terraform grants it, judged by a
published role -> permission dataset (iann0036/iam-dataset), and the tuning service account reads
exactly the runs' copies (issue 16, defect 2: it read only the datasets bucket while redacted
runs trained on the artifacts bucket).

infra/permissions.json is the table (call -> permissions, identity -> calls on resources);
infra/roles.json and the Terraform are what is granted; tests/infra/data/iam_dataset_subset.json
holds the dataset's lists for the roles and REST methods used, with its commit.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from shared.pipeline import layout
from tests.infra.hcl import INFRA, REPO, ROLES_FILE, literal, load

TABLE: dict[str, Any] = json.loads((INFRA / "permissions.json").read_text(encoding="utf-8"))
ROLES: dict[str, Any] = json.loads(ROLES_FILE.read_text(encoding="utf-8"))
DATASET: dict[str, Any] = json.loads(
    (REPO / "tests" / "infra" / "data" / "iam_dataset_subset.json").read_text(encoding="utf-8")
)
ROOT = load(INFRA)
#: A permission the dataset's method map lists that these calls never need: Cloud Storage asks
#: for it only when a request returns ACLs (`projection=full`), which no adapter does.
CONDITIONAL = {"storage.objects.getIamPolicy"}
_STARTS = re.compile(
    r'^resource\.name\.startsWith\("projects/_/buckets/\$\{google_storage_bucket\.(\w+)\.name\}'
    r'/objects/([^"]*)"\)$'
)


def _perms(roles: list[str]) -> set[str]:
    out: set[str] = set()
    for role in roles:
        assert role in DATASET["roles"], f"{role} is not in the dataset subset: add it"
        out |= set(DATASET["roles"][role])
    return out


def _on_bucket(resource: str) -> tuple[str, str] | None:
    """`bucket artifacts/tuning-inputs/` -> ("artifacts", "tuning-inputs/")."""
    if not resource.startswith("bucket "):
        return None
    key, _, prefix = resource[len("bucket ") :].partition("/")
    return key, prefix


#: Identities that are not functions: the tuning account (tuning jobs run as it) and the AI
#: Platform service agent (batch inference jobs run as it), by how Terraform names them.
AGENTS = {
    "tuning": "google_service_account.tuning.email",
    "batch_agent": "google_project_service_identity.aiplatform.email",
}


def _tuning_grants(agent: str = "tuning") -> list[tuple[str, str | None, list[str]]]:
    """(bucket key, object prefix or None for the whole bucket, roles) of every grant the
    tuning service account (or another agent) holds, read from the Terraform."""
    out = []
    for address, body in ROOT.resources.items():
        if not address.split(".")[0].endswith("_iam_member"):
            continue
        if AGENTS[agent] not in str(body.get("member")):
            continue
        assert address.startswith("google_storage_bucket_iam_member."), (
            f"{address}: the {agent} account may only use objects"
        )
        bucket = re.fullmatch(r"\$\{google_storage_bucket\.(\w+)\.name\}", body["bucket"])
        assert bucket, address
        prefix = None
        for cond in body.get("condition", []):
            m = _STARTS.match(literal(cond["expression"]))
            assert m and m.group(1) == bucket.group(1), (address, cond["expression"])
            prefix = m.group(2)
        out.append((bucket.group(1), prefix, [literal(body["role"])]))
    return out


def _granted(identity: str, resource: str) -> set[str]:
    """The permissions `identity` holds on `resource` under Terraform's grants."""
    if identity in AGENTS:
        where = _on_bucket(resource)
        return {
            p
            for key, prefix, roles in _tuning_grants(identity)
            if where and key == where[0] and (prefix is None or where[1].startswith(prefix))
            for p in _perms(roles)
        }
    row = ROLES["functions"][identity]
    held = _perms(row["project_roles"])  # project roles reach every resource in the project
    where = _on_bucket(resource)
    if where is not None:
        held |= _perms(row["bucket_roles"].get(where[0], []))
    if resource.startswith("service account "):
        account = resource[len("service account ") :]
        for g in ROLES["grants"]:
            body = ROOT.resources.get(g["terraform"], {})
            if f"google_service_account.{account}.name" in str(
                body.get("service_account_id")
            ) and f"module.{identity}." in str(body.get("for_each", body.get("member"))):
                held |= _perms(g["roles"])
    return held


USES = [
    (identity, call, resource)
    for identity, rows in TABLE["uses"].items()
    for call, resource in rows
]


@pytest.mark.parametrize(("identity", "call", "resource"), USES)
def test_every_call_is_allowed_by_the_granted_roles(
    identity: str, call: str, resource: str
) -> None:
    needs = set(TABLE["calls"][call]["needs"])
    missing = needs - _granted(identity, resource)
    assert not missing, f"{identity} calls {call} on {resource} but lacks {sorted(missing)}"


def test_call_permissions_agree_with_the_dataset_method_map() -> None:
    by_method: dict[str, set[str]] = {}
    for name, call in TABLE["calls"].items():
        by_method.setdefault(call["method"], set()).update(call["needs"])
        mapped = set(DATASET["methods"][call["method"]])
        if call.get("named_by") == "role":
            assert not mapped, f"{name}: the map lists {mapped} now: drop named_by"
            every = set().union(*map(set, DATASET["roles"].values()))
            assert set(call["needs"]) <= every, f"{name}: no role in the dataset has it"
        else:
            assert set(call["needs"]) <= mapped, (name, mapped)
    for method, needs in by_method.items():
        mapped = set(DATASET["methods"][method])
        if mapped:
            assert mapped - needs <= CONDITIONAL, (method, sorted(mapped - needs))


def test_identities_in_the_table_are_declared_and_use_every_bucket_they_hold() -> None:
    functions = ROLES["functions"]
    assert set(TABLE["uses"]) <= set(functions) | set(AGENTS)
    for identity, row in functions.items():
        used = {
            where[0]
            for _, resource in TABLE["uses"].get(identity, [])
            if (where := _on_bucket(resource)) is not None
        }
        assert set(row["bucket_roles"]) <= used, f"{identity} holds a bucket it never uses"


def test_tuning_account_reads_exactly_the_run_copies() -> None:
    grants = _tuning_grants()
    assert grants == [("artifacts", layout.TUNING_INPUTS, ["roles/storage.objectViewer"])]
    # Every file a job trains on lies under that prefix, raw or redacted.
    for name in (layout.tuning_input_name("r", "train"), layout.redacted_name("r", "train")):
        assert name.startswith(layout.TUNING_INPUTS)
    # ... and nothing the pipeline writes elsewhere does.
    for other in (layout.validation_report_name("r"), layout.evaluation_prefix("r")):
        assert not other.startswith(layout.TUNING_INPUTS)
    assert not _granted("tuning", "bucket datasets")
    assert not _granted("tuning", "bucket artifacts/runs/")


def test_batch_agent_uses_exactly_the_batch_inference_files() -> None:
    """Batch jobs run as the AI Platform service agent: it reads a batch evaluation's input and
    writes its answers under batch-inference/, and touches nothing else of the pipeline's."""
    assert _tuning_grants("batch_agent") == [
        ("artifacts", layout.BATCH_INFERENCE, ["roles/storage.objectUser"])
    ]
    assert layout.evaluation_batch_prefix("r", "k").startswith(layout.BATCH_INFERENCE)
    for other in (layout.TUNING_INPUTS, layout.report_prefix("r")):
        assert not _granted("batch_agent", f"bucket artifacts/{other}")
    assert not _granted("batch_agent", "bucket datasets")


#: Permissions of roles/run.builder (what the build-account page names) that the build account is
#: not given: Cloud Source Repositories are not used (sources come as a zip from a bucket), and
#: deleting artifacts is not needed to push a function image (left out to stay least-privilege;
#: docs/DEPLOY.md says to grant roles/run.builder if a build asks for it).
BUILD_NOT_GRANTED = {"source.repos.get", "artifactregistry.repositories.deleteArtifacts"}


def test_build_account_holds_what_the_build_account_docs_name() -> None:
    builder = set(DATASET["roles"]["roles/run.builder"])
    held: set[str] = set()
    for g in ROLES["grants"]:
        if g["member"] == "google_service_account.build":
            held |= _perms(g["roles"])
    assert builder - BUILD_NOT_GRANTED <= held, sorted(builder - BUILD_NOT_GRANTED - held)
    assert builder >= BUILD_NOT_GRANTED  # the exclusions still name real permissions
