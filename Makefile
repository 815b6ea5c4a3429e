# audit-pipeline: `make demo` runs the pipeline end to end on local defaults; `make test` runs every check.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export AUDIT_PIPELINE_HOME ?= $(CURDIR)/.audit_pipeline

.PHONY: install demo test lint typecheck unit bench bench-smoke dev serve clean browser-deps postgres-deps

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

browser-deps:
	@command -v chromium >/dev/null 2>&1 || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null)

# The shared-catalog tests start their own PostgreSQL server (127.0.0.1 only) from Debian's binaries.
postgres-deps:
	@ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null)

demo: install
	$(BIN)/python -m audit_pipeline.demo

lint: install
	$(BIN)/ruff check audit_pipeline tests benchmarks

typecheck: install
	$(BIN)/mypy

# Two workers (the machine's cores), a test file each, so a module's fixtures are built once.
unit: install browser-deps postgres-deps
	$(BIN)/pytest -q -n 2 --dist loadfile

test: lint typecheck unit

bench: install
	$(BIN)/python -m benchmarks.run

dev: install
	$(BIN)/python -c "from audit_pipeline.dagster_home import ensure_dagster_home; from audit_pipeline.settings import paths_from_env; ensure_dagster_home(paths_from_env().ensure())"
	VIRTUAL_ENV=$(CURDIR)/$(VENV) DAGSTER_HOME=$${DAGSTER_HOME:-$(AUDIT_PIPELINE_HOME)/dagster} \
		$(BIN)/python -m audit_pipeline.dev_aws $(BIN)/dg dev -h 127.0.0.1 -p 3000

serve: install
	$(BIN)/audit-pipeline serve

clean:
	rm -rf $(AUDIT_PIPELINE_HOME)
