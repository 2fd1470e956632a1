# smsdesk: `make demo` runs the whole product locally; `make test` runs the suite.
# Needs only python3 (3.12+ available), make and git; uv is fetched if missing.

SHELL := /bin/bash
PYTHON ?= python3
UV := $(shell command -v uv 2>/dev/null || echo .tools/bin/uv)
VENV := .venv
PY := $(VENV)/bin/python
MANAGE := $(PY) manage.py

.PHONY: demo test lint format bench chaos install clean-demo help

help:
	@echo "make demo   - set up everything and run portal, task cluster and sandbox"
	@echo "make test   - run the whole test suite (DATABASE_URL or SQLite)"
	@echo "make lint   - ruff"
	@echo "make bench  - run the sync benchmarks (docs/BENCHMARKS.md)"
	@echo "make chaos  - the reliability run: faults, killed workers, books to the cent (docs/RELIABILITY.md)"

.tools/bin/uv:
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet --disable-pip-version-check uv

$(VENV)/.synced: uv.lock pyproject.toml | $(UV)
	$(UV) sync --frozen --quiet
	@touch $@

install: $(VENV)/.synced

.env:
	@$(PY) -c "from cryptography.fernet import Fernet; import secrets; \
print('DEBUG=true'); print('SECRET_KEY=' + secrets.token_urlsafe(50)); \
print('FIELD_ENCRYPTION_KEYS=' + Fernet.generate_key().decode()); \
print('SANDBOX_ENABLED=true')" > .env
	@echo "Wrote .env for local development (DEBUG on, fresh secrets)."

# make demo PORT=9000 SANDBOX_PORT=9001 when 8000 or 8001 is taken.
PORT ?= 8000
SANDBOX_PORT ?=

demo: install .env
	$(MANAGE) migrate --noinput
	$(MANAGE) createcachetable
	$(MANAGE) demo --port $(PORT) $(if $(SANDBOX_PORT),--sandbox-port $(SANDBOX_PORT))

PYTEST_ARGS ?= -n auto

test: install
	$(VENV)/bin/pytest $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench: install .env
	$(PY) -m bench $(BENCH_ARGS)

CHAOS_ARGS ?=

chaos: install
	$(PY) -m tests.reliability.chaos $(CHAOS_ARGS)

clean-demo:
	rm -f db.sqlite3 db.sqlite3-wal db.sqlite3-shm var/sandbox.json
