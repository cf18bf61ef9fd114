# make run: a working demo on a bare machine (only Python needed).
# make test: the whole test suite. See README.md.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
RUN_ADDRESS ?= 127.0.0.1:8000

.PHONY: run test lint format messages compilemessages install bench

install: $(VENV)/.installed node_modules/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

# axe-core for the accessibility checks of the browser tests; without npm those skip.
node_modules/.installed: package.json package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
		npm ci --no-audit --no-fund --loglevel=error && touch $@; \
	else \
		echo "npm not found: the browser tests will be skipped."; \
	fi

# Links printed and mailed by the demo point where it serves, unless SITE_URL is set.
run: export SITE_URL ?= http://$(subst 0.0.0.0,localhost,$(RUN_ADDRESS))
run: $(VENV)/.installed
	$(BIN)/python manage.py migrate --no-input
	$(BIN)/python manage.py seed_demo
	$(BIN)/python manage.py create_staff_login
	$(BIN)/python manage.py send_demo
	RUN_ADDRESS=$(RUN_ADDRESS) $(BIN)/honcho start

test: install
	$(BIN)/pytest

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/python manage.py makemigrations --check --dry-run

format: $(VENV)/.installed
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Extract the strings (needs GNU gettext), translate the Dutch ones in locale/nl, then
# `make compilemessages`: English is the source text, and compiling needs only polib.
messages: $(VENV)/.installed
	$(BIN)/python manage.py makemessages --locale nl --locale en --no-obsolete \
		--ignore '.venv/*' --ignore 'node_modules/*' --ignore 'staticfiles/*'

compilemessages: $(VENV)/.installed
	$(BIN)/python locale/compile.py

# Benchmarks (bench/README.md): PostgreSQL in a database of their own, which they empty.
bench: $(VENV)/.installed
	@test -n "$(DATABASE_URL)" || { echo "Set DATABASE_URL to a PostgreSQL database whose name contains 'bench' (it is emptied)."; exit 1; }
	$(BIN)/python bench/dashboard.py
	$(BIN)/python bench/seed.py
	$(BIN)/python bench/worker.py
	$(BIN)/python bench/followup_latency.py
	$(BIN)/python bench/followup_pages.py
	$(BIN)/python bench/import_customers.py
	$(BIN)/python bench/sending.py
	$(BIN)/python bench/kpis.py
	$(BIN)/python bench/load.py
	$(BIN)/python bench/api.py
