"""Terraform provider schemas without Terraform, and a checker for HCL written against them.

`terraform validate` needs provider binaries this machine cannot fetch, but npm carries the
prebuilt CDK for Terraform bindings that are *generated from* those providers' schemas
(tools/provider_schema/package.json pins google + google-beta 6.50.0 and archive 2.7.1). The
bindings are read here as text, never executed: each generated `...ToHclTerraform(struct)`
function (and each resource's `synthesizeHclAttributes()`) lists one nesting level's argument
and block names with `isBlock`, and names the function that handles each block, which gives the
nesting; the `.d.ts` interfaces say which arguments are required (no `?`). The result is cached
as JSON inside node_modules (git-ignored), so a check costs a JSON load, not a parse.

    python tools/provider_schema.py check infra infra/modules/function   # exit 1 on problems
    python tools/provider_schema.py show google_storage_bucket           # one schema, as JSON
"""

from __future__ import annotations

import contextlib
import difflib
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent / "provider_schema"
NODE_MODULES = HERE / "node_modules"
LOCK = HERE / "package-lock.json"
# Provider local name -> npm package holding its bindings.
PACKAGES = {
    "google": "@cdktf/provider-google",
    "google-beta": "@cdktf/provider-google-beta",
    "archive": "@cdktf/provider-archive",
    "time": "@cdktf/provider-time",
}
FORMAT = 5  # bump when the cached JSON's shape changes

# Terraform's own arguments on every resource / data block (not in any provider schema).
RESOURCE_META = frozenset(
    {"count", "for_each", "provider", "depends_on", "lifecycle", "provisioner", "connection"}
)
DATA_META = frozenset({"count", "for_each", "provider", "depends_on", "lifecycle"})
DYNAMIC_KEYS = frozenset({"for_each", "iterator", "labels", "content"})
# Resource types built into Terraform itself (provider terraform.io/builtin/terraform).
BUILTIN_TYPES = frozenset({"terraform_data", "terraform_remote_state"})


# --------------------------------------------------------------------------------------------
# Schema model
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Block:
    """One nesting level: argument names (-> required?) and nested blocks (-> Nested).

    `choices` holds the allowed values of enum arguments, where the schema lists them
    ("Possible values: [...]" in the generated docs; only MMv1-generated resources do).
    """

    attributes: Mapping[str, bool]
    blocks: Mapping[str, Nested]
    choices: Mapping[str, tuple[str, ...]]

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Block:
        return cls(
            attributes=dict(raw["a"]),
            choices={k: tuple(v) for k, v in raw.get("e", {}).items()},
            blocks={
                k: Nested(required=v[0], nesting=v[1], block=cls.from_json(v[2]))
                for k, v in raw["b"].items()
            },
        )

    def names(self) -> list[str]:
        return sorted({*self.attributes, *self.blocks})


@dataclass(frozen=True)
class Nested:
    required: bool
    nesting: str  # the generator's kind: "list", "set" or "struct" (a single block)
    block: Block


@dataclass(frozen=True)
class Provider:
    """Resource and data-source schemas of one provider version (raw JSON, parsed on demand)."""

    name: str
    version: str
    raw_resources: Mapping[str, Any]
    raw_data: Mapping[str, Any]

    def resource(self, rtype: str) -> Block | None:
        return _parse(self.name, "resource", rtype, self.raw_resources.get(rtype))

    def data(self, rtype: str) -> Block | None:
        return _parse(self.name, "data", rtype, self.raw_data.get(rtype))

    def readable(self, kind: str, rtype: str) -> Mapping[str, Any] | None:
        """Attributes a reference may read (inputs and computed), nested {name: {...}}."""
        raw = (self.raw_resources if kind == "resource" else self.raw_data).get(rtype)
        return None if raw is None else raw.get("r", {})


_parsed: dict[tuple[str, str, str], Block] = {}


