# The README's commands. Everything runs from a virtual environment in .venv,
# created and filled on first use; the pinned OPA and Regal are built into the
# tool cache (~/.cache/tenantguard/tools) on first use and reused after.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PYTEST_WORKERS ?= auto

.PHONY: run test policy bench lint tools clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

tools: $(STAMP)
	$(BIN)/python -m harness.tools install

run: tools
	$(BIN)/tenantguard run

test: tools
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS)

policy: tools
	$(BIN)/tenantguard policy test

bench: tools
	$(BIN)/python benchmarks/decision.py

lint: $(STAMP)
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

clean:
	rm -rf $(VENV) .pytest_cache
