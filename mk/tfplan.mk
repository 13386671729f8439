# `terraform init/validate/plan` of infra/ offline (tools/tfplan): stand-in providers serving the
# pinned providers' real schemas, installed from a filesystem mirror under build/tf-mirror.
#   make infra-plan   plan a fresh project with the default variables and with every feature on
# Skipped, with a line saying so, where `terraform` is not on PATH. The stand-ins run in their
# own venv (the `tf` package pins its own protobuf), created once.
TFPLAN_VENV  := .venv-tfplan
TFPLAN_REQS  := tools/tfplan/requirements.txt
TFPLAN_STAMP := $(TFPLAN_VENV)/.installed-$(shell sha256sum $(TFPLAN_REQS) 2>/dev/null | cut -c1-12)

.PHONY: infra-plan

$(TFPLAN_STAMP): $(TFPLAN_REQS)
	@test -x $(TFPLAN_VENV)/bin/python || $(PYTHON) -m venv $(TFPLAN_VENV)
	$(TFPLAN_VENV)/bin/python -m pip install -q --disable-pip-version-check -r $(TFPLAN_REQS)
	@rm -f $(TFPLAN_VENV)/.installed-* && touch $(TFPLAN_STAMP)

infra-plan:
	@if command -v terraform >/dev/null 2>&1; then \
	  $(MAKE) --no-print-directory $(TFPLAN_STAMP) && $(TFPLAN_VENV)/bin/python tools/tfplan/plan.py; \
	else \
	  echo "infra-plan SKIPPED: terraform is not on PATH (install Terraform >= 1.5 to plan infra/ offline)"; \
	fi

TEST_EXTRA += infra-plan