def _parse(provider: str, kind: str, rtype: str, raw: Any) -> Block | None:
    if raw is None:
        return None
    key = (provider, kind, rtype)
    if key not in _parsed:
        _parsed[key] = Block.from_json(raw)
    return _parsed[key]


# --------------------------------------------------------------------------------------------
# Install (idempotent, stamped) and cache
# --------------------------------------------------------------------------------------------


def _lock_digest() -> str:
    return hashlib.sha256(LOCK.read_bytes()).hexdigest()[:12]


def _stamp() -> Path:
    return NODE_MODULES / f".gtp-installed-{_lock_digest()}"


def cache_file() -> Path:
    return NODE_MODULES / f".gtp-schema-{_lock_digest()}-v{FORMAT}.json"


def ensure_installed() -> str | None:
    """`npm ci` once per package-lock.json (a stamp records it); return why it cannot, or None."""
    if _stamp().exists():
        return None
    if shutil.which("node") is None or shutil.which("npm") is None:
        return (
            "node/npm not found (needed to install the provider schemas in tools/provider_schema)"
        )
    try:
        done = subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=HERE,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return f"`npm ci` in {HERE} took over 10 minutes; run it by hand to see why"
    if done.returncode != 0:
        return f"`npm ci` in {HERE} failed: {done.stderr.strip()[-500:]}"
    for old in NODE_MODULES.glob(".gtp-installed-*"):
        old.unlink()
    _stamp().touch()
    return None


@cache
def load() -> dict[str, Provider]:
    """Every pinned provider's schemas: from the JSON cache, else extracted (and cached)."""
    return {
        name: Provider(name, p["version"], p["resource"], p["data"])
        for name, p in load_raw().items()
    }


def load_raw() -> dict[str, Any]:
    """{provider: {"version", "resource", "data", "provider"}} as extracted (JSON, cached)."""
    reason = ensure_installed()
    if reason is not None:
        raise RuntimeError(reason)
    cached = cache_file()
    if cached.exists():
        table = json.loads(cached.read_text(encoding="utf-8"))
    else:
        table = {name: extract_package(NODE_MODULES / pkg) for name, pkg in PACKAGES.items()}
        for old in NODE_MODULES.glob(".gtp-schema-*.json"):
            old.unlink()
        tmp = cached.with_suffix(f".{os.getpid()}.tmp")  # concurrent test runs
        tmp.write_text(json.dumps(table, separators=(",", ":")), encoding="utf-8")
        tmp.replace(cached)
    return table  # type: ignore[no-any-return]


# --------------------------------------------------------------------------------------------
# Extraction from the generated JS + .d.ts
# --------------------------------------------------------------------------------------------

_HCL_FN = re.compile(r"^function (\w+)ToHclTerraform\(struct\) \{\n(.*?)^\}$", re.M | re.S)
_SYNTH = re.compile(r"^    synthesizeHclAttributes\(\) \{\n(.*?)^    \}$", re.M | re.S)
_ENTRY = re.compile(
    r"^\s+(\w+): \{\n\s+value: (.*?),\n\s+isBlock: (true|false),\n\s+type: \"(\w+)\","
    r"(?:\n\s+storageClassType: \"(\w+)\",)?",
    re.M,
)
_CHILD = re.compile(r"(?<![\w$])(?<!cdktf\.)([a-z]\w*)ToHclTerraform\b")
_CAMEL = re.compile(r"(?:struct|this)\.(?:_)?(\w+)")
_CLASS = re.compile(r"^class (\w+) extends cdktf\.Terraform(Resource|DataSource) \{", re.M)
_TYPE = re.compile(r"terraformResourceType: '([\w-]+)'")
_PROVIDER_VERSION = re.compile(r"providerVersion: '([^']+)'")
_CLASS_BODY = re.compile(r"^class (\w+) extends [\w.]+ \{\n(.*?)^\}$", re.M | re.S)
_GETTER = re.compile(r"(?:get\w*Attribute|interpolationForAttribute)\('(\w+)'\)")
_CHILD_REF = re.compile(r"new ([\w.]+)\(this, \"(\w+)\"")
_DTS_FN = re.compile(r"^export declare function (\w+)ToHclTerraform\(struct\??: ([^)]*)\)", re.M)
_DTS_IFACE = re.compile(r"^export interface (\w+)(?: extends [\w.]+)? \{\n(.*?)^\}$", re.M | re.S)
_DTS_PROP = re.compile(r"(?:/\*\*((?:(?!\*/).)*)\*/\s*)?^    readonly (\w+)(\??):", re.M | re.S)
_CHOICES = re.compile(r"Possible values: (\[[^\]]*\])")
_DTS_CTOR = re.compile(r"constructor\(scope: Construct, id: string, config\??: (\w+)\);")


