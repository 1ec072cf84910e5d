"""gunicorn settings: the one place the server is configured (make run, Dockerfile, Render, Railway).

Job threads live inside the worker processes, so workers must not be recycled under running jobs
(no max_requests), and the graceful timeout gives running jobs time to finish on SIGTERM.
"""

import os

_platform_port = os.environ.get("PORT")
bind = f"0.0.0.0:{_platform_port}" if _platform_port else "127.0.0.1:8000"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "8"))
timeout = 60
graceful_timeout = int(os.environ.get("GRACEFUL_TIMEOUT_SECONDS", "30"))
keepalive = 5
max_requests = 0
accesslog = "-"
errorlog = "-"
