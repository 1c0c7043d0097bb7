# Two commands set everything up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test smoke faults bench lint format clean citus citus-stop citus-test citus-bench

$(STAMP): requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $(STAMP)

## Start web, worker and stand-ins on the embedded PostgreSQL and Redis; Ctrl-C stops all.
## `make run ARGS=--verbose` also shows the worker's line for every job it runs.
run: $(STAMP)
	$(BIN)/python -m core.ops.devstack $(ARGS)

## The whole suite (DATABASE_URL / REDIS_URL when set, the embedded servers otherwise), in
## TEST_WORKERS processes (pytest-xdist), each with its own database and Redis database; a file's
## tests stay in one process, in order. TEST_WORKERS=0 runs them in this process alone.
TEST_WORKERS ?= 2
test: $(STAMP)
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

## The newcomer's path: a smoke subset on the embedded servers.
smoke: $(STAMP)
	env -u DATABASE_URL -u REDIS_URL $(BIN)/python -m pytest -m smoke $(PYTEST_ARGS)

## The fault suite alone (restarts, kills, vendor errors, fuzz); `make test` runs it too.
faults: $(STAMP)
	$(BIN)/python -m pytest tests/faults $(PYTEST_ARGS)

## Citus (vendor/citus/), built once into instance/citus/: a coordinator and two workers, left
## running; `make citus-stop` stops them.
citus: $(STAMP)
	$(BIN)/python -m core.ops.citus_cluster start

citus-stop: $(STAMP)
	$(BIN)/python -m core.ops.citus_cluster stop

## The tests marked citus, on the cluster (started for the run and stopped after, unless it ran).
citus-test: $(STAMP)
	$(BIN)/python -m core.ops.citus_cluster test $(PYTEST_ARGS)

## The hot paths on the cluster beside the embedded PostgreSQL, in one run (docs/scaling.md).
citus-bench: $(STAMP)
	$(BIN)/python -m bench.citus_compare

bench: $(STAMP)
	$(BIN)/python -m bench

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/vulture

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) instance .pytest_cache
