# The two commands of the README:
#   make demo   install, migrate, seed demo users and run the Procfile's processes on embedded defaults
#   make test   install and run the test suite (TEST_WORKERS processes in parallel), on the
#               embedded PostgreSQL and Valkey under var/test unless DATABASE_URL / REDIS_URL are set
PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
TEST_WORKERS ?= 2

.PHONY: demo test install install-dev run migrate

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

migrate: install
	$(BIN)/python manage.py migrate --noinput

# The Procfile's processes (web on PORT, ws on PORT+1, workers, beat): apps/simulator/demo.py.
demo: install
	$(BIN)/python manage.py demo --host $(HOST) --port $(PORT)

test: install-dev
	@start=$$(date +%s); status=0; \
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist worksteal $(PYTEST_ARGS) || status=$$?; \
	echo "make test: $$(( $$(date +%s) - start )) s wall time, $(TEST_WORKERS) workers"; exit $$status
