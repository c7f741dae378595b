# Two entry points on a fresh machine:  make demo  (the main job)   make test  (the checks)
# Each creates a virtual environment in .venv and installs what it needs into it.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
OUT ?= out

.PHONY: demo test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[dev,demo]'
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
	$(BIN)/mypy

test: lint
	$(BIN)/pytest

bench: $(VENV)/.installed
	$(BIN)/pip install -q -e '.[dev,demo,bench]'
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) $(OUT) .pytest_cache .mypy_cache .ruff_cache .hypothesis
