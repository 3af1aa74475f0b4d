# SMVM developer commands. `make help` lists them.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
EXAMPLE ?= examples/idea.json

.DEFAULT_GOAL := help

# .env, read the one way the smvm command reads it (a variable already set wins over the file; README,
# Configuration): smvm itself reads it, and a recipe that starts other programs evals what `smvm env` prints.
# `make test` never reads it: tests pass their settings explicitly.
DOTENV = eval "$$($(BIN)/smvm env --export)" &&

.PHONY: help
help: ## list the targets
	@grep -hE '^[a-z][a-z-]*:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $@

.PHONY: install
install: $(STAMP) ## create .venv and install smvm with its dev tools

.PHONY: demo
demo: $(STAMP) ## validate the shipped example idea in-process (no Redis, no PostgreSQL)
	$(BIN)/smvm validate $(EXAMPLE) --out runs/demo

.PHONY: test
# The whole suite is held to the coverage floor (setup.cfg, [coverage:report]); a subset (PYTEST_ARGS) is not.
COVERAGE_ARGS = $(if $(strip $(PYTEST_ARGS)),,--cov --cov-report=term)

test: $(STAMP) ## run the whole suite (unit + integration; needs PostgreSQL and Redis, see README), coverage floor
	$(BIN)/python -m pytest $(COVERAGE_ARGS) $(PYTEST_ARGS)

.PHONY: test-unit
test-unit: $(STAMP) ## run the unit tests only (no servers needed)
	$(BIN)/python -m pytest -m unit $(PYTEST_ARGS)

.PHONY: lint
lint: $(STAMP) ## ruff, and the layers of docs/architecture.md (import-linter contracts in setup.cfg)
	$(BIN)/ruff check smvm workers api tests
	$(BIN)/lint-imports --no-cache

.PHONY: migrate
migrate: $(STAMP) ## apply database migrations (SMVM_DATABASE_URL)
	$(BIN)/smvm db upgrade

.PHONY: up
up: $(STAMP) ## run the whole stack from the Procfile (honcho) against local Redis and PostgreSQL
	@if [ ! -f .env ]; then echo "no .env: using .env.example"; export SMVM_ENV_FILE=.env.example; fi; \
	$(DOTENV) mkdir -p var && \
	$(BIN)/smvm db upgrade && \
	$(BIN)/smvm tokens create --name "make-up-$$(date +%Y%m%d-%H%M%S)" --scopes runs:admin --projects '*' --expires-in 1d && \
	echo "API:     http://$${SMVM_BIND:-127.0.0.1:8000}/api/v1   (OpenAPI: /api/v1/openapi.json, metrics: /metrics)" && \
	echo "Flower:  http://127.0.0.1:$${SMVM_FLOWER_PORT:-5555}   (basic auth: SMVM_FLOWER_BASIC_AUTH, admin:admin if unset in development)" && \
	echo "Ctrl-C stops every process." && \
	PATH="$(CURDIR)/$(BIN):$$PATH" exec $(BIN)/honcho -e /dev/null -f Procfile start web pipeline simulation callbacks maintenance beat flower

.PHONY: eval
eval: $(STAMP) ## evaluate the decision on examples/eval (or EVAL_DIR=...): confusion matrix, stability, metamorphic checks
	$(DOTENV) $(BIN)/python -m benchmarks.evaluate $(EVAL_DIR)

.PHONY: calibrate
calibrate: $(STAMP) ## the T0+30 update against known truth: 250 synthetic markets, interval coverage, verdict accuracy, ledger
	$(DOTENV) $(BIN)/python -m benchmarks.calibrate $(CALIBRATE_ARGS)

.PHONY: bench
bench: $(STAMP) ## simulation speed and memory, the decision's CPU against the code before it, the report stage's CPU and PDF size (see docs/benchmarks.md)
	$(DOTENV) $(BIN)/python -m benchmarks.bench_simulation
	$(DOTENV) $(BIN)/python -m benchmarks.bench_decision
	$(DOTENV) $(BIN)/python -m benchmarks.bench_reports

.PHONY: fingerprint
fingerprint: $(STAMP) ## the default run's artifacts hashed (timestamps blanked): compare before and after a refactor
	$(BIN)/python -m benchmarks.fingerprint

.PHONY: loadtest
loadtest: $(STAMP) ## load test a running `make up` stack: 1000 runs, callbacks, bare Flask and bare chain baselines
	$(DOTENV) $(BIN)/python -m loadtest.run $(LOADTEST_ARGS)

.PHONY: clean
clean: ## remove the virtualenv and local run output
	rm -rf $(VENV) runs/demo .coverage htmlcov
