# Quick start: `make demo` (set-up + the main job) and `make test` (set-up + fast tests).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
TORCH  := torch==2.13.0

.PHONY: demo test test-all bench lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# One stamp per extra set, rebuilt when pyproject.toml changes.
$(VENV)/.installed-bench: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet $(TORCH)
	$(BIN)/pip install --quiet -e ".[bench]"
	touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed-bench
	$(BIN)/pip install --quiet -e ".[bench,test,peers]"
	touch $@

# The main job: check the papers' claims (reduced budgets, under 10 minutes on 2 cores), then
# write report/index.html and report/summary.md from the results store (reglab-results/).
# test-all also runs the Ray backend test, so it installs the ray extra.
$(VENV)/.installed-all: pyproject.toml $(VENV)/.installed-test
	$(BIN)/pip install --quiet -e ".[bench,test,peers,ray]"
	touch $@

demo: $(VENV)/.installed-bench
	$(BIN)/reglab reproduce --quick
	$(BIN)/reglab report

test: $(VENV)/.installed-test lint
	$(BIN)/python -m pytest -q -m "not slow"

test-all: $(VENV)/.installed-all
	$(BIN)/python -m pytest -q

bench: $(VENV)/.installed-test
	$(BIN)/python -m benchmarks

# Pyflakes-level errors only (undefined or unused names, syntax): real defects, not style.
lint: $(VENV)/.installed-test
	$(BIN)/ruff check --select F,E9 src tests benchmarks examples

clean:
	rm -rf $(VENV) reglab-results report
