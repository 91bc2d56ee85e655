# The two commands of the README do all set-up themselves:
#   make run   - create .venv, install, run the main job
#   make test  - create .venv, install with test extras, run the tests
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
BIN    := $(VENV)/bin
# torch first, pinned to the builds on this machine's disk (see README).
TORCH  ?= torch==2.14.1 torchvision==0.29.1
CONFIG ?= assignment
PYTEST_ARGS ?=
BENCH_ARGS ?=
# DESIGN.md's offline mirror: used when it sits beside the checkout and
# EXPLAINLAB_MIRROR is not set, so both commands work on a machine without internet.
SHARED_MIRROR := $(abspath ../shared/data)
ifeq ($(origin EXPLAINLAB_MIRROR),undefined)
ifneq ($(wildcard $(SHARED_MIRROR)),)
export EXPLAINLAB_MIRROR := $(SHARED_MIRROR)
endif
endif

.PHONY: run test bench lint venv clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet $(TORCH)
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

venv: $(VENV)/.installed

run: venv
	$(BIN)/explainlab run --config $(CONFIG)

test: venv
	$(BIN)/python -m pytest -n 2 --dist loadfile $(PYTEST_ARGS)

bench: venv
	$(BIN)/python -m benchmarks $(BENCH_ARGS)

lint: venv
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
