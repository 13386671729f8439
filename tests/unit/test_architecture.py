"""The arrows of docs/ARCHITECTURE.md, checked on every import (lazy ones inside functions too).

    functions → pipeline → ports ← adapters (gcp, local, simulator)
                      ↘ domain ↙
    composition → adapters          host → functions, composition, pipeline
    cli → anything but functions

A layer may import only the layers listed for it in `ALLOWED`; a new module must be placed in a
layer (an unplaced module fails the test, so nothing slips in between the rules).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

#: Module prefix -> layer (longest prefix wins).
LAYER_OF: dict[str, str] = {
    "shared.errors": "domain",
    "shared.bounds": "domain",
    "shared.clock": "domain",
    "shared.runs": "domain",
    "shared.tuning_config": "domain",
    "shared.settings": "domain",
    "shared.events": "domain",
    "shared.ports": "domain",
    "shared.routes": "domain",
    "shared.catalog": "domain",
    "shared.charts": "domain",
    "shared.notify": "domain",
    "shared.logs": "domain",
    "shared.status": "domain",  # a package: view, terminal, html_page, http_answer
    "shared.datasets": "domain",
    "shared.evaluation": "domain",
    "shared.prepare": "domain",
    "shared": "domain",  # the package's own __init__
    "shared.pipeline": "pipeline",
    "shared.gcp": "adapters",
    "shared.local": "adapters",
    "shared.simulator": "adapters",
    "shared.composition": "composition",
    "shared.host": "host",
    "shared.commands": "cli",
    "shared.cli": "cli",
    "functions": "functions",
}

ALLOWED: dict[str, frozenset[str]] = {
    "domain": frozenset({"domain"}),
    "pipeline": frozenset({"domain", "pipeline"}),
    "adapters": frozenset({"domain", "adapters"}),
    "composition": frozenset({"domain", "adapters", "composition"}),
    "functions": frozenset({"domain", "pipeline", "composition"}),
    "host": frozenset({"domain", "pipeline", "adapters", "composition", "host"}),
    "cli": frozenset({"domain", "pipeline", "adapters", "composition", "host", "cli"}),
}
#: Cloud client libraries: only the gcp adapters (and the functions framework's own types in
#: functions/) may import them.
CLOUD_CLIENTS = ("google.cloud", "google.api_core", "google.auth", "vertexai")


def layer_of(module: str) -> str | None:
    if module == "shared":  # the package itself; `shared.x` must be placed on its own
        return LAYER_OF["shared"]
    best = None
    for prefix in LAYER_OF:
        if prefix == "shared":
            continue
        if (module == prefix or module.startswith(prefix + ".")) and (
            best is None or len(prefix) > len(best)
        ):
            best = prefix
    return None if best is None else LAYER_OF[best]


def module_name(path: Path) -> str:
    rel = path.relative_to(REPO).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    if parts[0] == "functions":  # functions/<name>/main.py is not a package
        return f"functions.{parts[1]}"
    return ".".join(parts)


def imports_of(source: str, module: str, is_package: bool) -> Iterator[tuple[int, str]]:
    """Every module `source` imports (absolute names), with its line."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                keep = len(base) - node.level + (1 if is_package else 0)
                prefix = ".".join(base[:keep])
                target = f"{prefix}.{node.module}" if node.module else prefix
            else:
                target = node.module or ""
            yield node.lineno, target
            for alias in node.names:  # `from shared import composition` names a module
                yield node.lineno, f"{target}.{alias.name}"


def violations(path: Path, source: str) -> list[str]:
    module = module_name(path)
    layer = layer_of(module)
    if layer is None:
        return [f"{path.relative_to(REPO)}: module {module} is in no layer (add it to LAYER_OF)"]
    out = []
    for line, target in imports_of(source, module, path.name == "__init__.py"):
        where = f"{path.relative_to(REPO)}:{line}"
        if target.startswith(CLOUD_CLIENTS) and layer != "adapters":
            out.append(f"{where}: {layer} imports the cloud client {target}")
            continue
        if not (target == "shared" or target.startswith("shared.")):
            continue
        dst = layer_of(target)
        if dst is None:
            continue  # `from shared import x` where x is a name, not a module: checked as x
        if dst not in ALLOWED[layer]:
            out.append(f"{where}: {layer} ({module}) imports {dst} ({target})")
    return out


def sources() -> Iterator[Path]:
    yield from sorted((REPO / "shared").rglob("*.py"))
    yield from sorted((REPO / "functions").glob("*/main.py"))


def test_every_import_points_the_allowed_way() -> None:
    found = [v for p in sources() for v in violations(p, p.read_text(encoding="utf-8"))]
    assert not found, "imports against docs/ARCHITECTURE.md:\n" + "\n".join(found)


@pytest.mark.parametrize(
    ("path", "source", "expected"),
    [
        ("shared/pipeline/launch.py", "from shared.gcp.vertex import VertexTuner\n", "adapters"),
        ("shared/pipeline/poll.py", "def f():\n    from shared.local import store\n", "adapters"),
        ("shared/local/store.py", "from shared.pipeline import transitions\n", "pipeline"),
        ("shared/gcp/firestore.py", "from shared.composition import instance\n", "composition"),
        ("shared/runs.py", "from .pipeline import launch\n", "pipeline"),
        ("shared/pipeline/launch.py", "from google.cloud import storage\n", "cloud client"),
        ("functions/launcher/main.py", "from shared.simulator import SimulatedTuner\n", "adapters"),
        ("shared/simulator/tuner.py", "from shared.host import runtime\n", "host"),
    ],
)
def test_the_checker_catches_an_arrow_pointing_up(path: str, source: str, expected: str) -> None:
    found = violations(REPO / path, source)
    assert found and expected in found[0]


def test_a_new_module_must_be_placed_in_a_layer() -> None:
    found = violations(REPO / "shared/newthing.py", "import json\n")
    assert found and "in no layer" in found[0]


def test_the_checker_accepts_the_allowed_arrows() -> None:
    ok = "from shared.ports import Deps\nfrom shared.runs import Run\nfrom . import transitions\n"
    assert violations(REPO / "shared/pipeline/launch.py", ok) == []
    assert violations(REPO / "shared/simulator/jobs.py", "from shared.local import sqlite\n") == []


def import_graph() -> dict[str, set[str]]:
    """Module -> the project modules it imports (lazy and TYPE_CHECKING imports too). `from pkg
    import mod` is an edge to `mod` alone: a package's `__init__` runs first whichever module of
    it is imported, so that edge says nothing about the design."""
    paths = {module_name(p): p for p in sources()}
    graph: dict[str, set[str]] = {}
    for name, path in paths.items():
        found = {t for _, t in imports_of(path.read_text(encoding="utf-8"), name, False)}
        graph[name] = {
            t
            for t in found
            if t in paths
            and t != name
            and not any(o.startswith(t + ".") and o in paths for o in found)
        }
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The import cycles of `graph` (its strongly connected components of more than one module)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_no_module_imports_a_module_that_imports_it_back() -> None:
    found = cycles(import_graph())
    assert not found, "import cycles (move the shared part into its own module):\n" + "\n".join(
        " <-> ".join(c) for c in found
    )


def test_the_cycle_check_finds_a_lazy_circle() -> None:
    graph = {"a.validator": {"a.parallel"}, "a.parallel": {"a.validator"}, "a.x": {"a.validator"}}
    assert cycles(graph) == [["a.parallel", "a.validator"]]
