"""Top-level pytest configuration: registers the contract suites' backend fixture modules.

pytest only honours `pytest_plugins` in the root conftest; see tests/contract/conftest.py.
"""

pytest_plugins = ["tests.contract.backend_local", "tests.contract.backend_gcp"]
