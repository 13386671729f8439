"""tools/package_function.py: the zip layout Cloud Functions expects, the same file set as the
Terraform module, deterministic bytes, and clear messages for a broken function folder."""

from __future__ import annotations

import importlib.util
import sys
import zipfile
from pathlib import Path
from types import ModuleType

import pytest

from tests.infra.hcl import FUNCTION_MODULE, REPO, literal, load

FUNCTION_NAMES = sorted(p.parent.name for p in (REPO / "functions").glob("*/main.py"))


def _load_tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "package_function", REPO / "tools" / "package_function.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


pf = _load_tool()


def test_exclude_rule_is_the_terraform_modules() -> None:
    assert literal(load(FUNCTION_MODULE).locals["exclude"]) == pf.EXCLUDE


@pytest.mark.parametrize("name", FUNCTION_NAMES)
def test_zip_holds_the_function_at_the_root_and_shared_as_a_package(
    name: str, tmp_path: Path
) -> None:
    out = pf.build_zip(name, tmp_path / f"{name}.zip")
    with zipfile.ZipFile(out) as zf:
        names = set(zf.namelist())
        for member in names:
            # archive_file reads each file with Terraform's file(): text (UTF-8) only.
            zf.read(member).decode("utf-8")
    assert {
        "main.py",
        "requirements.txt",
        "shared/__init__.py",
        "shared/settings.py",
        "shared/tuning_config.py",
    } <= names
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    assert not [n for n in names if n.startswith(("tests/", "functions/"))]
    shared_on_disk = {
        "shared/" + p.relative_to(REPO / "shared").as_posix()
        for p in (REPO / "shared").rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
    }
    assert shared_on_disk <= names, sorted(shared_on_disk - names)


def _fake_repo(root: Path) -> Path:
    (root / "shared" / "__pycache__").mkdir(parents=True)
    (root / "shared" / "tests").mkdir()
    (root / "shared" / "__init__.py").write_text("")
    (root / "shared" / "data.json").write_text("{}")
    (root / "shared" / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"\0")
    (root / "shared" / "tests" / "test_x.py").write_text("")
    (root / "shared" / ".hidden").write_text("")
    fn = root / "functions" / "demo"
    fn.mkdir(parents=True)
    (fn / "main.py").write_text("x = 1\n")
    (fn / "main_test.py").write_text("")
    (fn / "requirements.txt").write_text("functions-framework==3.10.2\n")
    return root


def test_exclusions_and_determinism(tmp_path: Path) -> None:
    root = _fake_repo(tmp_path / "repo")
    assert list(pf.collect_files("demo", root)) == [
        "main.py",
        "requirements.txt",
        "shared/__init__.py",
        "shared/data.json",
    ]
    a = pf.build_zip("demo", tmp_path / "a.zip", root).read_bytes()
    (root / "functions" / "demo" / "main.py").touch()  # a new mtime alone changes nothing
    b = pf.build_zip("demo", tmp_path / "b.zip", root).read_bytes()
    assert a == b


def test_unknown_function_lists_the_known_ones(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = _fake_repo(tmp_path / "repo")
    assert pf.main(["nosuch", "--root", str(root), "--out-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "no folder functions/nosuch/" in err and "Known functions: demo" in err
    assert "Traceback" not in err


def test_missing_requirements_says_what_a_function_needs(tmp_path: Path) -> None:
    root = _fake_repo(tmp_path / "repo")
    (root / "functions" / "demo" / "requirements.txt").unlink()
    with pytest.raises(pf.PackagingError, match=r"lacks requirements\.txt"):
        pf.collect_files("demo", root)


def test_all_packages_every_function(tmp_path: Path) -> None:
    root = _fake_repo(tmp_path / "repo")
    assert pf.main(["--all", "--root", str(root), "--out-dir", str(tmp_path / "out")]) == 0
    assert (tmp_path / "out" / "demo.zip").is_file()
