# The project's vocabulary. `make help` lists the targets; the README's two commands are
# `make demo` and `make test`, each of which sets everything up first and is safe to rerun.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
UV_VERSION := 0.13.8
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
BIN := $(VENV)/bin
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)
# Precompile site-packages: imports then read .pyc files even where PYTHONDONTWRITEBYTECODE
# is set, which otherwise costs every command ~10 s of compiling MLflow, Prefect, GX, Evidently.
export UV_COMPILE_BYTECODE := 1

# Demo defaults; override on the command line: make demo USECASE=churn SCENARIO=concept_drift
# DAYS=50 SEED=7. USECASE names a contract under data/contracts/ that has a built-in generator.
USECASE ?= card_fraud
SCENARIO ?= default
DAYS ?= 60
SEED ?= 42
# The run home, as the CLI resolves it (LIFECYCLE_HOME, else .lifecycle).
RUN_HOME := $(abspath $(or $(LIFECYCLE_HOME),.lifecycle))

.PHONY: help setup demo test lint typecheck unit e2e bench bench-detection bench-monitoring stack-test soak fuzz serve mlflow-ui clean

help: ## List the targets
	@grep -E '^[a-zA-Z0-9_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-11s\033[0m %s\n", $$1, $$2}'

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet "uv==$(UV_VERSION)"

$(VENV)/.synced: $(UV) pyproject.toml uv.lock
	$(UV) sync --frozen --python $(PYTHON)
	@touch $@

setup: $(VENV)/.synced ## Create .venv from uv.lock (bootstraps uv with only Python and pip)

demo: setup ## Run the whole lifecycle demo (override USECASE, SCENARIO, DAYS, SEED)
	$(BIN)/lifecycle demo --contract data/contracts/$(USECASE).yaml --scenario $(SCENARIO) --days $(DAYS) --seed $(SEED)

lint: setup ## ruff (lint + format check) and hadolint on the Dockerfile
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/hadolint Dockerfile

typecheck: setup ## mypy, strict
	$(BIN)/mypy data features training serving monitoring pipelines benchmarks

unit: setup ## pytest without the end-to-end tests
	$(BIN)/pytest -m "not e2e"

e2e: setup ## only the end-to-end tests (real flows, MLflow store, uvicorn)
	$(BIN)/pytest -m e2e

# pytest-xdist workers: each test module stays whole on one worker (tests/conftest.py), so its
# fixtures are built once; TEST_WORKERS=0 runs the suite in one process.
TEST_WORKERS ?= 2
test: lint typecheck ## ruff, mypy and the whole pytest suite (on TEST_WORKERS processes)
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadgroup

bench: setup $(UV) ## Every issue-9 figure: ours vs `mlflow models serve` vs BentoML, floor, 2 workers, batch scoring, monitoring (~15 min)
	$(BIN)/python -m benchmarks.serving --uv $(UV)

# BENCH_JOBS: runs at once (one process and core each).
BENCH_JOBS ?= 2
bench-detection: setup ## Detection, false alarms, recovery: 6 scenarios x 5 seeds (~13 min, 2 cores)
	$(BIN)/python -m benchmarks.detection --seeds 5 --jobs $(BENCH_JOBS)

bench-monitoring: setup ## One window of 1,000,000 logged predictions: <= 30 s, <= 2 GB peak RSS
	$(BIN)/python -m benchmarks.monitoring

bench-scoring: setup ## Batch scoring: `lifecycle score` on Dask (1, 2 workers) vs raw predict_proba, 500,000 rows
	$(BIN)/python -m benchmarks.scoring

stack-test: setup ## The team stack as local processes: PostgreSQL, MLflow + Prefect servers, worker, serve
	$(BIN)/pytest -m stack tests/stack -q -s -p no:cacheprovider

soak: setup ## 60 s of mixed load at concurrency 8: fails on any error or RSS growth > 10 %
	$(BIN)/python -m benchmarks.soak

fuzz: setup ## schemathesis against the live API, 1,500 cases: fails on any 5xx or spec mismatch
	FUZZ_CASES=1500 $(BIN)/pytest tests/serving/test_fuzz.py -q

serve: setup ## Serve the champion on http://127.0.0.1:8000
	$(BIN)/lifecycle serve

mlflow-ui: setup ## Open the MLflow UI on the run home's store (LIFECYCLE_HOME or .lifecycle)
	$(BIN)/mlflow ui --backend-store-uri sqlite:///$(RUN_HOME)/mlflow/mlflow.db --port 5000

.PHONY: prefect-ui evidently-ui
prefect-ui: setup ## Open the Prefect UI (runs, logs, artifacts) on the run home's database, port 4200
	$(BIN)/python -m pipelines.prefect_server ui --prefect-home $(RUN_HOME)/prefect --port 4200

evidently-ui: setup ## Open the Evidently UI on the run home's monitoring workspace, port 8001
	$(BIN)/evidently ui --workspace $(RUN_HOME)/monitoring/workspace --port 8001

clean: ## Remove the run home (.lifecycle); keeps .venv
	rm -rf .lifecycle
