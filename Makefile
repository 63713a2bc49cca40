# sgr-jupyter — the two commands a newcomer needs are `make demo` and `make test`.
# Everything bootstraps itself: the virtual environment in .venv, the Docker engine, the
# sandbox image, Chromium for browser tests.

SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
EXTRAS := dev,docker,openai,jupyter,dask,heavy,research,lora

export SGR_REPO := $(CURDIR)

.PHONY: venv demo test check lint typecheck imports labext-test bench system image clean

venv: $(STAMP)

$(STAMP): pyproject.toml scripts/bootstrap-venv.sh scripts/install-lora-model.sh
	bash scripts/bootstrap-venv.sh "$(PY)" "$(VENV)" "$(EXTRAS)"
	touch $@

# The machine: a Docker engine and Chromium (installed and started when absent).
system:
	bash scripts/prepare-system.sh

# The sandbox image, built locally from the recipe (no registry); rebuilt only when it changes.
image: venv system
	bash scripts/ensure-sandbox-image.sh

demo: venv system image
	$(BIN)/python -m sgr_jupyter.demo

# The whole check, as CI runs it: format, lint, types, import contracts, then every test.
test: venv system image lint typecheck imports labext-test
	$(BIN)/pytest

lint: venv
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .

typecheck: venv
	$(BIN)/mypy

imports: venv
	$(BIN)/lint-imports

# The labextension's unit tests (vitest in jsdom: the model, the DAG view, the widget).
labext-test: venv
	cd labextension && $(abspath $(BIN))/jlpm install && $(abspath $(BIN))/jlpm test

check: test

bench: venv system image
	$(BIN)/python -m pip install -q -e '.[bench]'
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache
