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
.PHONY: help demo test lint bench clean tutorial

help:
	@echo "gradstep: two commands, each creating .venv and installing what it needs into it"
	@echo "  make demo   the main job: walk through a neuron's backward pass number by number"
	@echo "              ($(OUT)/neuron.svg, $(OUT)/neuron_steps.html), then train micrograd's"
	@echo "              two-moons classifier ($(OUT)/moons/*.png, $(OUT)/moons/model.json)"
	@echo "  make test   the checks: ruff (lint and format), mypy and pytest"
	@echo "also: make bench (the benchmark, ~8 min), make clean (removes .venv and $(OUT)/),"
	@echo "      make tutorial (runs docs/tutorial.ipynb and stores it with its outputs)"

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

test: lint
	$(BIN)/pytest

# the tutorial is stored with its outputs, so a site or a viewer that renders notebooks
# shows them; tests/test_tutorial.py fails when they are stale
tutorial: $(VENV)/.installed
	$(BIN)/python tests/tutorial_outputs.py --write

bench: $(VENV)/.installed
	$(INSTALL) -e '.[dev,demo,bench]'
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) $(OUT) .pytest_cache .mypy_cache .ruff_cache .hypothesis
