# The two commands: `make run` and `make test`. Everything they need is installed from this repository.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
export FLASK_APP := apn

.PHONY: run test lint setup postgres-binaries chromium axe screenshots bench clean

$(STAMP): setup.cfg pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c requirements.lock -e '.[test]'
	touch $(STAMP)

setup: $(STAMP)

## make run: set up, migrate the SQLite database under instance/, load the demo data once, serve on :5000
## (development: APN_DEBUG=true, so invitation and password-reset mails are printed on the console)
run: $(STAMP)
	$(BIN)/flask db upgrade
	$(BIN)/flask demo --if-empty
	APN_DEBUG=true $(BIN)/flask run --host 127.0.0.1 --port 5000

## make test: set up, lint, then the whole suite on SQLite and on a temporary PostgreSQL
test: $(STAMP) postgres-binaries chromium axe
	$(BIN)/ruff check .
	APN_TEST_DB=sqlite $(BIN)/pytest
	APN_TEST_DB=postgresql $(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check .

postgres-binaries:
	@bash scripts/ensure-postgres.sh

## chromium, axe: what the browser tests (tests/browser) need: Debian's chromium and axe-core from npm
chromium:
	@bash scripts/ensure-chromium.sh

axe:
	@bash scripts/ensure-axe.sh $(VENV)/axe

## make screenshots: phone and desktop screenshots of the main pages into docs/screenshots/
screenshots: $(STAMP) chromium
	$(BIN)/python scripts/screenshots.py

clean:
	rm -rf $(VENV) instance .pytest_cache
