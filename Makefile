# GridCollect: the commands a developer and CI need. Python 3.11 and make are enough to start.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
HOST   ?= 127.0.0.1
PORT   ?= 8000
DEMO_CUSTOMERS ?= 300
PYTEST_ARGS ?=
# CI sets CI=true: then the tests must run on PostgreSQL and Redis, never the SQLite fallback.
REQUIRE := $(if $(filter true 1 yes,$(CI)),--require-services,)

.PHONY: help venv run demo test lint format bench messages clean

help:
	@echo "make run     set up, load demo data and serve on http://$(HOST):$(PORT)"
	@echo "make test    run the whole test suite on a throwaway PostgreSQL and Redis"
	@echo "make lint    ruff lint and format check"
	@echo "make bench   run the benchmarks on PostgreSQL and write docs/BENCHMARKS.md"

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev,analysis]"
	touch $(STAMP)

venv: $(STAMP)

demo: venv
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo --customers $(DEMO_CUSTOMERS) --seed 42 --if-empty

run: demo
	@echo "Serving GridCollect on http://$(HOST):$(PORT) (Ctrl-C to stop)"
	$(PY) manage.py runserver $(HOST):$(PORT)

test: venv
	$(PY) scripts/testenv.py $(REQUIRE) -- $(PY) -m pytest $(PYTEST_ARGS)

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: venv
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

bench: venv
	$(PY) scripts/testenv.py --require-services -- $(PY) bench/run.py

messages: venv
	$(PY) manage.py makemessages -l zh_Hans --no-obsolete --no-location -i ".venv/*" -i "static/*" -i "bench/*" -i "tests/*"
	$(PY) manage.py compilemessages -l zh_Hans -i .venv

clean:
	rm -rf $(VENV) db.sqlite3 staticfiles .pytest_cache .ruff_cache
