# Two commands on a fresh machine: `make run` (build every report) and `make test`.
# Each creates .venv from the pinned envs/requirements.lock when it is missing or stale.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CORES ?= 4

.PHONY: install run test lint data clean-results

$(STAMP): envs/requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r envs/requirements.lock
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/snakemake --cores $(CORES)

# pytest exits 5 when it collected no test: that is a failure here, not a pass.
test: $(STAMP)
	@$(BIN)/python -m pytest; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing" >&2; exit 1; fi; exit $$rc

lint: $(STAMP)
	$(BIN)/snakemake --lint
	$(BIN)/snakefmt --check Snakefile workflow/

# Rewrite the bundled synthetic data cuts from the simulator (deterministic).
data: $(STAMP)
	$(BIN)/ucmsc-simulate --out resources/datacuts

clean-results:
	rm -rf results/* .snakemake
