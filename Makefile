# `make run` starts the service on embedded defaults; `make test` runs the whole suite.
# Both create the virtual environment on first use.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck bench soak demo simulate clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/hooks serve

test: $(STAMP)
	$(BIN)/python -m tests.services
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check hooks tests bench
	$(BIN)/ruff format --check hooks tests bench
	$(BIN)/mypy

soak: $(STAMP)
	$(BIN)/python -m tests.services
	$(BIN)/python -m pytest -m soak -s $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python -m bench

demo: $(STAMP)
	$(BIN)/hooks demo

simulate: $(STAMP)
	$(BIN)/hooks simulate --port 9000

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
