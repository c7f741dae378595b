# Two entry points on a fresh machine:  make demo  (the main job)   make test  (the checks)
# Each creates a virtual environment in .venv and installs what it needs into it.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
OUT ?= out
# setuptools notes that an editable install can be shadowed by a folder named like the
# package in the working directory: here that folder is the package itself, so the note
# is noise on every set-up and is filtered out (by its text, nothing else)
INSTALL := PYTHONWARNINGS="ignore:Editable installation" $(BIN)/pip install -q

.DEFAULT_GOAL := help
.PHONY: help demo test test-all lint docs docs-serve docs-pictures tutorial bench clean

help:
	@echo "gradstep: two commands, each creating .venv and installing what it needs into it"
	@echo "  make demo   the main job: walk through a neuron's backward pass number by number"
	@echo "              ($(OUT)/neuron.svg, $(OUT)/neuron_steps.html), then train micrograd's"
	@echo "              two-moons classifier ($(OUT)/moons/*.png, $(OUT)/moons/model.json)"
	@echo "  make test   the fast checks (under 2 minutes): ruff (lint and format), mypy, and the"
	@echo "              unit and property tests (at most 25 Hypothesis examples each); the tests"
	@echo "              marked slow or browser wait for make test-all"
	@echo "also: make test-all (every test at its full budget, as CI), make docs (the site, into"
	@echo "      site/), make docs-serve (on http://127.0.0.1:8000), make docs-pictures (the"
	@echo "      pictures in docs/, from gradstep), make tutorial (runs docs/tutorial.ipynb and"
	@echo "      stores it with its outputs), make bench (the benchmark, ~8 min),"
	@echo "      make clean (removes .venv, $(OUT)/ and site/)"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(INSTALL) -e '.[dev,demo]'
	touch $@

demo: $(VENV)/.installed
	mkdir -p $(OUT)
	@if command -v dot >/dev/null; then \
	  echo '$$ gradstep explain "tanh(w*x + b)" x=0.5 w=-1.5 b=0.2 --svg $(OUT)/neuron.svg --html $(OUT)/neuron_steps.html'; \
	  $(BIN)/gradstep explain "tanh(w*x + b)" x=0.5 w=-1.5 b=0.2 --svg $(OUT)/neuron.svg --html $(OUT)/neuron_steps.html; \
	else \
	  echo "note: Graphviz's dot program is missing, so no drawings (apt-get install graphviz / brew install graphviz)"; \
	  $(BIN)/gradstep explain "tanh(w*x + b)" x=0.5 w=-1.5 b=0.2; \
	fi
	@echo '$$ gradstep demo moons --out $(OUT)/moons'
	@$(BIN)/gradstep demo moons --out $(OUT)/moons
	@echo "pictures: $(OUT)/neuron.svg (the graph), $(OUT)/neuron_steps.html (backprop edge by edge), $(OUT)/moons/decision_boundary.png, $(OUT)/moons/loss_curve.png"

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# make test: the checks to run after every change.  The tests marked `slow` (training runs,
# huge graphs, subprocess-heavy demos, kill loops) and `browser` wait for make test-all, and
# every Hypothesis property runs at most 25 examples (the `fast` profile, tests/conftest.py)
test: lint
	$(BIN)/pytest -m "not slow and not browser" --hypothesis-profile=fast -n auto

# make test-all: every test, each property at its own budget (what CI runs); the `torch`,
# `browser` and `docs` tests skip, saying why, unless PyTorch, Playwright and Chromium, or the
# docs extra are installed.  One test file per worker at a time (--dist loadfile), so a
# module's costly fixture (the built site, the trained demos, the engine reports) runs once
test-all: lint
	$(BIN)/pytest -n auto --dist loadfile

$(VENV)/.docs-installed: pyproject.toml | $(VENV)/.installed
	$(INSTALL) -e '.[dev,demo,docs]'
	touch $@

# the site: MkDocs + Material, the API reference from the docstrings (mkdocstrings), the
# tutorial notebook (mkdocs-jupyter); docs/hooks.py writes the live steppers into it
docs: $(VENV)/.docs-installed
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

docs-serve: $(VENV)/.docs-installed
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs serve --dev-addr 127.0.0.1:8000

# the tutorial is stored with its outputs, so a site or a viewer that renders notebooks
# shows them; tests/test_tutorial.py fails when they are stale
tutorial: $(VENV)/.installed
	$(BIN)/python tests/tutorial_outputs.py --write

# the pictures docs/ and README show, made by gradstep (never edited by hand): the cs231n
# neuron's drawings, its gates page and walk-through; the screenshot of that page at step 9
# (Chromium, the browser extra); the hand-off demo's boundaries (PyTorch, when installed)
docs-pictures: $(VENV)/.installed
	$(BIN)/python -m gradstep.demos.neuron --out $(OUT)/docs-pictures > /dev/null
	$(BIN)/python -m gradstep.demos.neuron --gates --out $(OUT)/docs-pictures > /dev/null
	cp $(OUT)/docs-pictures/neuron.svg $(OUT)/docs-pictures/neuron_gates.svg docs/
	cp $(OUT)/docs-pictures/neuron_gates_steps.html docs/neuron_steps.html
	$(BIN)/python -m gradstep.demos.neuron --markdown > docs/neuron_walkthrough.md
	GRADSTEP_UPDATE_SCREENSHOTS=1 GRADSTEP_REQUIRE=browser $(BIN)/pytest -q -p no:cacheprovider \
	  tests/test_browser.py -k readme_screenshot
	@if $(BIN)/python -c "import torch" 2>/dev/null; then \
	  $(BIN)/gradstep demo torch_handoff --no-progress --out $(OUT)/torch_handoff && \
	  cp $(OUT)/torch_handoff/boundaries.png docs/torch_handoff.png; \
	else echo "note: PyTorch is not installed, so docs/torch_handoff.png is left as it is"; fi

bench: $(VENV)/.installed
	$(INSTALL) -e '.[dev,demo,bench]'
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) $(OUT) site .pytest_cache .mypy_cache .ruff_cache .hypothesis
