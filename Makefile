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
	@command -v dot >/dev/null || echo "note: Graphviz 'dot' not found; drawings need it (apt-get install graphviz / brew install graphviz)"
	$(BIN)/python demos/quickstart.py

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/mypy

test: lint
	$(BIN)/pytest

clean:
	rm -rf $(VENV) $(OUT) .pytest_cache .mypy_cache .ruff_cache .hypothesis
