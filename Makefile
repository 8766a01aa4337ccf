# The README's two commands: `make run` and `make test`. Both create .venv when it is absent.
PYTHON ?= python3
# `make test` runs the suite on this many pytest-xdist workers (one per core on a 2-core machine)
TEST_WORKERS ?= 2
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: run test lint bench clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test,postgres,lint]'
	@touch $(STAMP)

# Main job: validate the shipped banks, import them into the default store, open the live app.
run: $(STAMP)
	$(BIN)/qbank validate banks
	$(BIN)/qbank import banks
	$(BIN)/qbank tui

test: $(STAMP)
	$(BIN)/python -m pytest -n $(TEST_WORKERS)

# Hygiene (CI runs it before the suite): lint, formatting, types, import contracts. Every check runs;
# the last line names the ones that failed. Settings: pyproject.toml ([tool.ruff], [tool.mypy],
# [tool.importlinter]). `$(BIN)/ruff format .` and `$(BIN)/ruff check --fix .` fix most lint and format findings.
lint: $(STAMP)
	@failed=""; \
	echo "== ruff check (lint)"; $(BIN)/ruff check . || failed="$$failed lint(ruff-check)"; \
	echo "== ruff format --check (formatting)"; $(BIN)/ruff format --check . || failed="$$failed format(ruff-format)"; \
	echo "== mypy (types)"; $(BIN)/mypy || failed="$$failed types(mypy)"; \
	echo "== import contracts (import-linter)"; $(BIN)/python .ci/check_imports.py || failed="$$failed imports(import-linter)"; \
	if [ -n "$$failed" ]; then echo "make lint: FAILED:$$failed" >&2; exit 1; fi; \
	echo "make lint: lint, format, types and import contracts all pass"

bench: $(STAMP)
	$(BIN)/python bench/bench_banks.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
