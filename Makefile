# `make run` starts the router on the embedded defaults; `make test` runs the whole suite.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: run test install install-dev system-deps migrate bench clean

run: install migrate
	$(BIN)/python manage.py serve --no-migrate

test: install-dev system-deps
	$(BIN)/python -m pytest

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $@

# Debian packages the tests drive for real (headless Chromium for the admin, Redis and
# PostgreSQL for scale-out); installed only when missing and when we may.
system-deps:
	@scripts/install-system-deps

migrate: install
	$(BIN)/python manage.py migrate --no-input

bench: install-dev
	@for script in bench/*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

clean:
	rm -rf $(VENV)
