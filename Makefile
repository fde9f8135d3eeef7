# Every target creates its own virtualenv (.venv) on first use, so these work on a
# fresh machine with nothing but Python 3.11+.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-quick lint check dev local-stack emulator bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

## The offline demo: local Extend emulator + local S3 + the pipeline, end to end.
demo: $(STAMP)
	$(BIN)/extend-assets demo

## The whole test suite (2 workers), what CI runs.
test: $(STAMP)
	$(BIN)/pytest -n 2 --durations=25

## Everything but the end-to-end tests marked `slow` (deployments, faults, installs).
test-quick: $(STAMP)
	$(BIN)/pytest -n 2 -m 'not slow' --durations=10

## Static checks: ruff (lint + format), mypy, and the import contracts (layers).
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

check: lint test

## The local stack plus `dagster dev` (UI on http://127.0.0.1:3000).
dev: $(STAMP)
	$(BIN)/extend-assets dev

local-stack: $(STAMP)
	$(BIN)/extend-assets local-stack

emulator: $(STAMP)
	$(BIN)/extend-assets emulator

## Benchmarks side by side (writes bench/results.json and BENCHMARKS.md; ~1.5 h with 100k).
bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) build *.egg-info .mypy_cache .ruff_cache
