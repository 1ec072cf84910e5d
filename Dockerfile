# syntax=docker/dockerfile:1
# The report worker: gunicorn serving app:app, configured by gunicorn.conf.py (the same start command
# as render.yaml and railway.json). No secrets and no .env are baked in: see .dockerignore.

FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
# Dependencies first, in their own layer: it is rebuilt only when requirements.txt changes.
COPY requirements.txt .
RUN pip install --compile -r requirements.txt

FROM python:3.11-slim
# MALLOC_ARENA_MAX=2: glibc otherwise gives each job thread its own heap arena, and a process keeps
# the memory of its busiest moment (bench/bench_concurrency.py measures idle memory after a batch)
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    MALLOC_ARENA_MAX=2 \
    APP_ENV=production \
    PORT=8000
RUN useradd --create-home --uid 10001 app
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY --chown=app:app *.py openapi.json ./
# Bytecode compiled once, into the image: no start recompiles the service's modules (the app user may
# not write them, PYTHONDONTWRITEBYTECODE says so too); checked-hash stays right if a file is replaced.
# var/ holds the SQLite store, the EDGAR cache and the host's SEC request slots: the app user must own it.
RUN python -m compileall -q --invalidation-mode checked-hash /app \
    && mkdir -p /app/var && chown app:app /app/var
USER app
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health' % os.environ.get('PORT', '8000'), timeout=4)"
CMD ["gunicorn", "-c", "gunicorn.conf.py", "app:app"]
