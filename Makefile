# R2 Toolkit. Every target installs what it needs first.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
NODE_STAMP := node_modules/.installed
PG_URL ?= postgres://postgres@127.0.0.1:5432/test

.PHONY: install demo test test-sqlite test-postgres serve serve-local bench lint format docs clean

install: $(STAMP) $(NODE_STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test,bench]"
	touch $@

$(NODE_STAMP): package.json
	npm install --no-audit --no-fund --silent
	touch $@

demo: install
	$(PY) -m gallery.demo

# The suite on SQLite, then on PostgreSQL; fails if either fails.
test: install
	$(MAKE) --no-print-directory test-sqlite
	$(MAKE) --no-print-directory test-postgres

test-sqlite: install
	$(PY) -m pytest $(PYTEST_ARGS)

test-postgres: install
	DATABASE_URL=$(PG_URL) $(PY) -m pytest -m "not sqlite_only" $(PYTEST_ARGS)

# settings.production from the environment and .env (see .env.example).
serve: install
	@bind="$${BIND:-}"; workers="$${WORKERS:-}"; set -a; [ ! -f .env ] || . ./.env; set +a; \
	exec $(VENV)/bin/gunicorn settings.wsgi --env DJANGO_SETTINGS_MODULE=settings.production \
		--workers "$${workers:-$${WORKERS:-2}}" --bind "$${bind:-$${BIND:-127.0.0.1:8000}}" \
		--access-logfile -

serve-local: install
	$(PY) -m gallery.serve

bench: install
	$(PY) bench/run_all.py

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

docs: install
	$(PY) -m toolkit.docs > docs/checks.md

clean:
	rm -rf $(VENV) node_modules var .pytest_cache .hypothesis
