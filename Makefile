# Jobline: `make dev` runs the whole system, `make test` runs every check CI runs.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: dev test lint unit integration bench clean

$(VENV)/.installed: pyproject.toml
	@echo "==> creating $(VENV) and installing Jobline (with test tools)"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	@touch $@

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
