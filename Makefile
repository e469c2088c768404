# Two commands on a fresh machine: `make run` (build every report) and `make test`.
# Each creates .venv from the pinned envs/requirements.lock when it is missing or stale.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CORES ?= 4

.PHONY: install run test lint data clean-results reference conda-env

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
	$(BIN)/ruff check src tests workflow benchmarks
	$(BIN)/snakemake --lint
	$(BIN)/snakefmt --check Snakefile workflow/

# The conda environment's pins from the lock (Snakemake copies envs/environment.yaml alone, so it cannot -r the lock).
conda-env:
	$(PYTHON) envs/write_environment.py

# Rewrite the bundled synthetic data cuts from the simulator (deterministic).
data: $(STAMP)
	$(BIN)/ucmsc-simulate --out resources/datacuts

clean-results:
	rm -rf results/* .snakemake

# Reference values from R for the tests (Debian: apt-get install r-base-core r-cran-nlme r-cran-emmeans
# r-cran-geepack r-cran-lme4 r-cran-pbkrtest). tests/r/make_data_*.py write seeded data sets to
# tests/reference/data/; each tests/r/*.R reads them and writes its CSV to tests/reference/. The CSVs are
# committed: the tests and CI never need R.
reference: $(STAMP)
	for script in tests/r/make_data_*.py; do $(BIN)/python $$script || exit 1; done
	cd tests/reference && for script in ../r/*.R; do Rscript $$script || exit 1; done
