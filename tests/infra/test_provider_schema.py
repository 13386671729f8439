"""The Terraform in infra/ against the real Google provider schemas (6.50.0), without Terraform.

`terraform validate` cannot run here (no provider binaries), so tools/provider_schema.py reads
the schemas out of the CDKTF bindings generated from them (npm, installed once). Every
`resource` and `data` block must name a type the provider has, use only argument and block
names that exist at their nesting level, set every required one, and give enum arguments a
value the provider accepts.
"""

from __future__ import annotations

import copy
import importlib.util
import re
import shutil
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.infra.hcl import FUNCTION_MODULE, INFRA, REPO, literal, load


def _load_tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "provider_schema", REPO / "tools" / "provider_schema.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


ps = _load_tool()
MODULES = {"root": INFRA, "modules/function": FUNCTION_MODULE}


@pytest.fixture(scope="module", autouse=True)
def providers() -> dict[str, Any]:
    reason = ps.ensure_installed()
    if reason is not None:
        pytest.skip(reason)
    loaded: dict[str, Any] = ps.load()
    return loaded


def problems_in(folder: Path) -> list[str]:
    """What the checker says about one module: every resource/data block and every reference."""
    config = load(folder)
    variables = ps.variable_values(config.variables)
    found: list[str] = []
    declared: dict[tuple[str, str, str], str] = {}
    for kind, blocks in (("resource", config.resources), ("data", config.data)):
        for address, body in blocks.items():
            rtype, name = address.split(".", 1)
            found += ps.check_block(kind, rtype, name, body, variables)
            declared[(kind, rtype, name)] = ps.provider_of(rtype, body)
    for tf in sorted(folder.glob("*.tf")):
        found += ps.check_references(tf.read_text(encoding="utf-8"), declared)
    return found


def copy_infra(tmp_path: Path) -> Path:
    target = tmp_path / "infra"
    shutil.copytree(INFRA, target, ignore=shutil.ignore_patterns(".terraform*", "build"))
    return target


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new), encoding="utf-8")


# --------------------------------------------------------------------------------------------
# The real configuration
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("module", sorted(MODULES))
def test_every_block_matches_the_provider_schema(module: str) -> None:
    found = problems_in(MODULES[module])
    assert found == [], "\n".join(found)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_every_block_has_a_schema_to_check_against(module: str, providers: dict[str, Any]) -> None:
    """No block passes by being skipped: each type resolves in its provider (or is built in)."""
    config = load(MODULES[module])
    blocks = [("resource", a, b) for a, b in config.resources.items()]
    blocks += [("data", a, b) for a, b in config.data.items()]
    assert blocks
    for kind, address, body in blocks:
        rtype = address.split(".", 1)[0]
        if kind == "resource" and rtype in ps.BUILTIN_TYPES:
            continue
        provider = providers[ps.provider_of(rtype, body)]
        schema = provider.resource(rtype) if kind == "resource" else provider.data(rtype)
        assert schema is not None and schema.names(), address


def test_providers_are_pinned_to_the_checked_schema_version(providers: dict[str, Any]) -> None:
    for folder in MODULES.values():
        versions = (folder / "versions.tf").read_text(encoding="utf-8")
        for name in ("google", "google-beta"):
            block = re.search(rf"\n\s+{re.escape(name)} = \{{(.*?)\}}", versions, re.S)
            if block is None:
                continue
            pin = re.search(r'version\s*=\s*"~> (\d+)\.(\d+)"', block.group(1))
            assert pin, f"{folder.name}/versions.tf: pin {name} with `~> MAJOR.MINOR`"
            major, minor = int(pin.group(1)), int(pin.group(2))
            checked = tuple(int(p) for p in providers[name].version.split(".")[:2])
            assert (major, minor) == checked, f"{name} pinned to {major}.{minor}, checked {checked}"


# --------------------------------------------------------------------------------------------
# The extraction reads what the provider documents
# --------------------------------------------------------------------------------------------


def test_extraction_follows_nesting_and_required(providers: dict[str, Any]) -> None:
    google = providers["google"]
    assert google.version == "6.50.0"
    bucket = google.resource("google_storage_bucket")
    assert {"name", "location"} <= {n for n, req in bucket.attributes.items() if req}
    assert bucket.attributes["storage_class"] is False
    rule = bucket.blocks["lifecycle_rule"].block
    assert rule.blocks["action"].required and rule.blocks["condition"].required
    assert "with_state" in rule.blocks["condition"].block.attributes
    assert "with_state" not in bucket.attributes  # names stay at their own level
    fn = google.resource("google_cloudfunctions2_function")
    storage = fn.blocks["build_config"].block.blocks["source"].block.blocks["storage_source"]
    assert set(storage.block.attributes) == {"bucket", "object", "generation"}
    assert "RETRY_POLICY_RETRY" in fn.blocks["event_trigger"].block.choices["retry_policy"]
    assert google.resource("google_project_service_identity") is None  # beta only
    assert providers["google-beta"].resource("google_project_service_identity") is not None
    assert google.data("google_storage_project_service_account") is not None
    assert providers["archive"].data("archive_file") is not None


