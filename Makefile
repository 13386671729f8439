# Two commands for a new user: `make demo` and `make test`. Both create .venv themselves.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install demo test check lint typecheck unit bench clean

# Extra checks hook in from mk/*.mk: a fragment appends its target to TEST_EXTRA (run by
# `make test`) or BENCH_EXTRA (run by `make bench`).
TEST_EXTRA  :=
BENCH_EXTRA :=
-include mk/*.mk

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required (found %s); set PYTHON=python3.11" % sys.version.split()[0])'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install -q --disable-pip-version-check -e '.[gcp,dev,xlsx]'
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/gemini-tuning demo

lint: $(STAMP)
	$(BIN)/ruff check shared functions tests bench examples infra/smoke
	$(BIN)/ruff format --check shared functions tests bench examples infra/smoke

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest -q

test: lint typecheck $(TEST_EXTRA) unit

# The quick loop while working: lint, types and every test not marked slow (the e2e, infra and
# contract suites are; conftest.py marks them), on two workers (pytest-xdist). `make test` runs
# everything, in one process.
check: lint typecheck
	$(BIN)/pytest -q -p no:cacheprovider -m "not slow" -n 2

bench: $(STAMP) $(BENCH_EXTRA)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build *.egg-info
