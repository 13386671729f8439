"""Top-level pytest configuration: registers the contract suites' backend fixture modules.

pytest only honours `pytest_plugins` in the root conftest; see tests/contract/conftest.py.
"""

from pathlib import Path

import pytest

pytest_plugins = ["tests.contract.backend_local", "tests.contract.backend_gcp"]

#: Suites that start servers, emulators, subprocesses or terraform: marked `slow`, so
#: `make check` (`pytest -m "not slow"`) stays quick and `make test` still runs them.
_SLOW_SUITES = ("tests/e2e/", "tests/infra/", "tests/contract/")
_ROOT = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        rel = Path(str(item.path)).relative_to(_ROOT).as_posix()
        if rel.startswith(_SLOW_SUITES):
            item.add_marker(pytest.mark.slow)
