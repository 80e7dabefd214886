# Quick start: `make demo` (set-up + the main job) and `make test` (set-up + fast tests).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
TORCH  := torch==2.13.0

.PHONY: demo test test-all test-integrations bench lint clean docs browser

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

# test-all also runs the Ray backend test, so it installs the ray extra.
$(VENV)/.installed-all: pyproject.toml $(VENV)/.installed-integrations
	$(BIN)/pip install --quiet -c constraints/torch.txt -e ".[bench,test,peers,ray]"
	touch $@

# The Trainer integrations' extras, installed against constraints/torch.txt so they cannot
# replace the pinned torch; then check that every requirement holds (timm, installed without its
# dependencies for the peer benchmark, is the one known exception) and that torch is unchanged.
$(VENV)/.installed-integrations: pyproject.toml constraints/torch.txt $(VENV)/.installed-test
	$(BIN)/pip install --quiet -c constraints/torch.txt -e ".[bench,test,peers,lightning,huggingface]"
	@$(BIN)/pip check | grep -vE "^(No broken requirements found|timm [^ ]+ requires torchvision)" | grep . && exit 1 || true
	$(BIN)/python -c "import torch, sys; v = torch.__version__.split('+')[0]; sys.exit(0 if 'torch==' + v == '$(TORCH)' else 'torch changed: ' + v)"
	touch $@

# The integration parity tests (Lightning, Hugging Face Trainer) and their examples, about 3
# minutes on 2 cores plus the extras' install; `make test` skips them when the extras are absent.
test-integrations: $(VENV)/.installed-integrations
	$(BIN)/python -m pytest -q tests/integrations tests/test_examples.py

# The main job: check the papers' claims (reduced budgets, about 4 minutes on a quiet 2-core
# machine), then write report/index.html and report/summary.md from the store (reglab-results/).
demo: $(VENV)/.installed-bench
	$(BIN)/reglab reproduce --quick
	$(BIN)/reglab report
	@echo ""
	@echo "The report: report/index.html (and report/summary.md). Next, try:"
	@echo "  $(BIN)/reglab show mixup                           # a method's card: equation, arguments, paper"
	@echo "  $(BIN)/reglab bench --task digits --recipes none mixup cutout   # compare recipes on a task"
	@echo "  $(BIN)/reglab reproduce --quick --timing           # where the time went (instant: runs are stored)"
	@echo "  $(BIN)/reglab reproduce                            # every claim at its full budget (far longer)"

test: $(VENV)/.installed-test lint
	$(BIN)/python -m pytest -q -m "not slow"

test-all: $(VENV)/.installed-all $(VENV)/.installed-docs browser
	$(BIN)/python -m pytest -q

# timm is an optional peer of benchmarks/bench_peers.py, which loads only its data/mixup.py: it is
# installed without its dependencies (they would pull torchvision and possibly another torch).
# Offline, the peer rows are skipped with the reason.
TIMM := timm==1.0.31
$(VENV)/.installed-timm: $(VENV)/.installed-test
	$(BIN)/pip install --quiet --no-deps $(TIMM) && touch $@ || echo "$(TIMM) not installed: its rows are skipped"

bench: $(VENV)/.installed-timm
	$(BIN)/python -m benchmarks

# Pyflakes-level errors only (undefined or unused names, syntax): real defects, not style.
lint: $(VENV)/.installed-test
	$(BIN)/ruff check --select F,E9 src tests benchmarks examples

# The documentation site: pages generated from the registry, the claims and the README into
# build/docs/, then site/index.html built by MkDocs (mkdocs.yml). tests/test_docs.py runs its code.
$(VENV)/.installed-docs: pyproject.toml constraints/torch.txt $(VENV)/.installed-test
	$(BIN)/pip install --quiet -c constraints/torch.txt -e ".[bench,test,docs]"
	$(BIN)/python -c "import torch, sys; v = torch.__version__.split('+')[0]; sys.exit(0 if 'torch==' + v == '$(TORCH)' else 'torch changed: ' + v)"
	touch $@

docs: $(VENV)/.installed-docs
	$(BIN)/python docs/gen.py
	$(BIN)/mkdocs build --strict
	@echo "The site: site/index.html"

# Headless Chromium for tests/bench/test_report_browser.py, from the system's package manager when
# missing and run as root; otherwise that test is skipped with the reason.
browser:
	@command -v chromium >/dev/null || command -v chromium-browser >/dev/null || command -v google-chrome >/dev/null \
	  || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && apt-get update -qq && apt-get install -y -qq chromium >/dev/null; } \
	  || echo "Chromium not installed (needs root and apt-get): the report's browser test is skipped"

clean:
	rm -rf $(VENV) reglab-results report build site
