# The hub's commands. `make run` serves the embedded default on http://127.0.0.1:8000;
# `make test` runs the test suite on PostgreSQL and Redis when they answer.

SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
ARGS ?=

# `make run` is the embedded default whatever the shell exports: SQLite under var/, the in-memory
# channel layer, and the Dramatiq worker inside the web process.
EMBEDDED := env -u DATABASE_URL -u DATABASE_URL_FILE -u REDIS_URL -u REDIS_URL_FILE \
	-u DRAMATIQ_BROKER_URL -u DRAMATIQ_BROKER_URL_FILE DEBUG=1

.DEFAULT_GOAL := help
.PHONY: help run test lint venv venv-dev

help:
	@echo "make run    set up .venv, migrate the SQLite database, load demo data, serve http://127.0.0.1:8000"
	@echo "make test   set up .venv with dev dependencies, run pytest on PostgreSQL + Redis when they answer"
	@echo "            (extra pytest arguments: make test ARGS=\"-k deal -x\")"
	@echo "make lint   ruff check, ruff format --check, mypy hub config and the import contracts (lint-imports)"

venv:
	@scripts/venv.sh base

venv-dev:
	@scripts/venv.sh dev

run: venv
	@echo "migrating the embedded SQLite database (DEBUG=1 manage.py migrate)"
	@$(EMBEDDED) $(PY) manage.py migrate --noinput
	@echo "loading the demo data (manage.py seed_demo)"
	@$(EMBEDDED) $(PY) manage.py seed_demo
	@echo "serving the hub on http://127.0.0.1:8000 (console: /admin/, health: /healthz); Ctrl-C stops it"
	@exec $(EMBEDDED) $(VENV)/bin/daphne -v 0 -e tcp:port=8000:interface=127.0.0.1:backlog=4096 config.asgi:application

test: venv-dev
	@$(PY) scripts/test.py $(ARGS)

lint: venv-dev
	@status=0; \
	$(VENV)/bin/ruff check . || status=1; \
	$(VENV)/bin/ruff format --check . || status=1; \
	$(VENV)/bin/mypy hub config || status=1; \
	$(VENV)/bin/lint-imports || status=1; \
	exit $$status
