# FaceSite: `make run` starts everything, `make test` runs the test suite.
# Both install into .venv first (once; again only when a requirements file changes).

SHELL := bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
REQUIREMENTS := requirements.txt requirements-dev.txt requirements-nodeps.txt

# One BLAS/OpenMP thread per process: workers run one process per core, and with the
# libraries' defaults two processes on two cores ran 84% slower than with one each.
export OMP_NUM_THREADS ?= 1
export OPENBLAS_NUM_THREADS ?= 1
export MKL_NUM_THREADS ?= 1

.PHONY: help install run web worker beat test lint migrate superuser

help:
	@echo "make run        install, migrate, and start web + workers + beat (+ Redis)"
	@echo "make test       install and run the test suite (PYTEST_ARGS=... to pass options)"
	@echo "make lint       ruff check, ruff format --check, makemigrations --check"
	@echo "make web | worker | beat   start one role (e.g. a worker on another machine)"
	@echo "make superuser  create an admin user"

install: $(STAMP)
	@mkdir -p var/staticfiles media

# face_recognition names the source-only `dlib` distribution; requirements.txt has the
# prebuilt dlib-bin wheel instead, so face_recognition goes in without dependencies.
$(STAMP): $(REQUIREMENTS)
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	$(BIN)/python -m pip install --quiet --no-deps -r requirements-nodeps.txt
	@touch $@

run: install
	bin/run

web worker beat: install
	bin/run $@

migrate: install
	$(BIN)/python manage.py migrate --noinput

superuser: migrate
	$(BIN)/python manage.py createsuperuser

# pytest exits 5 when it collected nothing: that is a broken suite, not a pass.
test: install
	@$(BIN)/pytest $(PYTEST_ARGS); status=$$?; \
	if [ $$status -eq 5 ]; then echo "ERROR: pytest collected no tests" >&2; fi; \
	exit $$status

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python manage.py makemigrations --check --dry-run
