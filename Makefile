# KOSH: `make run` starts the server on SQLite, `make test` runs the whole suite.
# Needs only Python 3.11+ and make: everything else is installed into .venv from the pins
# in constraints.txt.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000
PYTEST := $(BIN)/python -m pytest -p no:cacheprovider
# Test processes (pytest-xdist), each with its own database, live server and browser; a test
# file stays on one process (`--dist loadfile`), so module fixtures start once. Two, one per
# core of a small CI machine; `make test TEST_WORKERS=0` runs everything in one process. Each
# pass prints its 25 slowest tests (where to look when the suite grows slow).
TEST_WORKERS ?= 2
PARALLEL := -n $(TEST_WORKERS) --dist loadfile --durations=25

.PHONY: install run demo test test-fast coverage-floor test-sqlite test-postgres test-browser screenshots fuzz lint format typecheck lock clean

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "KOSH needs Python 3.11 or newer: run make PYTHON=/path/to/python3.11")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

# Migrations are applied and the `admin` account is created on first start (its password is
# printed once, unless KOSH_ADMIN_PASSWORD is set). Data lives in ./var (KOSH_DATA_DIR).
run: $(STAMP)
	$(BIN)/kosh serve --host $(HOST) --port $(PORT)

demo: $(STAMP)
	@$(BIN)/kosh demo-data --help >/dev/null 2>&1 || { \
		echo "make demo: this version of KOSH has no 'kosh demo-data' command yet." >&2; exit 1; }
	$(BIN)/kosh demo-data
	$(BIN)/kosh serve --host $(HOST) --port $(PORT)

# The whole suite, twice: on SQLite (with the browser tests), then on PostgreSQL (only the
# tests that touch a database: the rest do the same on either engine, see tests/conftest.py).
# PostgreSQL, Redis and chromium tests skip when those are missing, unless
# KOSH_TEST_REQUIRE_SERVICES=1 (as in CI), which turns every such skip into a failure.
# pytest's exit code 5 ("no tests collected") fails either pass: each of them always has tests to run. Both passes measure
# branch coverage; combined, every service module must reach the floor (.ci/coverage_floor.py,
# [tool.kosh.coverage] in pyproject.toml), which lists any module that falls short.
# TEST_WORKERS processes per pass (see above); pytest-cov combines their coverage into one file.
test: $(STAMP)
	rm -f .coverage .coverage.*
	COVERAGE_FILE=.coverage.sqlite $(PYTEST) $(PARALLEL) --cov=kosh --cov-branch --cov-report=
	COVERAGE_FILE=.coverage.postgres KOSH_TEST_DB=postgres $(PYTEST) $(PARALLEL) --cov=kosh --cov-branch --cov-report= -m "not browser and not sqlite_only"
	$(BIN)/coverage combine .coverage.sqlite .coverage.postgres
	$(BIN)/coverage report --skip-covered --skip-empty --sort=cover | tail -n 25
	$(BIN)/python .ci/coverage_floor.py

# The quick loop while working: SQLite, no browser, no slow tests.
test-fast: $(STAMP)
	$(PYTEST) $(PARALLEL) -m "not browser and not slow"

coverage-floor: $(STAMP)
	$(BIN)/python .ci/coverage_floor.py

test-sqlite: $(STAMP)
	$(PYTEST) $(PARALLEL)

test-postgres: $(STAMP)
	KOSH_TEST_DB=postgres $(PYTEST) $(PARALLEL) -m "not browser and not sqlite_only"

test-browser: $(STAMP)
	$(PYTEST) -m browser

# Every page at 390x844 and 1366x850 with demo data, as PNG files in ./screenshots (ignored by
# git), for reviewers: tests/web/test_browser_screenshots.py (needs chromium).
SCREENSHOTS ?= screenshots
screenshots: $(STAMP)
	KOSH_SCREENSHOTS=$(abspath $(SCREENSHOTS)) $(PYTEST) -q -m browser tests/web/test_browser_screenshots.py

# The fuzzing gate: schemathesis over the whole OpenAPI against a live server on SQLite, then
# on PostgreSQL (tests/fuzz/run.py), FUZZ_SECONDS per engine; fails on any 5xx or
# conformance failure. FUZZ_ENGINE=sqlite|postgres runs one engine.
FUZZ_SECONDS ?= 150
FUZZ_ENGINE ?= both
fuzz: $(STAMP)
	$(BIN)/python -m tests.fuzz.run --engine $(FUZZ_ENGINE) --max-time $(FUZZ_SECONDS)

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

typecheck: $(STAMP)
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

# Re-pin after changing dependencies in pyproject.toml.
lock: $(STAMP)
	$(BIN)/python -m pip freeze --exclude-editable | grep -v '^-e' > constraints.txt

# Keeps ./var (the SQLite database and its files): deleting data is done by hand.
clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
