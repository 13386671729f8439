"""Each function's requirements.txt (what Cloud Build installs for it) pins exactly what
pyproject.toml pins: one version of each library in the repository, so a bump in one place
that misses the other fails here instead of shipping two versions."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1].parent
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;#]+)$")


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(lines: list[str], where: str) -> dict[str, str]:
    """name -> version of `name==version` lines; anything else is an error naming `where`."""
    out: dict[str, str] = {}
    for line in lines:
        m = _PIN.match(line.split(" #")[0].strip())
        assert m, f"{where}: {line!r} is not an exact pin (name==version)"
        out[_norm(m.group(1))] = m.group(2)
    return out


def project_pins() -> dict[str, str]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    deps = [*project["dependencies"], *project["optional-dependencies"]["gcp"]]
    return pins(deps, "pyproject.toml")


def requirement_lines(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8").splitlines()
    return [x.strip() for x in text if x.strip() and not x.lstrip().startswith("#")]


FUNCTIONS = sorted(p.parent.name for p in (REPO / "functions").glob("*/requirements.txt"))


def test_there_are_seven_functions() -> None:
    assert len(FUNCTIONS) == 7, FUNCTIONS


@pytest.mark.parametrize("name", FUNCTIONS)
def test_requirements_pin_what_pyproject_pins(name: str) -> None:
    path = REPO / "functions" / name / "requirements.txt"
    theirs = pins(requirement_lines(path), f"functions/{name}/requirements.txt")
    ours = project_pins()
    differ = {
        n: (v, ours.get(n, "not in pyproject.toml")) for n, v in theirs.items() if ours.get(n) != v
    }
    assert not differ, f"functions/{name}/requirements.txt vs pyproject.toml: {differ}"


def test_the_check_catches_a_drifted_pin() -> None:
    ours = project_pins()
    name, version = next(iter(ours.items()))
    drifted = pins([f"{name}=={version}.1"], "x")
    assert drifted[name] != ours[name]
    with pytest.raises(AssertionError, match="not an exact pin"):
        pins([f"{name}>={version}"], "x")
