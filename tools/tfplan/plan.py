"""`terraform init/validate/plan` of infra/ offline, against stand-in providers (make infra-plan).

The provider registry is unreachable here, so each provider the stack pins (versions.tf) is
replaced by tools/tfplan/standin.py serving that version's real schema, read from the CDKTF
bindings by tools/provider_schema.py. They are installed through a filesystem mirror under
build/tf-mirror with a CLI config of our own (TF_CLI_CONFIG_FILE), so `terraform init` runs
unchanged on a copy of infra/ (the copy's backend is overridden to local, and a lock file, whose
hashes are the real providers', is left out). Then every scenario below is planned for a fresh
project (no state): a plan-time `count`/`for_each` on a value known only after apply fails here
as it would against Google.

    python tools/tfplan/plan.py                  # every scenario, exit 1 on a failure
    python tools/tfplan/plan.py --infra DIR      # plan another copy of the stack (tests)
    python tools/tfplan/plan.py --graph          # Terraform's dependency graph (DOT) only
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path.insert(0, str(HERE.parent))
import provider_schema  # noqa: E402  (tools/ is not a package)

BUILD = REPO / "build"
MIRROR = BUILD / "tf-mirror"
# Provider local name -> registry address: every provider whose bindings tools/provider_schema
# pins (PACKAGES), served at the version the bindings were generated from.
PROVIDERS = {name: f"registry.terraform.io/hashicorp/{name}" for name in provider_schema.PACKAGES}
TARGET = "linux_amd64"

# What a fresh project is planned with. "defaults": only the required variable. "everything":
# every optional feature switched on.
SCENARIOS: dict[str, dict[str, Any]] = {
    "defaults": {"project_id": "gtp-fresh-project"},
    "everything": {
        "project_id": "gtp-fresh-project",
        "kms_key_name": "projects/gtp-kms/locations/us-central1/keyRings/tuning/cryptoKeys/data",
        "notification_channels": ["projects/gtp-fresh-project/notificationChannels/123"],
        "status_viewers": ["group:ml-team@example.com"],
        "status_ingress": "ALLOW_ALL",
        "firestore_location": "nam5",
        "datasets_bucket_name": "gtp-fresh-datasets",
        "artifacts_bucket_name": "gtp-fresh-artifacts",
        "deletion_protection": False,
        "max_concurrent_jobs": 3,
        "notifier_webhook_secret": "gtp-chat-webhook",
        "notifier_format": "wecom",
        "max_run_usd": 50,
        "max_month_usd": 500,
        "max_training_hours": 12,
        "stuck_after_minutes": 90,
    },
}


# --------------------------------------------------------------------------------------------
# Schemas -> tfplugin6 GetProviderSchema responses
# --------------------------------------------------------------------------------------------

_NESTING = {"list": "LIST", "set": "SET", "struct": "SINGLE"}


def to_block(pb: Any, raw: dict[str, Any]) -> Any:
    """One extracted block (provider_schema's JSON) as a tfplugin6 Schema.Block."""
    attrs = []
    types = raw.get("t", {})
    for name, required in sorted(raw["a"].items()):
        attrs.append(
            pb.Schema.Attribute(
                name=name,
                type=json.dumps(types.get(name, "string")).encode(),
                required=required,
                optional=not required,
                # SDKv2 resources all have an optional+computed `id`; the bindings cannot show
                # which other optional arguments are also computed, so they stay plain optional.
                computed=name == "id" and not required,
            )
        )
    for name, ctype in sorted(raw.get("c", {}).items()):
        if name not in raw["a"] and name not in raw["b"]:
            ctype_json = json.dumps(ctype).encode()
            attrs.append(pb.Schema.Attribute(name=name, type=ctype_json, computed=True))
    blocks = []
    for name, (required, kind, inner) in sorted(raw["b"].items()):
        nesting = getattr(pb.Schema.NestedBlock, _NESTING.get(kind, "LIST"))
        blocks.append(
            pb.Schema.NestedBlock(
                type_name=name,
                block=to_block(pb, inner),
                nesting=nesting,
                min_items=1 if required and kind != "struct" else 0,
            )
        )
    return pb.Schema.Block(attributes=attrs, block_types=blocks)


def schema_response(pb: Any, table: dict[str, Any]) -> Any:
    def schema(raw: dict[str, Any]) -> Any:
        return pb.Schema(version=0, block=to_block(pb, raw))

    return pb.GetProviderSchema.Response(
        provider=schema(table["provider"]),
        provider_meta=pb.Schema(block=pb.Schema.Block()),
        resource_schemas={t: schema(r) for t, r in table["resource"].items()},
        data_source_schemas={t: schema(r) for t, r in table["data"].items()},
        server_capabilities=pb.ServerCapabilities(plan_destroy=True),
    )


# --------------------------------------------------------------------------------------------
# The mirror
# --------------------------------------------------------------------------------------------


def build_mirror() -> Path:
    """Stand-ins for every pinned provider in build/tf-mirror (rebuilt when inputs change);
    returns the CLI config file that installs from it."""
    from tf.gen import tfplugin_pb2 as pb

    digest = hashlib.sha256(
        (HERE / "standin.py").read_bytes()
        + (HERE / "plan.py").read_bytes()
        + provider_schema.cache_file().name.encode()
    ).hexdigest()[:12]
    stamp = MIRROR / f".built-{digest}"
    cli_config = MIRROR / "terraformrc"
    if stamp.exists():
        return cli_config
    shutil.rmtree(MIRROR, ignore_errors=True)
    (MIRROR / "schemas").mkdir(parents=True)
    for name, table in provider_schema.load_raw().items():
        address = PROVIDERS[name]
        version = table["version"]
        schema_file = MIRROR / "schemas" / f"{name}.pb"
        schema_file.write_bytes(schema_response(pb, table).SerializeToString())
        folder = MIRROR / "providers" / address / version / TARGET
        folder.mkdir(parents=True)
        exe = folder / f"terraform-provider-{name}_v{version}"
        exe.write_text(
            "#!/bin/sh\n"
            f'exec "{sys.executable}" "{HERE / "standin.py"}" --schema "{schema_file}" "$@"\n'
        )
        exe.chmod(0o755)
    cli_config.write_text(
        "provider_installation {\n"
        f'  filesystem_mirror {{\n    path = "{MIRROR / "providers"}"\n'
        '    include = ["registry.terraform.io/hashicorp/*"]\n  }\n'
        '  direct {\n    exclude = ["registry.terraform.io/*/*"]\n  }\n}\n'
    )
    stamp.touch()
    return cli_config


# --------------------------------------------------------------------------------------------
# Copy and plan
# --------------------------------------------------------------------------------------------

BACKEND_OVERRIDE = 'terraform {\n  backend "local" {}\n}\n'


def stage(infra: Path, work: Path) -> Path:
    """A copy of `infra` at work/infra with ../functions and ../shared beside it (the modules
    zip them), a local backend instead of gcs, and no lock file or .terraform of its own."""
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    copy = work / "infra"
    shutil.copytree(
        infra, copy, ignore=shutil.ignore_patterns(".terraform", ".terraform.lock.hcl", "build")
    )
    (copy / "zz_offline_plan_override.tf").write_text(BACKEND_OVERRIDE)
    for sibling in ("functions", "shared"):
        (work / sibling).symlink_to(REPO / sibling)
    return copy


def terraform(args: list[str], cwd: Path, cli_config: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TF_", "GOOGLE_", "CLOUDSDK_"))}
    env |= {
        "TF_CLI_CONFIG_FILE": str(cli_config),
        "TF_IN_AUTOMATION": "1",
        "TF_INPUT": "0",
        "CHECKPOINT_DISABLE": "1",
        "GOOGLE_OAUTH_ACCESS_TOKEN": "offline-plan-has-no-credentials",
    }
    return subprocess.run(
        ["terraform", *args], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )


def run(infra: Path, work: Path, scenarios: list[str]) -> int:
    if shutil.which("terraform") is None:
        print("terraform is not on PATH: offline plan skipped")
        return 0
    started = time.monotonic()
    cli_config = build_mirror()
    copy = stage(infra, work)
    steps: list[tuple[str, list[str]]] = [
        ("init", ["init", "-backend=false", "-input=false", "-no-color"]),
        ("validate", ["validate", "-no-color"]),
        # plan needs an initialised backend: the local one of the override (no network).
        ("init (local backend)", ["init", "-input=false", "-no-color", "-reconfigure"]),
    ]
    for name in scenarios:
        var_file = work / f"{name}.tfvars.json"
        var_file.write_text(json.dumps(SCENARIOS[name], indent=1))
        steps.append(
            (
                f"plan ({name})",
                ["plan", "-input=false", "-lock=false", "-no-color", f"-var-file={var_file}"],
            )
        )
    for label, args in steps:
        t0 = time.monotonic()
        done = terraform(args, copy, cli_config)
        took = time.monotonic() - t0
        if done.returncode != 0:
            print(f"terraform {label}: FAILED after {took:.1f}s")
            print("\n".join(done.stdout.splitlines()[-15:]))
            print(done.stderr[-8000:])
            return 1
        summary = [ln for ln in done.stdout.splitlines() if ln.startswith("Plan:")]
        print(f"terraform {label}: ok in {took:.1f}s {summary[0] if summary else ''}".rstrip())
    print(f"offline plan of {infra} passed in {time.monotonic() - started:.1f}s")
    return 0


def graph(infra: Path, work: Path) -> int:
    """Print Terraform's own dependency graph (DOT) of the stack: the order a first apply
    follows, which no offline plan can show failing (tests/infra/test_first_apply.py)."""
    if shutil.which("terraform") is None:
        print("terraform is not on PATH: graph skipped")
        return 0
    cli_config = build_mirror()
    copy = stage(infra, work)
    for args in (["init", "-input=false", "-no-color"], ["graph"]):
        done = terraform(args, copy, cli_config)
        if done.returncode != 0:
            print(f"terraform {args[0]}: FAILED\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}")
            return 1
    print(done.stdout)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--infra", type=Path, default=REPO / "infra")
    parser.add_argument("--work", type=Path, default=BUILD / "tf-plan")
    parser.add_argument("--scenario", action="append", choices=sorted(SCENARIOS))
    parser.add_argument("--graph", action="store_true", help="print the dependency graph only")
    args = parser.parse_args(argv)
    if args.graph:
        return graph(args.infra.resolve(), args.work.resolve())
    return run(args.infra.resolve(), args.work.resolve(), args.scenario or list(SCENARIOS))


if __name__ == "__main__":
    sys.exit(main())
