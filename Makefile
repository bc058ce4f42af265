# `make run` starts the router on the embedded defaults; `make test` checks the import contracts
# and runs the whole suite; `make requirements` regenerates the pinned requirements files.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# pytest-xdist processes; a test file runs whole in one of them (module fixtures start routers).
TEST_WORKERS ?= 3
# e.g. `make requirements PIP_COMPILE_ARGS="--upgrade-package httpx"`
PIP_COMPILE_ARGS ?=
PIP_COMPILE = CUSTOM_COMPILE_COMMAND="make requirements" $(BIN)/pip-compile --quiet \
	--generate-hashes --strip-extras --allow-unsafe --no-emit-index-url --no-emit-find-links \
	$(PIP_COMPILE_ARGS)

.PHONY: run test lint requirements install install-dev system-deps migrate bench clean

run: install migrate
	$(BIN)/python manage.py serve --no-migrate

test: install-dev system-deps lint
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile

# The import directions between packages, written down in .importlinter.
lint: install-dev
	$(BIN)/lint-imports

# requirements.txt and requirements-dev.txt: every dependency, transitive ones included, pinned
# and hashed, from the short lists in requirements.in and requirements-dev.in.
requirements: install-dev
	$(PIP_COMPILE) --output-file requirements.txt requirements.in
	$(PIP_COMPILE) --output-file requirements-dev.txt requirements-dev.in

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
