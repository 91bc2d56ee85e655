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

# WordNet 3.0's dict folder, for report 1's concept categories (EXPLAINLAB_WORDNET, README)
WORDNET ?= $(or $(EXPLAINLAB_WORDNET),/usr/share/wordnet)

.PHONY: run test bench lint venv clean wordnet

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet $(TORCH)
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

venv: $(VENV)/.installed

# Debian/Ubuntu's wordnet-base, installed when missing and apt-get can (as root)
wordnet:
	@if [ -f $(WORDNET)/data.noun ]; then exit 0; \
	elif [ -z "$(EXPLAINLAB_WORDNET)" ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing WordNet 3.0 (apt-get install wordnet-base)"; \
		apt-get install -y --no-install-recommends wordnet-base >/dev/null 2>&1 || \
		{ apt-get update >/dev/null && apt-get install -y --no-install-recommends wordnet-base; }; \
	else \
		echo "WordNet 3.0 is not in $(WORDNET): run 'sudo apt-get install wordnet-base'," \
			"or set EXPLAINLAB_WORDNET to WordNet 3.0's dict folder" >&2; exit 1; \
	fi

run: venv wordnet
	$(BIN)/explainlab run --config $(CONFIG)

# without WordNet (no root to install it) the tests still run: those that read it skip
test: venv
	@$(MAKE) --no-print-directory wordnet || echo "the tests that read WordNet will be skipped" >&2
	$(BIN)/python -m pytest -n 2 --dist loadfile $(PYTEST_ARGS)

bench: venv
	$(BIN)/python -m benchmarks $(BENCH_ARGS)

lint: venv
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
