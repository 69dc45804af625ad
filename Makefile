# The two commands that matter: `make dev` brings the whole stack up, `make test` runs every test.
VENV ?= .venv
PYTHON ?= python3
BIN = $(VENV)/bin

.PHONY: install dev test bench clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

install: $(BIN)/.installed

dev: install
	$(BIN)/cytasks dev

test: install
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) .pytest_cache