def _read(path: Path) -> str:
    """A generated file without its inline source map (the bulk of every file)."""
    text = path.read_text(encoding="utf-8")
    cut = text.find("\n//# sourceMappingURL=")
    return text if cut < 0 else text[:cut]


def _prop(doc: str | None, optional: str) -> tuple[bool, list[str] | None]:
    """(required?, allowed values or None) of one interface property from its TSDoc."""
    found = _CHOICES.search(" ".join((doc or "").split()))
    allowed: list[str] | None = None
    if found:
        try:
            allowed = [str(v) for v in json.loads(found.group(1))]
        except ValueError:
            allowed = None
    return optional == "", allowed


def _entries(body: str) -> Iterator[tuple[str, str, bool, str, str]]:
    for m in _ENTRY.finditer(body):
        yield m.group(1), m.group(2), m.group(3) == "true", m.group(4), m.group(5) or ""


# cty type (Terraform's JSON type notation) of an argument from the generator's storage class.
_SCALARS = {"string": "string", "number": "number", "boolean": "bool"}
_COLLECTIONS = {"stringList": "string", "numberList": "number", "booleanList": "bool"}
_MAPS = {"stringMap": "string", "numberMap": "number", "booleanMap": "bool"}
# Getter (computed-only attributes) -> cty type.
_GETTER_TYPES: dict[str, Any] = {
    "getStringAttribute": "string",
    "getNumberAttribute": "number",
    "getBooleanAttribute": "bool",
    "getListAttribute": ["list", "string"],
    "getNumberListAttribute": ["list", "number"],
    "getStringMapAttribute": ["map", "string"],
    "getNumberMapAttribute": ["map", "number"],
    "getBooleanMapAttribute": ["map", "bool"],
}
_CDKTF_TYPES: dict[str, Any] = {
    "StringMap": ["map", "string"],
    "NumberMap": ["map", "number"],
    "BooleanMap": ["map", "bool"],
    "AnyMap": ["map", "dynamic"],
    "StringMapList": ["list", ["map", "string"]],
    "NumberMapList": ["list", ["map", "number"]],
    "BooleanMapList": ["list", ["map", "bool"]],
}
# The generator's comment above every computed-only getter and nested object: `// name -
# computed: true, optional: false, required: false`, then the getter or the child object.
_COMPUTED = re.compile(
    r"// (\w+) - computed: true, optional: false, required: false\n\s+"
    r"(?:get \w+\(\) \{\n\s+return this\.(\w+)\('\w+'\)"
    r"|this\._\w+ = new ([\w.]+)\(this, \"\w+\")"
)


