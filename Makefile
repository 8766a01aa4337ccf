# The README's two commands: `make run` and `make test`. Both create .venv when it is absent.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: run test bench clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test,postgres]'
	@touch $(STAMP)

# Main job: validate the shipped banks, import them into the default store, open the live app.
run: $(STAMP)
	$(BIN)/qbank validate banks
	$(BIN)/qbank import banks
	$(BIN)/qbank tui

test: $(STAMP)
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python bench/bench_banks.py

clean:
	rm -rf $(VENV) .pytest_cache
