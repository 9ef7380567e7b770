# R2 Toolkit. Every target installs what it needs first.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
NODE_STAMP := node_modules/.installed
PG_URL ?= postgres://postgres@127.0.0.1:5432/test
# pyenv's shims answer for python3.13 only when PYENV_VERSION names it; the
# matrix needs 3.11 and 3.13. 3.11 first: it is what plain python3 then means.
export PYENV_VERSION ?= $(shell pyenv versions --bare 2>/dev/null | grep -E '^3\.1[1-3]' | sort -V | tr '\n' ':')

.PHONY: install browser bench-tools demo test test-sqlite test-postgres test-matrix test-install serve serve-local bench lint typecheck format docs constraints clean

install: $(STAMP) $(NODE_STAMP)

# The package declares ranges; this repository's own environment is pinned.
$(STAMP): pyproject.toml constraints/dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints/dev.txt -e ".[site,test,dev,bench,wagtail]"
	touch $@

$(NODE_STAMP): package.json
	npm install --no-audit --no-fund --silent
	touch $@

# Debian's Chromium and its ChromeDriver for the browser tests (no browser
# download: the distribution's packages only). Needs root, as CI has.
browser:
	@[ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ] || \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver; }

# wrk for the health benchmark, where it can be installed (else its Python load generator).
bench-tools:
	@command -v wrk >/dev/null || \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk; } || \
		echo "wrk is not installable here; the health benchmark uses its Python load generator"

demo: install
	$(PY) -m gallery.demo

# The suite on SQLite and on PostgreSQL, the compatibility matrix (nox), then
# the wheel installed into fresh foreign sites; fails if any part fails.
test: install browser
	$(MAKE) --no-print-directory test-sqlite
	$(MAKE) --no-print-directory test-postgres
	$(MAKE) --no-print-directory test-matrix
	$(MAKE) --no-print-directory test-install

test-sqlite: install browser
	$(PY) -m pytest -m "not install" $(PYTEST_ARGS)

test-postgres: install browser
	DATABASE_URL=$(PG_URL) $(PY) -m pytest -m "not sqlite_only and not install" $(PYTEST_ARGS)

# Python 3.13 + newest Django/boto3, Python 3.11 + Django 4.2 + boto3 1.35 (noxfile.py).
test-matrix: install
	$(VENV)/bin/nox $(NOX_ARGS)

# Build the sdist and wheel, twine check, install into fresh virtualenvs beside
# a new startproject site at both ends of the matrix (tests/test_install.py).
test-install: install
	$(PY) -m pytest -m install $(PYTEST_ARGS)

# settings.production from the environment and .env (see .env.example).
serve: install
	@bind="$${BIND:-}"; workers="$${WORKERS:-}"; set -a; [ ! -f .env ] || . ./.env; set +a; \
	exec $(VENV)/bin/gunicorn settings.wsgi --env DJANGO_SETTINGS_MODULE=settings.production \
		--workers "$${workers:-$${WORKERS:-2}}" --bind "$${bind:-$${BIND:-127.0.0.1:8000}}" \
		--access-logfile -

serve-local: install
	$(PY) -m gallery.serve

bench: install bench-tools
	$(PY) bench/run_all.py

lint: install typecheck
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

# mypy ([tool.mypy]: strict on the core) over the library as it is imported,
# r2_toolkit.*: var/typecheck/r2_toolkit holds links to the four folders.
typecheck: install
	@mkdir -p var/typecheck/r2_toolkit
	@for package in core checks migrations_r2 toolkit; do \
		ln -sfn ../../../$$package var/typecheck/r2_toolkit/$$package; done
	$(VENV)/bin/mypy

constraints:
	constraints/refresh.sh

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

docs: install
	$(PY) -m tools.gen_docs > docs/checks.md

clean:
	rm -rf $(VENV) node_modules var .pytest_cache .hypothesis .nox dist build