class _Folder:
    """One resource's generated files: its block functions, interfaces and the class."""

    def __init__(self, folder: Path) -> None:
        js = "\n".join(_read(p) for p in sorted(folder.rglob("*.js")))
        dts = "\n".join(_read(p) for p in sorted(folder.rglob("*.d.ts")))
        self.js = js
        self.functions = {m.group(1): m.group(2) for m in _HCL_FN.finditer(js)}
        self.interfaces: dict[str, dict[str, tuple[bool, list[str] | None]]] = {
            m.group(1): {
                p.group(2): _prop(p.group(1), p.group(3)) for p in _DTS_PROP.finditer(m.group(2))
            }
            for m in _DTS_IFACE.finditer(dts)
        }
        self.fn_struct: dict[str, str] = {}
        for m in _DTS_FN.finditer(dts):
            kinds = [t.strip() for t in m.group(2).split("|")]
            plain = [t for t in kinds if "." not in t and not t.endswith("OutputReference")]
            if plain:
                self.fn_struct[m.group(1)] = plain[0]
        self.classes = {m.group(1): m.group(2) for m in _CLASS_BODY.finditer(js)}
        cls = _CLASS.search(js)
        rtype = _TYPE.search(js)
        synth = _SYNTH.search(js)
        ctor = _DTS_CTOR.search(dts)
        version = _PROVIDER_VERSION.search(js)
        self.kind = cls.group(2) if cls else None
        self.rtype = rtype.group(1) if rtype else None
        self.top = synth.group(1) if synth else None
        self.config = ctor.group(1) if ctor else None
        self.version = version.group(1) if version else None

    def block(self, body: str, iface: str | None, seen: frozenset[str]) -> dict[str, Any]:
        required = self.interfaces.get(iface or "", {})
        attrs: dict[str, bool] = {}
        blocks: dict[str, Any] = {}
        choices: dict[str, list[str]] = {}
        types: dict[str, Any] = {}
        for name, value, is_block, kind, storage in _entries(body):
            camel = _CAMEL.search(value)
            req, allowed = required.get(camel.group(1), (False, None)) if camel else (False, None)
            if allowed is not None:
                choices[name] = allowed
            child = _CHILD.search(value)
            fn = child.group(1) if child else ""
            if is_block and child and fn not in seen:
                inner = self.block(self.functions.get(fn, ""), self.fn_struct.get(fn), seen | {fn})
                computed = self.computed(fn[:1].upper() + fn[1:] + "OutputReference", seen | {fn})
                if computed:
                    inner["c"] = computed
                blocks[name] = [req, kind, inner]
            else:
                attrs[name] = req
                types[name] = self.arg_type(kind, storage, fn, seen)
        out: dict[str, Any] = {"a": attrs, "b": blocks, "t": types}
        if choices:
            out["e"] = choices
        return out

    def arg_type(self, kind: str, storage: str, fn: str, seen: frozenset[str]) -> Any:
        """The cty type of one argument (not a block)."""
        if kind == "simple":
            return _SCALARS.get(storage, "string")
        if kind == "map":
            return ["map", _MAPS.get(storage, "string")]
        element: Any = _COLLECTIONS.get(storage)
        if element is None and fn and fn not in seen:
            inner = self.block(self.functions.get(fn, ""), self.fn_struct.get(fn), seen | {fn})
            element = ["object", inner["t"]]
        element = element or "string"
        return element if kind == "struct" else [kind if kind == "set" else "list", element]

    def computed(self, cls: str, seen: frozenset[str]) -> dict[str, Any]:
        """Computed-only attributes of one class (a resource, or one nested object) -> cty type."""
        found: dict[str, Any] = {}
        for m in _COMPUTED.finditer(self.classes.get(cls, "")):
            name, getter, child = m.groups()
            if getter:
                found[name] = _GETTER_TYPES.get(getter, "dynamic")
            elif child.startswith("cdktf."):
                found[name] = _CDKTF_TYPES.get(child[6:], "dynamic")
            else:
                ref = re.sub(r"List$", "OutputReference", child)
                inner = {} if ref in seen else self.computed(ref, seen | {ref})
                plain = self.plain_getters(ref)
                element = ["object", {**plain, **inner}]
                found[name] = ["list", element] if child.endswith("List") else element
        return found

    def plain_getters(self, cls: str) -> dict[str, Any]:
        """Scalar getters of a nested computed object's class (all of them are computed)."""
        body = self.classes.get(cls, "")
        return {
            m.group(2): _GETTER_TYPES.get(m.group(1), "dynamic")
            for m in re.finditer(r"return this\.(get\w+Attribute)\('(\w+)'\)", body)
        }

    def readable(self, cls: str, seen: frozenset[str]) -> dict[str, Any]:
        """What `type.name.x[.y]` may read: the getters of the class behind each level."""
        body = self.classes.get(cls, "")
        names: dict[str, Any] = {name: {} for name in _GETTER.findall(body)}
        for child, name in _CHILD_REF.findall(body):
            if child.startswith("cdktf."):
                names[name] = {}
                continue
            child = re.sub(r"List$", "OutputReference", child)
            names[name] = {} if child in seen else self.readable(child, seen | {child})
        return names

    def schema(self) -> dict[str, Any] | None:
        if self.top is None:
            return None
        top = self.block(self.top, self.config, frozenset())
        cls = _CLASS.search(self.js)
        if cls:
            top["r"] = self.readable(cls.group(1), frozenset({cls.group(1)}))
            top["c"] = self.computed(cls.group(1), frozenset({cls.group(1)}))
        return top


