# Linli — two commands: `make run` and `make test`. Needs only Python 3.12+ and make.
SHELL := /bin/bash
PYTHON ?= $(shell for p in python3.12 python3.13 python3.14 python3 python; do \
	if command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then command -v $$p; break; fi; done)
UV_VERSION := 0.13.9
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
export UV_PROJECT_ENVIRONMENT := $(VENV)

.PHONY: run test bench setup migrate demo lint typecheck e2e clean help

help:
	@echo "make run    — set up everything, load the demo community, serve on http://$(HOST):$(PORT)"
	@echo "make test   — the full test suite (DATABASE_URL=postgres://… for PostgreSQL)"
	@echo "make bench  — benchmarks, JSON figures"

$(UV):
	@test -n "$(PYTHON)" || { echo "Linli needs Python 3.12 or newer (python3.12 not found)"; exit 1; }
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(VENV)/.synced: $(UV) uv.lock pyproject.toml
	$(UV) sync --frozen --python $(PYTHON) --quiet
	@touch $@

setup: $(VENV)/.synced

migrate: setup
	$(PY) manage.py migrate --no-input

demo: migrate
	$(PY) manage.py demo --if-empty

run: demo
	$(PY) manage.py collectstatic --no-input --verbosity 0
	$(PY) manage.py serve --host $(HOST) --port $(PORT)

test: setup
	$(PY) -m pytest $(PYTEST_ARGS)

e2e: setup
	$(PY) -m pytest tests/e2e $(PYTEST_ARGS)

bench: setup
	$(PY) -m bench $(BENCH_ARGS)

lint: setup
	$(VENV)/bin/ruff check .

typecheck: setup
	$(VENV)/bin/mypy

clean:
	rm -rf $(VENV) $(TOOLS) var
