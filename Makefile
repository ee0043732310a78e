# make run   create .venv, install mailhub, initialise the embedded store, start the service
# make test  create .venv, install mailhub with test extras, run ruff, mypy and the whole suite

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: run test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $@

run: $(VENV)/.installed
	$(BIN)/mailhub init
	$(BIN)/mailhub serve

lint: $(VENV)/.installed
	$(BIN)/ruff check mailhub tests bench
	$(BIN)/ruff format --check mailhub tests bench
	$(BIN)/mypy mailhub

test: $(VENV)/.installed lint
	$(BIN)/pytest

bench: $(VENV)/.installed
	@for b in bench/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) data .pytest_cache .ruff_cache