def extract_package(package: Path) -> dict[str, Any]:
    """{"version", "resource": {type: block}, "data": {type: block}} for one bindings package."""
    resources: dict[str, Any] = {}
    data: dict[str, Any] = {}
    version = ""
    provider: dict[str, Any] = {"a": {}, "b": {}, "t": {}}
    for folder in sorted(p for p in (package / "lib").iterdir() if p.is_dir()):
        parsed = _Folder(folder)
        if folder.name == "provider" and parsed.top is not None:
            provider = parsed.block(parsed.top, parsed.config, frozenset())
            continue
        if parsed.rtype is None or parsed.kind is None:
            continue  # a helper folder
        schema = parsed.schema()
        if schema is None:
            continue
        (resources if parsed.kind == "Resource" else data)[parsed.rtype] = schema
        version = version or (parsed.version or "")
    return {"version": version, "resource": resources, "data": data, "provider": provider}


# --------------------------------------------------------------------------------------------
# Checking python-hcl2 bodies against a schema
# --------------------------------------------------------------------------------------------


def _is_block(value: Any) -> bool:
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(v, dict) and v.get("__is_block__") for v in value)
    )


def _unquote(label: str) -> str:
    return label[1:-1] if len(label) >= 2 and label[0] == label[-1] == '"' else label


_TERNARY = re.compile(r'^\$\{[^?]+\? "([^"$]*)" : "([^"$]*)"\}$')


def _literals(value: Any, variables: Mapping[str, list[str]]) -> list[str]:
    """The string constants an argument can take: a literal, both arms of `c ? "a" : "b"`, or
    the default and `contains([...], var.x)` choices of a plain `var.x`."""
    if not isinstance(value, str):
        return []
    if len(value) >= 2 and value[0] == value[-1] == '"' and "${" not in value:
        return [json.loads(value)]
    var = _VAR.match(value)
    if var:
        return list(variables.get(var.group(1), []))
    arms = _TERNARY.match(value)
    return list(arms.groups()) if arms else []


_VAR = re.compile(r"^\$\{var\.(\w+)\}$")
_CONTAINS = re.compile(r"contains\((\[[^\]]*\]), var\.(\w+)\)")


def variable_values(variables: Mapping[str, Mapping[str, Any]]) -> dict[str, list[str]]:
    """Per python-hcl2 `variable` body: its string default and the values its validation allows."""
    table: dict[str, list[str]] = {}
    for name, body in variables.items():
        values: list[str] = []
        default = body.get("default")
        if isinstance(default, str) and default[:1] == '"' and "${" not in default:
            values.append(json.loads(default))
        for rule in body.get("validation", []):
            for m in _CONTAINS.finditer(str(rule.get("condition", ""))):
                if m.group(2) == name:
                    with contextlib.suppress(ValueError):
                        values += [v for v in json.loads(m.group(1)) if isinstance(v, str)]
        table[name] = values
    return table


