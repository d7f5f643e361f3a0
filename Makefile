# `make demo` and `make test` set up everything they need on a fresh Debian 12 machine.
VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= python3

.PHONY: setup system-deps demo test test-fast lint typecheck unit unit-fast fuzz bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[dev]'
	touch $@

setup: $(VENV)/.installed

system-deps:
	bash devtools/system-deps.sh

demo: system-deps setup
	$(PY) -m devtools.demo

lint: setup
	$(VENV)/bin/ruff check src tests benchmarks devtools

typecheck: setup
	$(VENV)/bin/mypy

unit: setup
	$(VENV)/bin/pytest -q

test: system-deps setup lint typecheck unit

# the quick lane (CONTRIBUTING.md): no image builds, no toolchains, no servers, no test over about
# a CPU-second (tests/conftest.py SLOW_TESTS), on every core; under two minutes on 2 cores
unit-fast: setup
	$(VENV)/bin/pytest -q -n auto -m "not slow and not toolchain and not network" --durations=10

test-fast: setup lint typecheck unit-fast

# longer fuzzing of the readers of hostile input (tests/fuzz; `make test` runs a few fixed inputs
# per target): FUZZ_EXAMPLES new random inputs per target, failures kept in .cache/hypothesis
FUZZ_EXAMPLES ?= 500
fuzz: setup
	SEAWALL_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(VENV)/bin/pytest -q tests/fuzz -p no:cacheprovider --timeout 14400

bench: system-deps setup
	$(PY) -m benchmarks

clean:
	rm -rf $(VENV) .cache .pytest_cache .mypy_cache .ruff_cache
