"""Read the Terraform in infra/ with python-hcl2 into plain Python values.

python-hcl2 keeps HCL string literals quoted (`'"gcp"'`) and expressions as `${...}`; the helpers
here turn literals into values and expressions into the references they name, so tests can
follow wiring (`google_pubsub_topic.run_events.name` -> the topic block) without Terraform.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import hcl2

REPO = Path(__file__).resolve().parents[2]
INFRA = REPO / "infra"
FUNCTION_MODULE = INFRA / "modules" / "function"
ROLES_FILE = INFRA / "roles.json"

_REF = re.compile(r"^\$\{\(?([a-z_][a-z0-9_]*\.[a-z0-9_\-.\[\]]+?)\)?\}$")


def literal(v: Any) -> Any:
    """The value of an HCL literal; expressions (`${...}`) are returned unchanged."""
    if isinstance(v, str) and len(v) >= 2 and v[0] == '"' and v[-1] == '"':
        return json.loads(v)
    return v


def ref(v: Any) -> str | None:
    """`${google_pubsub_topic.x.name}` -> `google_pubsub_topic.x.name`; None if not a plain ref."""
    if not isinstance(v, str):
        return None
    m = _REF.match(v)
    return m.group(1) if m else None


@dataclass(frozen=True)
class Config:
    """Blocks of one Terraform module, keyed like Terraform addresses."""

    resources: dict[str, dict[str, Any]]  # "type.name" -> body
    data: dict[str, dict[str, Any]]
    modules: dict[str, dict[str, Any]]
    variables: dict[str, dict[str, Any]]
    outputs: dict[str, dict[str, Any]]
    locals: dict[str, Any]

    def of_type(self, rtype: str) -> dict[str, dict[str, Any]]:
        return {
            k.split(".", 1)[1]: v for k, v in self.resources.items() if k.split(".", 1)[0] == rtype
        }


@cache
def load(folder: Path = INFRA) -> Config:
    resources: dict[str, dict[str, Any]] = {}
    data: dict[str, dict[str, Any]] = {}
    modules: dict[str, dict[str, Any]] = {}
    variables: dict[str, dict[str, Any]] = {}
    outputs: dict[str, dict[str, Any]] = {}
    local_values: dict[str, Any] = {}
    for tf in sorted(folder.glob("*.tf")):
        with tf.open(encoding="utf-8") as fh:
            doc = hcl2.load(fh)
        for block in doc.get("resource", []):
            for rtype, named in block.items():
                for name, body in named.items():
                    resources[f"{literal(rtype)}.{literal(name)}"] = body
        for block in doc.get("data", []):
            for rtype, named in block.items():
                for name, body in named.items():
                    data[f"{literal(rtype)}.{literal(name)}"] = body
        for target, dest in (("module", modules), ("variable", variables), ("output", outputs)):
            for block in doc.get(target, []):
                for name, body in block.items():
                    dest[literal(name)] = body
        for block in doc.get("locals", []):
            local_values.update(block)
    return Config(resources, data, modules, variables, outputs, local_values)


def roles_table() -> dict[str, dict[str, Any]]:
    table: dict[str, dict[str, Any]] = json.loads(ROLES_FILE.read_text(encoding="utf-8"))[
        "functions"
    ]
    return table
