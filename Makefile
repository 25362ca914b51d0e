# msp-recon: every set-up step is here, so a fresh clone needs only `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup demo run test ui lint bench clean

setup: $(STAMP)

# Re-install when the dependencies change.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

demo: setup        ## the weekly job end to end on the built-in sandbox tenant
	$(BIN)/msp-recon demo

run: setup         ## the weekly job against the sources configured in the environment / .env
	$(BIN)/msp-recon run

test: setup        ## the test suite
	$(BIN)/pytest -q

ui: setup          ## the Dagster UI and daemon (schedule, sensor) on http://127.0.0.1:3000
	DAGSTER_HOME=$${DAGSTER_HOME:-$(CURDIR)/dagster_home} $(BIN)/dagster dev -w workspace.yaml -h 127.0.0.1 -p 3000

lint: setup
	$(BIN)/ruff check .

bench: setup       ## extraction benchmark (see benchmarks/README.md)
	$(BIN)/python benchmarks/extract_itglue.py

clean:
	rm -rf $(VENV) data dagster_home/history dagster_home/storage dagster_home/schedules dagster_home/logs
