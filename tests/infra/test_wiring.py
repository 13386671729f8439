"""Terraform in infra/ against the code it deploys, read with python-hcl2 (no cloud account).

Each test names one promise of the deployment: every function folder is deployed with its entry
point; every setting the code reads is set, and nothing else; every topic has a subscriber and a
dead-letter path; each service account holds exactly its row of infra/roles.json.
"""

from __future__ import annotations

import ast
import base64
import re
from pathlib import Path
from typing import Any

import pytest

from shared.events import POLL_TICK, PubSubMessage, decode_message
from shared.settings import LOCAL_ONLY_ENV, SECRET_ENV, SETTINGS_ENV
from tests.infra.hcl import FUNCTION_MODULE, INFRA, REPO, Config, literal, load, ref, roles_table

ROOT = load(INFRA)
MODULE = load(FUNCTION_MODULE)
TABLE = roles_table()
FUNCTIONS_DIR = REPO / "functions"
WRITE_ROLES = {
    "roles/storage.objectCreator",
    "roles/storage.objectUser",
    "roles/storage.objectAdmin",
    "roles/storage.admin",
    "roles/storage.legacyBucketWriter",
}
PRIMITIVE_ROLES = {"roles/owner", "roles/editor", "roles/viewer"}
#: Variables the Cloud Functions platform (or Python) sets; the code may read them unregistered.
PLATFORM_ENV = {"K_SERVICE", "K_REVISION", "K_CONFIGURATION", "PORT", "FUNCTION_TARGET"}


def function_modules(cfg: Config = ROOT) -> dict[str, dict[str, Any]]:
    """Folder name -> module body, for every module built from modules/function."""
    out = {}
    for body in cfg.modules.values():
        if literal(body["source"]) == "./modules/function":
            out[literal(body["function"])] = body
    return out


FUNCTIONS = function_modules()


def resource_key(expr: Any, rtype: str) -> str:
    """`${google_pubsub_topic.run_events.name}` -> `run_events`, checking the type and that the
    resource exists."""
    r = ref(expr)
    assert r is not None, f"expected a reference to a {rtype}, got {expr!r}"
    kind, name, *_ = r.split(".")
    assert kind == rtype, f"{expr!r} is not a {rtype}"
    assert name in ROOT.of_type(rtype), f"{expr!r} names no declared {rtype}"
    return name


# ---------------------------------------------------------------------------------------------
# Functions <-> folders
# ---------------------------------------------------------------------------------------------


def test_terraform_deploys_exactly_the_functions_in_the_roles_table() -> None:
    assert set(FUNCTIONS) == set(TABLE)
    for name, body in FUNCTIONS.items():
        assert literal(body["entry_point"]) == TABLE[name]["entry_point"], name
        # An optional function is deployed by exactly the variable the table names.
        optional = TABLE[name].get("optional")
        count = str(body.get("count", ""))
        assert (optional in count) if optional else not count, (name, count)


def test_the_secret_env_is_only_what_settings_calls_secret() -> None:
    for name, body in FUNCTIONS.items():
        keys = set(body.get("secret_environment", {}))
        assert keys <= set(SECRET_ENV), (name, keys)
        assert not keys & set(ENV), f"{name}: a secret must not also be plain environment"


def test_every_function_folder_is_deployed() -> None:
    folders = {p.name for p in FUNCTIONS_DIR.iterdir() if p.is_dir() and p.name[0] not in "._"}
    assert folders == set(FUNCTIONS), (
        f"folders without a module in infra/functions.tf: {sorted(folders - set(FUNCTIONS))}; "
        f"modules without a folder: {sorted(set(FUNCTIONS) - folders)}"
    )