# --------------------------------------------------------------------------------------------
# The checker fails on real mistakes
# --------------------------------------------------------------------------------------------


def test_a_renamed_argument_is_reported(tmp_path: Path) -> None:
    infra = copy_infra(tmp_path)
    edit(infra / "storage.tf", "uniform_bucket_level_access", "uniform_bucket_access")
    found = problems_in(infra)
    bad = [p for p in found if "`uniform_bucket_access`" in p]
    assert len(bad) == 3, found  # datasets, artifacts, sources
    assert all("did you mean `uniform_bucket_level_access`" in p for p in bad)


def test_nested_and_dynamic_names_are_checked_at_their_level(tmp_path: Path) -> None:
    infra = copy_infra(tmp_path)
    module = infra / "modules" / "function" / "main.tf"
    edit(module, "trigger_region ", "region ")  # valid at top level, not in event_trigger
    edit(module, 'dynamic "dead_letter_policy"', 'dynamic "dead_letters_policy"')
    edit(module, "storage_source {", "gcs_source {")
    found = problems_in(infra / "modules" / "function")
    assert any("this.event_trigger: unknown argument or block `region`" in p for p in found)
    assert any('dynamic "dead_letters_policy" is not a block' in p for p in found)
    assert any("build_config.source: unknown argument or block `gcs_source`" in p for p in found)


def test_unknown_type_and_wrong_provider_are_reported() -> None:
    root = load(INFRA)
    identity = dict(root.resources["google_project_service_identity.pubsub"])
    del identity["provider"]  # the GA provider has no google_project_service_identity
    found = ps.check_block("resource", "google_project_service_identity", "x", identity)
    assert found and "google 6.50.0 has no resource type" in found[0]
    topic = root.resources["google_pubsub_topic.run_events"]
    found = ps.check_block("resource", "google_pubsub_topics", "x", topic)
    assert found and "did you mean `google_pubsub_topic`?" in found[0]


def test_missing_required_arguments_and_blocks_are_reported() -> None:
    root = load(INFRA)
    bucket = {k: v for k, v in root.resources["google_storage_bucket.datasets"].items()}
    del bucket["location"]
    rule = copy.deepcopy(bucket["lifecycle_rule"])
    del rule[0]["action"]
    bucket["lifecycle_rule"] = rule
    found = ps.check_block("resource", "google_storage_bucket", "datasets", bucket)
    assert "google_storage_bucket.datasets: missing required location" in found
    assert "google_storage_bucket.datasets.lifecycle_rule: missing required action" in found


def test_block_and_argument_syntax_are_not_interchangeable() -> None:
    root = load(INFRA)
    bucket = dict(root.resources["google_storage_bucket.sources"])
    bucket["versioning"] = {"enabled": True}  # `versioning = {...}` instead of a block
    bucket["labels"] = [{"team": '"ml"', "__is_block__": True}]  # `labels { ... }`
    found = ps.check_block("resource", "google_storage_bucket", "sources", bucket)
    assert any("`versioning` is a block" in p for p in found), found
    assert any("`labels` is an argument" in p for p in found), found


def test_enum_values_are_checked_from_literals_and_variables() -> None:
    module = load(FUNCTION_MODULE)
    fn = copy.deepcopy(module.resources["google_cloudfunctions2_function.this"])
    content = fn["dynamic"][0]['"event_trigger"']["content"][0]
    content["retry_policy"] = '"RETRY"'
    found = ps.check_block("resource", "google_cloudfunctions2_function", "this", fn)
    assert any("`retry_policy` = 'RETRY' is not one of" in p for p in found), found

    variables = ps.variable_values(module.variables)
    assert literal(module.variables["ingress"]["default"]) in variables["ingress"]
    variables["ingress"] = [*variables["ingress"], "INTERNAL_ONLY"]
    found = ps.check_block("resource", "google_cloudfunctions2_function", "this", fn, variables)
    assert any("`ingress_settings` = 'INTERNAL_ONLY'" in p for p in found), found


def test_meta_arguments_are_allowed_only_at_the_top() -> None:
    root = load(INFRA)
    topic = dict(root.resources["google_pubsub_topic.run_events"])
    assert "depends_on" in topic
    assert ps.check_block("resource", "google_pubsub_topic", "run_events", topic) == []
    sub = copy.deepcopy(root.resources["google_pubsub_subscription.run_events_archive"])
    sub["retry_policy"][0]["depends_on"] = ["${google_pubsub_topic.run_events}"]
    found = ps.check_block("resource", "google_pubsub_subscription", "x", sub)
    assert any("retry_policy: unknown argument or block `depends_on`" in p for p in found)


def test_references_to_attributes_the_type_lacks_are_reported(tmp_path: Path) -> None:
    infra = copy_infra(tmp_path)
    edit(infra / "main.tf", ".gcs.email_address", ".gcs.email")
    edit(
        infra / "modules" / "function" / "main.tf", "service_config[0].uri", "service_config[0].url"
    )
    found = problems_in(infra)
    assert any("data.google_storage_project_service_account.gcs: reads `email`" in p for p in found)
    found = problems_in(infra / "modules" / "function")
    assert any("reads `service_config...url`, which does not exist" in p for p in found), found