def _hint(name: str, block: Block) -> str:
    close = difflib.get_close_matches(name, block.names(), n=1)
    return f"did you mean `{close[0]}`?" if close else f"allowed: {', '.join(block.names())}"


def check_body(
    schema: Block,
    body: Mapping[str, Any],
    where: str,
    meta: frozenset[str] = frozenset(),
    variables: Mapping[str, list[str]] | None = None,
) -> list[str]:
    """Problems with one python-hcl2 block body at `where` (e.g. `google_x.y: a.b`).

    `variables` (from variable_values) lets an enum argument set from `var.x` be checked too.
    """
    variables = variables or {}
    problems: list[str] = []
    present: set[str] = set()
    for key, value in body.items():
        if key.startswith("__") or key in meta:
            continue
        if key == "dynamic":
            for entry in value:
                for label, dyn in entry.items():
                    name = _unquote(label)
                    present.add(name)
                    nested = schema.blocks.get(name)
                    if nested is None:
                        problems.append(
                            f'{where}: dynamic "{name}" is not a block here; {_hint(name, schema)}'
                        )
                        continue
                    extra = sorted(
                        k for k in dyn if not k.startswith("__") and k not in DYNAMIC_KEYS
                    )
                    if extra:
                        problems.append(f'{where}: dynamic "{name}" has unknown keys {extra}')
                    for content in dyn.get("content", []):
                        problems += check_body(
                            nested.block, content, f"{where}.{name}", variables=variables
                        )
            continue
        present.add(key)
        if key in schema.attributes:
            if _is_block(value):
                problems.append(f"{where}: `{key}` is an argument: write `{key} = ...`")
            allowed = schema.choices.get(key)
            bad = [
                v for v in _literals(value, variables) if allowed is not None and v not in allowed
            ]
            if allowed is not None and bad:
                problems.append(f"{where}: `{key}` = {bad[0]!r} is not one of {list(allowed)}")
        elif key in schema.blocks:
            if not _is_block(value):
                problems.append(f"{where}: `{key}` is a block: write `{key} {{ ... }}`")
                continue
            for item in value:
                problems += check_body(
                    schema.blocks[key].block, item, f"{where}.{key}", variables=variables
                )
        else:
            problems.append(f"{where}: unknown argument or block `{key}`; {_hint(key, schema)}")
    missing = [n for n, req in schema.attributes.items() if req and n not in present]
    missing += [n for n, b in schema.blocks.items() if b.required and n not in present]
    if missing:
        problems.append(f"{where}: missing required {', '.join(sorted(missing))}")
    return problems


def provider_of(rtype: str, body: Mapping[str, Any]) -> str:
    """The provider local name a block uses: its `provider = x[.alias]`, else the type prefix."""
    chosen = body.get("provider")
    if isinstance(chosen, str):
        return chosen.strip('"${}').split(".", 1)[0]
    return rtype.split("_", 1)[0]


def check_block(
    kind: str,
    rtype: str,
    name: str,
    body: Mapping[str, Any],
    variables: Mapping[str, list[str]] | None = None,
) -> list[str]:
    """Problems with one `resource`/`data` block: unknown type, names, required arguments."""
    where = f"{'data.' if kind == 'data' else ''}{rtype}.{name}"
    if kind == "resource" and rtype in BUILTIN_TYPES:
        return []
    providers = load()
    pname = provider_of(rtype, body)
    provider = providers.get(pname)
    if provider is None:
        return [f"{where}: provider `{pname}` is not one of the checked {sorted(providers)}"]
    schema = provider.resource(rtype) if kind == "resource" else provider.data(rtype)
    if schema is None:
        table = provider.raw_resources if kind == "resource" else provider.raw_data
        close = difflib.get_close_matches(rtype, list(table), n=1)
        hint = f"; did you mean `{close[0]}`?" if close else ""
        return [f"{where}: {pname} {provider.version} has no {kind} type `{rtype}`{hint}"]
    meta = RESOURCE_META if kind == "resource" else DATA_META
    return check_body(schema, body, where, meta, variables)