def _decorators(fn: ast.FunctionDef) -> set[str]:
    return {ast.unparse(d.func if isinstance(d, ast.Call) else d) for d in fn.decorator_list}


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_function_folder_has_entry_point_and_requirements(name: str) -> None:
    folder = FUNCTIONS_DIR / name
    main, reqs = folder / "main.py", folder / "requirements.txt"
    assert main.is_file(), f"functions/{name}/main.py is missing"
    assert reqs.is_file(), f"functions/{name}/requirements.txt is missing"
    entry = TABLE[name]["entry_point"]
    tree = ast.parse(main.read_text(encoding="utf-8"))
    defs = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
    assert entry in defs, f"functions/{name}/main.py defines no top-level {entry}()"
    # The decorator, not the platform's signature type, decides how functions-framework calls
    # the handler: Pub/Sub push endpoints are plain HTTP to Cloud Functions.
    kind = "http" if TABLE[name]["trigger"]["type"] == "http" else "cloud_event"
    decorators = _decorators(defs[entry])
    assert f"functions_framework.{kind}" in decorators, (
        f"{name}.{entry} must be decorated with @functions_framework.{kind}, has {decorators}"
    )
    names = {
        re.split(r"[<>=!~\[; ]", line.strip(), maxsplit=1)[0].lower()
        for line in reqs.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.lstrip().startswith(("#", "-"))
    }
    assert "functions-framework" in names, f"functions/{name}/requirements.txt lacks it"
    assert not any(n.startswith(("gemini-tuning", ".", "/")) for n in names), (
        "shared/ ships inside the zip; requirements.txt must not install the project itself"
    )


# ---------------------------------------------------------------------------------------------
# Settings <-> environment
# ---------------------------------------------------------------------------------------------

ENV = ROOT.locals["function_env"]


def test_terraform_sets_every_setting_and_only_those() -> None:
    wanted = set(SETTINGS_ENV) - set(LOCAL_ONLY_ENV)
    assert set(ENV) == wanted, (
        f"not set by Terraform: {sorted(wanted - set(ENV))}; "
        f"set but never read: {sorted(set(ENV) - wanted)}"
    )
    assert literal(ENV["BACKEND"]) == "gcp"
    for name, body in FUNCTIONS.items():
        assert ref(body["environment"]) == "local.function_env", name


