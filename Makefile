# smsdesk: `make demo` runs the whole product locally; `make test` runs the suite.
# Needs only python3 (3.12+ available), make and git; uv is fetched if missing.

SHELL := /bin/bash
PYTHON ?= python3
UV := $(shell command -v uv 2>/dev/null || echo .tools/bin/uv)
VENV := .venv
PY := $(VENV)/bin/python
MANAGE := $(PY) manage.py

.PHONY: demo demo-logins test lint format bench chaos install clean-demo help

help:
	@echo "make demo   - set up everything and run portal, task cluster and sandbox"
	@echo "              (PORT=8010 SANDBOX_PORT=8011 for other ports)"
	@echo "make demo-logins - print the demo's address and logins again"
	@echo "make test   - run the whole test suite (DATABASE_URL or SQLite)"
	@echo "make lint   - ruff"
	@echo "make bench  - run the sync benchmarks (docs/BENCHMARKS.md)"
	@echo "make load   - 50 users on gunicorn against 1M orders (wrk, PostgreSQL; docs/BENCHMARKS.md)"
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

# make demo PORT=8010 SANDBOX_PORT=8011 when 8000 or 8001 is taken (the sandbox's port
# defaults to the portal's plus one). make demo-logins PORT=8010 prints the logins again.
PORT ?= 8000
SANDBOX_PORT ?= $(shell echo $$(( $(PORT) + 1 )))

demo: install .env
	$(MANAGE) migrate --noinput
	$(MANAGE) createcachetable
	$(MANAGE) demo --port $(PORT) --sandbox-port $(SANDBOX_PORT)

demo-logins: install .env
	@$(MANAGE) demo --logins --port $(PORT)

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

# The scale benchmark is `make bench BENCH_ARGS=--scale`, the reports one
# `make bench BENCH_ARGS=--reports`, the SMS-Activate gateway's
# `make bench BENCH_ARGS=--gateway`; the load run needs wrk (apt-get install wrk).
LOAD_ARGS ?=

.PHONY: load
load: install .env
	$(PY) -m bench --load $(LOAD_ARGS)

CHAOS_ARGS ?=

chaos: install
	$(PY) -m tests.reliability.chaos $(CHAOS_ARGS)

clean-demo:
	rm -f db.sqlite3 db.sqlite3-wal db.sqlite3-shm var/sandbox.json