def check_folder(folder: Path) -> list[str]:
    """Every `resource` and `data` block of the *.tf files in one module folder."""
    import hcl2  # dev dependency: only the checker reads HCL

    docs: dict[str, Any] = {}
    for tf in sorted(folder.glob("*.tf")):
        with tf.open(encoding="utf-8") as fh:
            docs[tf.name] = hcl2.load(fh)
    declared = {
        _unquote(n): body
        for doc in docs.values()
        for entry in doc.get("variable", [])
        for n, body in entry.items()
    }
    variables = variable_values(declared)
    blocks = {
        (kind, _unquote(rtype), _unquote(name)): provider_of(_unquote(rtype), body)
        for doc in docs.values()
        for kind in ("resource", "data")
        for entry in doc.get(kind, [])
        for rtype, named in entry.items()
        for name, body in named.items()
    }
    problems: list[str] = []
    for tf in sorted(folder.glob("*.tf")):
        found = check_references(tf.read_text(encoding="utf-8"), blocks)
        problems += [f"{tf.name}: {p}" for p in found]
    for tf_name, doc in docs.items():
        for kind in ("resource", "data"):
            for entry in doc.get(kind, []):
                for rtype, named in entry.items():
                    for name, body in named.items():
                        found = check_block(kind, _unquote(rtype), _unquote(name), body, variables)
                        problems += [f"{tf_name}: {p}" for p in found]
    return problems


_REFERENCE = re.compile(
    r"(?<![\w.])(data\.)?([a-z][a-z0-9_]*)\.([a-z0-9_-]+)(?:\[[^\]]*\])?"
    r"\.([a-z0-9_]+)(?:\[[^\]]*\])?(?:\.([a-z0-9_]+))?"
)


def check_references(text: str, declared: Mapping[tuple[str, str, str], str]) -> list[str]:
    """`type.name.attr[.nested]` reads in `text` of attributes the type does not have.

    `declared` maps (kind, type, name) of the module's blocks to their provider local name.
    """
    providers = load()
    problems: list[str] = []
    for m in _REFERENCE.finditer(text):
        kind = "data" if m.group(1) else "resource"
        key = (kind, m.group(2), m.group(3))
        provider = providers.get(declared.get(key, ""))
        if provider is None:
            continue
        readable = provider.readable(kind, m.group(2))
        if not readable:
            continue
        address = f"{m.group(1) or ''}{m.group(2)}.{m.group(3)}"
        attr, nested = m.group(4), m.group(5)
        if attr not in readable:
            close = difflib.get_close_matches(attr, list(readable), n=1)
            hint = f"; did you mean `{close[0]}`?" if close else ""
            problems.append(f"{address}: reads `{attr}`, which {m.group(2)} does not have{hint}")
        elif nested and readable[attr] and nested not in readable[attr]:
            problems.append(f"{address}: reads `{attr}...{nested}`, which does not exist")
    return problems


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) >= 2 and args[0] == "check":
        empty = [d for d in args[1:] if not any(Path(d).glob("*.tf"))]
        if empty:
            print(
                f"no *.tf files in {', '.join(empty)}: pass Terraform module folders",
                file=sys.stderr,
            )
            return 2
        try:
            load()
        except RuntimeError as exc:
            print(f"cannot load the provider schemas: {exc}", file=sys.stderr)
            return 2
        problems = [f"{d}/{p}" for d in args[1:] for p in check_folder(Path(d))]
        print("\n".join(problems) if problems else "no problems")
        return 1 if problems else 0
    if len(args) == 2 and args[0] == "show":
        for provider in load().values():
            for kind, table in (("resource", provider.raw_resources), ("data", provider.raw_data)):
                if args[1] in table:
                    print(f"# {provider.name} {provider.version} {kind}")
                    print(json.dumps(table[args[1]], indent=1))
        return 0
    print("usage: provider_schema.py check DIR... | show TYPE", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
