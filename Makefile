# Jobline: `make dev` runs the whole system, `make test` runs every check CI runs.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: dev test lint unit integration bench clean

$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Jobline needs Python 3.11 or newer: make PYTHON=python3.11 ...")'
	@echo "==> creating $(VENV) and installing Jobline with its test tools (a minute or so the first time)"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	@touch $@
	@echo "==> $(VENV) ready"

dev: $(VENV)/.installed
	$(BIN)/jobline dev $(ARGS)

lint: $(VENV)/.installed
	@echo "==> ruff"
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	@echo "==> mypy"
	$(BIN)/mypy

unit: $(VENV)/.installed
	$(BIN)/pytest -q tests/unit

integration: $(VENV)/.installed
	$(BIN)/pytest -q tests/integration tests/e2e

test: lint
	@echo "==> pytest"
	$(BIN)/pytest -q

clean:
	rm -rf $(VENV) .jobline .pytest_cache .mypy_cache .ruff_cache
