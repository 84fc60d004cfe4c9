# Common commands. `make help` lists them.
VENV ?= .venv
BIN := $(VENV)/bin
PYTHON ?= python3
# The servers the second test pass runs against (see .ci/run, which starts them if down).
TEST_PG_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/postgres
TEST_REDIS_URL ?= redis://127.0.0.1:6379/15

.PHONY: help demo serve test test-sqlite test-pg lint fmt migration bench screenshots i18n-extract clean

help:  ## list the commands
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@

demo: $(BIN)/.installed  ## set up, then run the service on SQLite with the demo jurisdiction
	$(BIN)/contactcenter db upgrade
	$(BIN)/contactcenter demo --history
	$(BIN)/contactcenter serve

test: $(BIN)/.installed lint test-sqlite test-pg  ## lint, then the suite on SQLite+inline jobs and on PostgreSQL+Redis

test-sqlite: $(BIN)/.installed  ## the suite on the embedded default (SQLite, inline jobs)
	@if [ -x /usr/bin/chromium ]; then echo "browser tests: on (Chromium at /usr/bin/chromium)"; \
	else echo "browser tests: SKIPPED, no /usr/bin/chromium (apt-get install chromium)"; fi
	$(BIN)/pytest

test-pg: $(BIN)/.installed  ## the suite on PostgreSQL and Redis (a real rq worker)
	TEST_DATABASE_URL=$(TEST_PG_URL) TEST_REDIS_URL=$(TEST_REDIS_URL) $(BIN)/pytest

lint: $(BIN)/.installed  ## ruff, formatting, import contracts, mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy

fmt: $(BIN)/.installed  ## format and autofix
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

migration: $(BIN)/.installed  ## new migration from model changes: make migration m="what changed"
	rm -f /tmp/cc-migration.db
	DATABASE_URL=sqlite:////tmp/cc-migration.db $(BIN)/alembic upgrade head
	DATABASE_URL=sqlite:////tmp/cc-migration.db $(BIN)/alembic revision --autogenerate -m "$(m)"

screenshots: $(BIN)/.installed  ## refresh docs/screenshots from the console's browser test (Chromium)
	CONSOLE_SCREENSHOTS=docs/screenshots $(BIN)/pytest -q tests/test_console_browser.py

bench: $(BIN)/.installed  ## ratio benchmarks (PostgreSQL and Redis needed)
	$(BIN)/python bench/sms_webhook/run.py
	$(BIN)/python bench/routing/run.py
	$(BIN)/python bench/voice_webhook/run.py
	$(BIN)/python bench/console_fanout/run.py
	$(BIN)/python bench/email_ingest/run.py
	$(BIN)/python bench/public_dashboard/run.py
	$(BIN)/python bench/import/run.py
	$(BIN)/python bench/supervisor_dashboard/run.py

i18n-extract: $(BIN)/.installed  ## refresh the message catalogs from contactcenter/texts.py
	$(BIN)/pybabel extract -F babel.cfg -k N_ --no-default-keywords -o contactcenter/translations/messages.pot contactcenter/texts.py
	$(BIN)/pybabel update -i contactcenter/translations/messages.pot -d contactcenter/translations

clean:  ## remove the virtualenv and local data
	rm -rf $(VENV) instance .pytest_cache .mypy_cache .ruff_cache
