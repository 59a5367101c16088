# Two commands set everything up: `make plan` and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
SCENARIO ?= scenarios/baseline.toml
DATA ?= data/streets

.PHONY: plan test lint bench clean venv

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "needs $(PYTHON) on PATH (or PYTHON=... make)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Reinstall only when the project metadata changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(VENV)/.installed $@

venv: $(VENV)/.installed

plan: $(VENV)/.installed
	$(BIN)/capacity validate $(DATA)
	$(BIN)/capacity plan $(SCENARIO) --data $(DATA) --out results/baseline

test: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	MPLBACKEND=Agg $(BIN)/python -m pytest -q

bench: $(VENV)/.installed
	$(BIN)/python benchmarks/bench_projection.py
	$(BIN)/python benchmarks/bench_optimize.py
	$(BIN)/python benchmarks/bench_cli.py

clean:
	rm -rf $(VENV) results .pytest_cache