def _env_reads(path: Path) -> set[str]:
    """Names read through os.environ[...] / os.environ.get(...) / os.getenv(...)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        key: ast.expr | None = None
        if isinstance(node, ast.Subscript) and ast.unparse(node.value) == "os.environ":
            key = node.slice
        elif isinstance(node, ast.Call) and ast.unparse(node.func) in (
            "os.environ.get",
            "os.getenv",
            "os.environ.setdefault",
        ):
            key = node.args[0] if node.args else None
        if isinstance(key, ast.Constant) and isinstance(key.value, str):
            found.add(key.value)
    return found


def test_code_reads_no_environment_variable_outside_settings() -> None:
    sources = [*(REPO / "shared").rglob("*.py"), *FUNCTIONS_DIR.rglob("*.py")]
    known = set(SETTINGS_ENV) | set(LOCAL_ONLY_ENV) | set(SECRET_ENV) | PLATFORM_ENV
    stray = {
        f"{p.relative_to(REPO)}: {name}"
        for p in sources
        for name in _env_reads(p)
        if name not in known and not name.endswith("_EMULATOR_HOST")
    }
    assert not stray, f"register these in shared/settings.py SETTINGS_ENV: {sorted(stray)}"


def test_settings_point_at_declared_resources() -> None:
    assert resource_key(ENV["DATASETS_BUCKET"], "google_storage_bucket") == "datasets"
    assert resource_key(ENV["ARTIFACTS_BUCKET"], "google_storage_bucket") == "artifacts"
    assert resource_key(ENV["FIRESTORE_DATABASE"], "google_firestore_database") == "runs"
    assert ref(ENV["RUNS_COLLECTION"]) == "var.runs_collection"
    assert literal(ROOT.variables["runs_collection"]["default"]) == "tuning_runs"
    assert ref(ENV["PRODUCTION_COLLECTION"]) == "var.production_collection"
    assert literal(ROOT.variables["production_collection"]["default"]) == "production_models"


# ---------------------------------------------------------------------------------------------
# Topics, subscribers, dead letters
# ---------------------------------------------------------------------------------------------


def subscribers(topic: str) -> list[str]:
    """Who consumes `google_pubsub_topic.<topic>`: root subscriptions and push-triggered modules."""
    subs = [
        f"subscription {name}"
        for name, body in ROOT.of_type("google_pubsub_subscription").items()
        if ref(body["topic"]) == f"google_pubsub_topic.{topic}.id"
    ]
    subs += [
        f"function {name}"
        for name, body in FUNCTIONS.items()
        if literal(body["trigger"]["type"]) == "pubsub"
        and ref(body["trigger"]["topic_id"]) == f"google_pubsub_topic.{topic}.id"
    ]
    return subs


def test_every_topic_the_code_publishes_to_exists_and_has_a_subscriber() -> None:
    published = {name for name in SETTINGS_ENV if name.startswith("TOPIC_")}
    assert published, "shared/settings.py names no TOPIC_* settings"
    for setting in published:
        topic = resource_key(ENV[setting], "google_pubsub_topic")
        assert subscribers(topic), f"{setting} -> topic {topic} has no subscriber"


def test_every_topic_in_the_roles_table_is_a_settings_topic() -> None:
    settings_topics = {
        resource_key(ENV[s], "google_pubsub_topic") for s in SETTINGS_ENV if s.startswith("TOPIC_")
    }
    for name, row in TABLE.items():
        assert set(row["publishes"]) <= settings_topics, name


def test_each_pubsub_function_is_fed_by_its_table_topic() -> None:
    for name, row in TABLE.items():
        trigger = FUNCTIONS[name]["trigger"]
        assert literal(trigger["type"]) == row["trigger"]["type"], name
        if row["trigger"]["type"] == "pubsub":
            topic = resource_key(trigger["topic_id"], "google_pubsub_topic")
            assert topic == row["trigger"]["topic"], name
            subs = subscribers(topic)
            fns = [s for s in subs if s.startswith("function ")]
            assert fns == [f"function {name}"], f"{topic} must feed only {name}"
            # Anything else on the topic is a pull copy kept for people (the dead-letter hold),
            # never a second pushing consumer.
            for sub in subs:
                if sub.startswith("subscription "):
                    body = ROOT.of_type("google_pubsub_subscription")[sub.split()[1]]
                    assert not body.get("push_config"), f"{sub} competes with {name}"


def test_every_subscription_has_retry_and_dead_letter() -> None:
    dead_letter_ref = "google_pubsub_topic.dead_letter.id"
    subs = ROOT.of_type("google_pubsub_subscription")
    for name, body in subs.items():
        if ref(body["topic"]) == dead_letter_ref:
            continue  # the dead-letter hold itself
        assert body.get("retry_policy"), f"subscription {name} has no retry_policy"
        (dlp,) = body["dead_letter_policy"]
        assert ref(dlp["dead_letter_topic"]) == dead_letter_ref, name
    assert any(ref(b["topic"]) == dead_letter_ref for b in subs.values()), (
        "the dead-letter topic needs a subscription or its messages are lost"
    )
    (push,) = MODULE.of_type("google_pubsub_subscription").values()
    assert push["retry_policy"]
    (dyn,) = push["dynamic"]
    dlp = dyn['"dead_letter_policy"']
    assert "var.dead_letter_topic_id" in dlp["for_each"]
    assert ref(dlp["content"][0]["dead_letter_topic"]) == "dead_letter_policy.value"
    assert push["push_config"][0]["oidc_token"], "push must carry an OIDC token"
    # Every hop dead-letters, except the function fed by the dead-letter topic: it cannot
    # forward into its own topic, so it relies on retries over a week's retention instead.
    assert literal(push["message_retention_duration"]) == "604800s"
    assert ref(push["retain_acked_messages"]) == "var.dead_letter_sink"
    sinks = []
    for name, body in FUNCTIONS.items():
        if literal(body["trigger"]["type"]) != "pubsub":
            continue
        if ref(body["trigger"]["topic_id"]) == dead_letter_ref:
            assert body.get("dead_letter_sink") is True and "dead_letter_topic_id" not in body
            sinks.append(name)
        else:
            assert ref(body["dead_letter_topic_id"]) == dead_letter_ref, name
            assert "dead_letter_sink" not in body, name
    assert len(sinks) == 1, f"one function must make dead letters visible on the run: {sinks}"


def test_pubsub_agent_holds_what_dead_lettering_needs() -> None:
    (pub,) = ROOT.of_type("google_pubsub_topic_iam_member").values()
    assert ref(pub["topic"]) == "google_pubsub_topic.dead_letter.name"
    assert literal(pub["role"]) == "roles/pubsub.publisher"
    assert ref(pub["member"]) == "local.pubsub_agent"
    root_subs = {
        n
        for n, b in ROOT.of_type("google_pubsub_subscription").items()
        if b.get("dead_letter_policy")
    }
    granted = {
        ref(b["subscription"]).split(".")[1]  # type: ignore[union-attr]
        for b in ROOT.of_type("google_pubsub_subscription_iam_member").values()
        if literal(b["role"]) == "roles/pubsub.subscriber"
        and ref(b["member"]) == "local.pubsub_agent"
    }
    assert root_subs == granted
    (mod,) = MODULE.of_type("google_pubsub_subscription_iam_member").values()
    assert ref(mod["subscription"]) == "google_pubsub_subscription.push[0].name"
    assert ref(mod["member"]) == "var.pubsub_service_agent"
    for name, body in FUNCTIONS.items():
        assert ref(body["pubsub_service_agent"]) == "local.pubsub_agent", name


def test_scheduler_tick_is_a_message_the_poller_accepts() -> None:
    (job,) = ROOT.of_type("google_cloud_scheduler_job").values()
    (target,) = job["pubsub_target"]
    assert (
        resource_key(target["topic_name"].replace(".id}", ".name}"), "google_pubsub_topic")
        == (TABLE["poller"]["trigger"]["topic"])
    )
    assert ref(target["data"].replace("base64encode(", "").replace(")}", "}")) == (
        "local.poll_tick_message"
    )
    body = literal(ROOT.locals["poll_tick_message"]).encode()
    attrs = {k: literal(v) for k, v in target["attributes"].items()}
    msg = PubSubMessage(
        data=base64.b64decode(base64.b64encode(body)),
        attributes=attrs,
        message_id="1",
        publish_time=None,
    )
    assert decode_message(msg, expect=POLL_TICK).type == POLL_TICK


# ---------------------------------------------------------------------------------------------
# The validator's trigger and the bucket layout
# ---------------------------------------------------------------------------------------------


def test_validator_trigger_matches_bucket_layout() -> None:
    trigger = FUNCTIONS["validator"]["trigger"]
    assert literal(trigger["type"]) == "storage"
    assert ref(trigger["bucket"]) == ref(ENV["DATASETS_BUCKET"])
    (fn,) = MODULE.of_type("google_cloudfunctions2_function").values()
    (dyn,) = fn["dynamic"]
    et = dyn['"event_trigger"']["content"][0]
    assert "var.trigger.bucket" in dyn['"event_trigger"']["for_each"]
    assert ref(et["event_filters"][0]["value"]) == "event_trigger.value"
    assert literal(et["event_type"]) == "google.cloud.storage.object.v1.finalized"
    assert literal(et["retry_policy"]) == "RETRY_POLICY_RETRY"
    assert literal(et["event_filters"][0]["attribute"]) == "bucket"
    # Reports go elsewhere: a write into the datasets bucket would re-trigger the validator.
    assert ref(ENV["ARTIFACTS_BUCKET"]) != ref(ENV["DATASETS_BUCKET"])
    for name, row in TABLE.items():
        assert not set(row["bucket_roles"].get("datasets", [])) & WRITE_ROLES, (
            f"{name} may write into the datasets bucket: that loops through the validator"
        )


# ---------------------------------------------------------------------------------------------
# Least privilege
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(TABLE))
def test_service_account_holds_exactly_its_table_roles(name: str) -> None:
    body, row = FUNCTIONS[name], TABLE[name]
    assert sorted(literal(r) for r in body["project_roles"]) == sorted(row["project_roles"])
    buckets = {
        resource_key(k, "google_storage_bucket"): sorted(literal(r) for r in v)
        for k, v in body["bucket_roles"].items()
    }
    assert buckets == {k: sorted(v) for k, v in row["bucket_roles"].items()}
    topics = sorted(resource_key(t, "google_pubsub_topic") for t in body["publish_topics"])
    assert topics == sorted(row["publishes"])
    # Secrets: each one the function may read names the root variable holding its id.
    secrets = body.get("secret_environment", {})
    for secret in row.get("secrets", []):
        assert f"var.{secret}" in str(secrets), (name, secret)
    assert bool(secrets) == bool(row.get("secrets")), name


def test_module_grants_the_runtime_account_nothing_beyond_its_inputs() -> None:
    allowed = {
        "google_project_iam_member.runtime": "toset(var.project_roles)",
        "google_storage_bucket_iam_member.runtime": "local.bucket_bindings",
        "google_pubsub_topic_iam_member.runtime": "toset(var.publish_topics)",
        "google_secret_manager_secret_iam_member.runtime": "var.secret_environment",
    }
    for key, body in MODULE.resources.items():
        if not key.split(".")[0].endswith("_iam_member"):
            continue
        member = str(body["member"])
        if "runtime" in member:
            assert key in allowed, f"{key} grants the runtime account an extra role"
            assert body["for_each"] == "${" + allowed[key] + "}", key
    # And the root grants module accounts nothing on the side.
    for key, body in ROOT.resources.items():
        if key.split(".")[0].endswith("_iam_member"):
            assert "module." not in str(body.get("member")), f"{key} grants a function account"


def _all_role_literals() -> list[tuple[str, str]]:
    """Every role granted anywhere (validation lists that forbid roles are skipped)."""
    found = []
    for tf in INFRA.rglob("*.tf"):
        for line in tf.read_text(encoding="utf-8").splitlines():
            if "contains(" in line:
                continue
            found += [(tf.name, m) for m in re.findall(r'"(roles/[A-Za-z.]+)"', line)]
    return found


def test_no_primitive_roles_and_no_public_members() -> None:
    roles = _all_role_literals()
    assert roles, "no roles found: did the HCL layout change?"
    assert not [r for r in roles if r[1] in PRIMITIVE_ROLES]
    for tf in INFRA.rglob("*.tf"):
        text = tf.read_text(encoding="utf-8")
        for m in re.finditer(r"member\s*=\s*\"(allUsers|allAuthenticatedUsers)\"", text):
            pytest.fail(f"{tf.name} makes something public: {m.group(0)}")


def test_functions_are_internal_only_unless_configured() -> None:
    assert literal(MODULE.variables["ingress"]["default"]) == "ALLOW_INTERNAL_ONLY"
    for name, body in FUNCTIONS.items():
        if name == "status":
            assert ref(body["ingress"]) == "var.status_ingress"
        else:
            assert "ingress" not in body, f"{name} overrides the internal-only ingress"
    assert literal(ROOT.variables["status_ingress"]["default"]) == "ALLOW_INTERNAL_ONLY"


# ---------------------------------------------------------------------------------------------
# Firestore, variables, outputs
# ---------------------------------------------------------------------------------------------


def test_firestore_index_serves_list_by_status() -> None:
    (index,) = ROOT.of_type("google_firestore_index").values()
    assert ref(index["collection"]) == "var.runs_collection"
    fields = [(literal(f["field_path"]), literal(f["order"])) for f in index["fields"]]
    assert fields == [("status", "ASCENDING"), ("created_at", "ASCENDING")]


@pytest.mark.parametrize("cfg", [ROOT, MODULE], ids=["root", "modules/function"])
def test_every_variable_is_typed_described_and_validated(cfg: Config) -> None:
    for name, body in cfg.variables.items():
        assert "type" in body and literal(body.get("description", "")).strip(), name
        needs_rule = cfg is ROOT and body["type"] not in ("${bool}", "bool")
        if needs_rule:
            assert body.get("validation"), f"variable {name} has no validation block"


def test_tfvars_example_names_only_declared_variables() -> None:
    text = (INFRA / "terraform.tfvars.example").read_text(encoding="utf-8")
    names = set(re.findall(r"^#?\s*([a-z_]+)\s*=", text, flags=re.M))
    assert "project_id" in names
    assert names <= set(ROOT.variables), sorted(names - set(ROOT.variables))


def test_outputs_show_where_to_look() -> None:
    for needed in ("datasets_bucket", "artifacts_bucket", "topics", "status_url", "console_links"):
        assert needed in ROOT.outputs, needed
    assert ref(ROOT.outputs["status_url"]["value"]) == "module.status.uri"


def test_modules_follow_the_standard_layout() -> None:
    for folder in [INFRA, *(p for p in (INFRA / "modules").iterdir() if p.is_dir())]:
        for f in ("main.tf", "variables.tf", "outputs.tf", "versions.tf"):
            assert (folder / f).is_file(), f"{folder.relative_to(REPO)}/{f}"
        if folder != INFRA:
            assert (folder / "README.md").is_file(), folder
