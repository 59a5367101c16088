# Two commands set everything up: `make plan` and `make test`.
# Any Python >= 3.11 on PATH (the newest first); PYTHON=... make picks another.
ifeq ($(origin PYTHON), undefined)
PYTHON := $(shell for p in python3.13 python3.12 python3.11 python3 python; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null \
	&& { echo $$p; break; }; done)
endif
VENV := .venv
BIN := $(VENV)/bin
SCENARIO ?= scenarios/baseline.toml
DATA ?= data/streets

.PHONY: plan test lint bench clean venv notebooks lab

$(BIN)/python:
	@test -n "$(PYTHON)" && command -v $(PYTHON) >/dev/null 2>&1 || { echo "needs Python >= 3.11 on PATH (or PYTHON=... make)"; exit 1; }
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

# Re-execute the notebooks in place (their outputs are committed, so the repository shows them).
notebooks: $(VENV)/.installed-dev
	MPLBACKEND=Agg $(BIN)/python notebooks/execute.py

# JupyterLab (the `notebook` extra) on the notebooks folder.
lab: $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e ".[notebook]"
	$(BIN)/jupyter lab notebooks/

bench: $(VENV)/.installed
	$(BIN)/python benchmarks/bench_projection.py
	$(BIN)/python benchmarks/bench_optimize.py --mip-gap 0.01 --time-limit 120
	$(BIN)/python benchmarks/bench_sweep.py
	$(BIN)/python benchmarks/bench_robust.py
	$(BIN)/python benchmarks/bench_cli.py

clean:
	rm -rf $(VENV) results .pytest_cache
