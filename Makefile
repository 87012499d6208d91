# queuecast — every target creates what it needs on a fresh machine (Python 3.11 + make + registries).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
VENV_LOAD := .venv-load
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: help demo demo-cluster test lint typecheck pytest bench bench-check bench-compare chaos load clean

help:
	@echo "make demo         simulator + proxy + wallboard in one process (prints the URL)"
	@echo "make demo-cluster Redis + simulator + three clustered proxies (needs redis-server); kill the leader"
	@echo "make test         lint, mypy --strict and the whole test suite"
	@echo "make bench        the full benchmark; writes bench/results/"
	@echo "make bench-check  a reduced bench and the regression gate against bench/baseline.json"
	@echo "make bench-compare [REF=main]  A/B gate against a git ref in this job (default: merge-base, ~2.5 min)"
	@echo "make chaos        every simulator fault for 3 min against both upstream modes; board must equal the truth"
	@echo "make load SCENARIO=call_wave USERS=50 DURATION=30s   one Locust scenario, headless"

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/queuecast demo

demo-cluster: $(STAMP)
	$(BIN)/python -m queuecast.demo_cluster

lint: $(STAMP)
	$(BIN)/ruff check proxy simulator bench queuecast scenarios tests

typecheck: $(STAMP)
	$(BIN)/mypy --strict proxy simulator bench queuecast

# .venv-load: the Locust smoke tests run each scenario as a subprocess from it.
pytest: $(STAMP) $(VENV_LOAD)/.installed
	$(BIN)/python -m pytest -q

test: lint typecheck pytest

bench: $(STAMP)
	$(BIN)/queuecast bench

bench-check: $(STAMP)
	$(BIN)/queuecast bench --check

# REF empty: the merge-base with main, or HEAD~1 on main. The base is built once per commit in .bench-cache/.
REF ?=
bench-compare: $(STAMP)
	$(BIN)/queuecast bench --compare $(REF)

# SEED=N replays a run; writes bench/results/chaos-<time>.{json,md,log}. The 30 s form runs in make test.
SEED ?= 1
chaos: $(STAMP)
	$(BIN)/queuecast chaos --seed $(SEED) --duration 180 --mode both

$(VENV_LOAD)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV_LOAD)
	$(VENV_LOAD)/bin/pip install --quiet --upgrade pip
	$(VENV_LOAD)/bin/pip install --quiet 'locust>=2.47,<3'
	touch $(VENV_LOAD)/.installed

SCENARIO ?= call_wave
USERS ?= 20
DURATION ?= 30s
load: $(STAMP) $(VENV_LOAD)/.installed
	$(BIN)/python -m scenarios.run --scenario $(SCENARIO) --users $(USERS) --duration $(DURATION)

clean:
	rm -rf $(VENV) $(VENV_LOAD) .mypy_cache .ruff_cache .hypothesis
