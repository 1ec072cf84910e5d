# Two commands on a fresh machine: `make run` and `make test`. Both create .venv when missing.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed

# The Python that builds .venv and the one that built the .venv there (empty: none, or its Python is gone).
# When they differ, .venv is rebuilt: a .venv of another Python fails in ways that waste an afternoon.
PYTHON_ID := $(shell $(PYTHON) -c 'import sys; print(sys.base_prefix, sys.version.split()[0])' 2>/dev/null)
VENV_ID := $(shell $(PY) -c 'import sys; print(sys.base_prefix, sys.version.split()[0])' 2>/dev/null)
ifneq ($(PYTHON_ID),$(VENV_ID))
$(INSTALLED): FORCE
endif

.PHONY: run test bench corpus clean FORCE

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

## run: start the service on the embedded defaults (SQLite store, in-process pool, offline summarizer).
##      APP_ENV comes from the environment, then .env, and is development when neither sets it.
run: $(INSTALLED)
	APP_ENV_DEFAULT=development MALLOC_ARENA_MAX=2 $(VENV)/bin/gunicorn -c gunicorn.conf.py app:app

## test: the whole test suite
test: $(INSTALLED)
	$(PY) -m pytest

## bench: every benchmark under bench/, each printing a table (installs the extractors we compare with)
bench: $(INSTALLED)
	$(PY) -m pip install --quiet -r requirements-bench.txt
	$(PY) -m bench

## corpus: fetch the test and benchmark corpus from SEC EDGAR into EDGAR_CORPUS_DIR (checks every sha256).
##         Needs SEC_USER_AGENT ("<name> <e-mail>", the SEC's fair-access rule), from the environment or .env.
corpus: $(INSTALLED)
	$(PY) tests/fetch_corpus.py

## clean: remove .venv and everything the service wrote (var/); `make run` or `make test` rebuilds it
clean:
	rm -rf $(VENV) var .pytest_cache
	find . -name __pycache__ -type d -prune -not -path './.git/*' -exec rm -rf {} +

FORCE:
