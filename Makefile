# Two commands from a fresh clone: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint format migrate dev-env browser-deps clean

$(VENV)/.installed: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.test-installed: requirements-test.txt $(VENV)/.installed
	$(PY) -m pip install --quiet -r requirements-test.txt
	touch $@

# The workers benchmark's baselines (django-celery-beat, Flower): --no-deps
# because django-celery-beat's cron-descriptor<2 pin conflicts with ours;
# requirements-bench.txt lists every dependency it needs instead.
$(VENV)/.bench-installed: requirements-bench.txt $(VENV)/.installed
	$(PY) -m pip install --quiet --no-deps -r requirements-bench.txt
	touch $@

# A random SECRET_KEY on first run, and development mode (DEBUG defaults to
# false), kept in .env (which git ignores).
.env:
	@echo "SECRET_KEY=$$($(PYTHON) -c 'import secrets; print(secrets.token_urlsafe(50))')" > .env
	@echo "DEBUG=true" >> .env
	@echo "Wrote a new SECRET_KEY and DEBUG=true to .env"

# A .env from before DEBUG defaulted to false has no DEBUG line: without one,
# `make run` would redirect http://127.0.0.1 to https. Add it, once, and say so.
dev-env: .env
	@grep -qE '^[[:space:]]*(export[[:space:]]+)?DEBUG[[:space:]]*=' .env || { \
		[ -z "$$(tail -c1 .env)" ] || echo >> .env; \
		echo "DEBUG=true" >> .env; \
		echo "Added DEBUG=true to .env (development mode; DEBUG now defaults to false)"; }

migrate: $(VENV)/.installed dev-env
	$(PY) manage.py migrate --noinput
	$(PY) manage.py collectstatic --noinput -v0

# Web server and scheduler side by side; Ctrl-C stops both.
run: migrate
	$(PY) manage.py ensureadmin
	$(PY) manage.py ensuregroups
	$(PY) manage.py seeddemo --if-empty
	$(PY) manage.py syncdefaulttasks
	@echo "Serving http://$(HOST):$(PORT)/ (Ctrl-C stops the web server and the scheduler)"
	$(PY) manage.py rundev $(HOST):$(PORT)

# Debian's chromium for the browser tests, installed when missing.
browser-deps:
	@command -v chromium >/dev/null 2>&1 || { \
		echo "Installing Debian's chromium for the browser tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

test: $(VENV)/.test-installed $(VENV)/.bench-installed browser-deps
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) manage.py makemigrations --check --dry-run --settings=chirpsyncer.tests.settings
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.test-installed
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .

clean:
	rm -rf $(VENV) var db.sqlite3*
