# lake: run `make demo` and `make test` on a fresh machine; both set up .venv themselves.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: help demo test readme lint bench conformance clean venv spark spark-test dbt dbt-test

help: ## Show the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP) ## Create .venv and install lake with its dev tools

demo: $(STAMP) ## Run the main job end to end on local S3 (moto): bronze -> silver -> gold
	$(BIN)/python -m lakehouse.demo

test: $(STAMP) ## Run the test suite (real moto S3, SQLite/PostgreSQL catalogs, DuckDB)
	$(BIN)/pytest --ignore=tests/test_readme.py --ignore=tests/spark --ignore=tests/dbt $(PYTEST_ARGS)

readme: $(STAMP) ## Run every README block, in order, after a small demo (about 3 minutes; CI runs it after make test)
	$(BIN)/pytest tests/test_readme.py $(PYTEST_ARGS)

lint: $(STAMP) ## ruff and mypy
	$(BIN)/ruff check lakehouse tests
	$(BIN)/ruff format --check lakehouse tests
	$(BIN)/mypy lakehouse

bench: $(STAMP) ## Run the benchmarks and write BENCHMARKS.md (minutes; not part of the tests)
	$(BIN)/python -m benchmarks.run

conformance: $(STAMP) ## Wide conformance sweep (seeds, bigger tables, S3 warehouse); writes CONFORMANCE.md
	LAKE_CONFORMANCE=wide $(BIN)/pytest tests/conformance $(PYTEST_ARGS)

spark: $(STAMP) ## Build the local Spark environment in .spark/ from the registries (pyspark, Iceberg, JDBC jars; ~600 MB)
	$(BIN)/python -m lakehouse.dev.sparkenv --dir .spark

spark-test: spark ## Spark <-> lake interop test on the same tables (a few minutes; CI runs it after make readme)
	$(BIN)/pytest tests/spark $(PYTEST_ARGS)

dbt: $(STAMP) ## Build the local dbt environment in .dbt/ from the registries (dbt-core<1.11 and dbt-duckdb)
	$(BIN)/python -m lakehouse.dev.dbtenv --dir .dbt

dbt-test: dbt ## The same dbt project under dbt-duckdb and lake, outputs compared table by table (about a minute)
	$(BIN)/pytest tests/dbt $(PYTEST_ARGS)

clean: ## Remove .venv and the local lake under .lake/
	rm -rf $(VENV) .lake
