"""gunicorn settings: the one place the server is configured (make run, Dockerfile, Render, Railway).

Jobs run in threads inside the worker processes, which shapes three choices:
- workers are never recycled (`max_requests = 0`): recycling would kill running jobs;
- on SIGTERM the master closes the listening socket (new connections are refused) and each worker
  stops taking jobs (a request in flight gets 503), then lets running jobs finish within
  GRACEFUL_TIMEOUT_SECONDS before it exits; jobs still queued keep their lease and are ended by
  another process's sweeper once it expires;
- the worker processes share one job queue (`runner.InstanceQueue`, made here in the master before
  they fork): a free thread of any process takes the next job, and 429 means the instance is full;
- Prometheus samples of all workers are aggregated through PROMETHEUS_MULTIPROC_DIR.
Settings come from the same typed settings object as the app, so a bad value stops the master
before any worker starts.
"""

import os
import shutil
import signal
import tempfile
import time

from config import Settings
from exceptions import ConfigError
from runner import InstanceQueue

try:
    _settings = Settings.from_env()
except ConfigError as exc:
    raise SystemExit(exc.message) from None

# Render and Railway set PORT (it may also come from .env); without it we stay on loopback
bind = f"0.0.0.0:{_settings.port}" if _settings.port else "127.0.0.1:8000"
workers = _settings.web_concurrency
worker_class = "gthread"
threads = _settings.web_threads
timeout = 60  # seconds a worker may go silent; requests are short, jobs run in their own threads
graceful_timeout = int(_settings.graceful_timeout_seconds)
keepalive = 5
max_requests = 0  # never recycle a worker under running jobs
accesslog = "-"
access_log_format = "%(m)s %(U)s %(s)s"  # the query string stays out of logs: it may carry tokens
errorlog = "-"
loglevel = _settings.log_level.lower()
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "observability.JsonFormatter"}},
    "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}},
    "root": {"level": "WARNING", "handlers": []},  # the app installs its own JSON handler on the root logger
    "loggers": {
        "gunicorn.error": {"handlers": ["stderr"], "level": _settings.log_level, "propagate": False},
        "gunicorn.access": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
    },
}

# jobs running at once in the instance, plus jobs waiting (MAX_QUEUED_JOBS is per instance)
instance_queue = (
    InstanceQueue(_settings.web_concurrency * _settings.max_concurrent_jobs + _settings.max_queued_jobs)
    if _settings.queue_backend == "thread"
    else None
)

if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="report-worker-metrics-")


def on_starting(server):
    directory = os.environ["PROMETHEUS_MULTIPROC_DIR"]
    shutil.rmtree(directory, ignore_errors=True)  # samples of a previous run are not ours
    os.makedirs(directory, exist_ok=True)


def post_fork(server, worker):
    """In the new worker process, before its app is built: take jobs from the instance's queue."""
    if instance_queue is not None:
        InstanceQueue.join(instance_queue)


def post_worker_init(worker):
    """Chain our SIGTERM reaction (stop taking jobs) in front of gunicorn's own handler."""
    services = worker.wsgi.extensions["report_worker"]
    previous = signal.getsignal(signal.SIGTERM)

    def on_sigterm(signum, frame):
        worker.sigterm_at = time.monotonic()
        services.runner.stop_accepting()
        if callable(previous):
            previous(signum, frame)

    signal.signal(signal.SIGTERM, on_sigterm)
    signal.siginterrupt(signal.SIGTERM, False)


def worker_exit(server, worker):
    """The worker's HTTP loop has ended: give running jobs the rest of the grace period."""
    app = getattr(worker, "wsgi", None)
    if app is None or "report_worker" not in getattr(app, "extensions", {}):
        return
    started = getattr(worker, "sigterm_at", time.monotonic())
    remaining = max(0.0, graceful_timeout - 2 - (time.monotonic() - started))
    app.extensions["report_worker"].close(wait=True, timeout=remaining)


def child_exit(server, worker):
    from metrics import mark_process_dead

    mark_process_dead(worker.pid)
    if instance_queue is not None:
        instance_queue.forget(worker.pid)  # its reserved and running slots died with it
