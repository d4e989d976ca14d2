# KOSH: `make run` starts the server on SQLite, `make test` runs the whole suite.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install run demo test test-sqlite test-postgres lint format typecheck lock clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/kosh serve --host $(HOST) --port $(PORT)

demo: $(STAMP)
	$(BIN)/kosh demo-data
	$(BIN)/kosh serve --host $(HOST) --port $(PORT)

# The whole suite: SQLite always; PostgreSQL and Redis tests run when the servers answer
# on their standard local ports (CI sets KOSH_TEST_REQUIRE_SERVICES=1 so they must).
test: $(STAMP)
	$(BIN)/python -m pytest -p no:cacheprovider
	KOSH_TEST_DB=postgres $(BIN)/python -m pytest -p no:cacheprovider -m "not browser and not sqlite_only"

test-sqlite: $(STAMP)
	$(BIN)/python -m pytest

test-postgres: $(STAMP)
	KOSH_TEST_DB=postgres $(BIN)/python -m pytest -m "not browser and not sqlite_only"

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

lock:
	$(BIN)/python -m pip freeze --exclude-editable | grep -v '^-e' > constraints.txt

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
