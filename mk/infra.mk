# Infrastructure checks that run without a cloud account (Terraform itself runs in Cloud Build):
#   make infra-check   checkov over infra/ + the wiring and packaging tests in tests/infra
# checkov pins many libraries of its own, so it lives in its own venv, created once.
CHECKOV_VERSION := 3.3.30
CHECKOV_VENV    := .venv-checkov
CHECKOV_STAMP   := $(CHECKOV_VENV)/.installed-$(CHECKOV_VERSION)

.PHONY: checkov infra-check infra-package

$(CHECKOV_STAMP):
	@test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install -q --disable-pip-version-check 'checkov==$(CHECKOV_VERSION)'
	@touch $(CHECKOV_STAMP)

# --skip-download / BC_SKIP_MAPPING: no calls to the vendor's platform; checks are the bundled ones.
checkov: $(CHECKOV_STAMP)
	BC_SKIP_MAPPING=TRUE $(CHECKOV_VENV)/bin/checkov -d infra --quiet --compact \
	  --framework terraform secrets --skip-download

# tests/infra runs inside `make unit` (plain pytest); this adds the scanner.
infra-check: checkov

# Source zips as Terraform builds them, for inspection or a manual `gcloud functions deploy`.
infra-package: $(STAMP)
	$(BIN)/python tools/package_function.py --all

TEST_EXTRA += infra-check
