# Two commands for a fresh machine:  `make serve`  and  `make test`.
# Each creates or updates the virtualenv (.venv) itself.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PLUGIN_PROJECTS := $(wildcard plugins/*/pyproject.toml)
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8080

.PHONY: serve test lint format system-deps benchmarks vendor

$(STAMP): pyproject.toml $(PLUGIN_PROJECTS)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]' $(foreach p,$(PLUGIN_PROJECTS),-e $(dir $(p)))
	touch $(STAMP)

# three.js from npm (pinned in web-vendor/package-lock.json) into the static files.
vendor:
	bash scripts/vendor.sh

serve: $(STAMP) vendor
	$(BIN)/fabserver serve --host $(HOST) --port $(PORT)

system-deps:
	bash scripts/system-deps.sh

test: $(STAMP) system-deps vendor
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest -n 2 --dist loadgroup

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

benchmarks: $(STAMP)
	$(BIN)/python benchmarks/run_all.py
