"""Structured logs (one JSON object per line, `job_id` on every line of a job) and Sentry.

The job id travels in a context variable: `job_context(job_id)` binds it for the code of one job,
and every log record made inside picks it up, whatever logger made it. Threads started for a job
must carry the context along (`contextvars.copy_context().run`), as `ai_analyzer` does.

Secrets are removed twice: known secret values are masked in every log line, and Sentry events go
through `scrub_event`, which drops credentials by key name and masks the same values.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import re
import sys
import traceback
from datetime import datetime, timezone
from typing import Any, Iterable, Iterator

from config import Settings

_job_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("job_id", default=None)

REDACTED = "[redacted]"
_SENSITIVE_KEY = re.compile(r"authorization|api[-_]?key|secret|token|password|passwd|cookie|dsn|signature", re.I)
_BEARER = re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/=-]{8,}")
_STANDARD_FIELDS = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime", "taskName"}


def current_job_id() -> str | None:
    return _job_id.get()


@contextlib.contextmanager
def job_context(job_id: str) -> Iterator[None]:
    token = _job_id.set(job_id)
    try:
        yield
    finally:
        _job_id.reset(token)


class Scrubber:
    """Masks secret values and credential-looking fields in strings and nested data."""

    def __init__(self, secrets: Iterable[str] = ()):
        self.secrets = tuple(sorted({s for s in secrets if s}, key=len, reverse=True))

    def text(self, value: str) -> str:
        for secret in self.secrets:
            if secret in value:
                value = value.replace(secret, REDACTED)
        return _BEARER.sub(r"\1 " + REDACTED, value)

    def data(self, value: Any, _depth: int = 0) -> Any:
        if _depth > 20:
            return value
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {
                k: (REDACTED if isinstance(k, str) and _SENSITIVE_KEY.search(k) and v not in (None, "") else self.data(v, _depth + 1))
                for k, v in value.items()
            }
        if isinstance(value, (list, tuple)):
            return type(value)(self.data(v, _depth + 1) for v in value)
        return value


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, msg, job_id, then the record's extra fields."""

    def __init__(self, scrubber: Scrubber | None = None):
        super().__init__()
        self.scrubber = scrubber or Scrubber()

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if record.name == "gunicorn.access" and isinstance(record.args, dict):
            entry.update(_access_fields(record.args))
        job_id = getattr(record, "job_id", None) or current_job_id()
        if job_id:
            entry["job_id"] = job_id
        for key, value in record.__dict__.items():
            if key not in _STANDARD_FIELDS and key not in entry and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exc_type"] = record.exc_info[0].__name__ if record.exc_info[0] else None
            entry["exc"] = "".join(traceback.format_exception(*record.exc_info)).rstrip()
        return json.dumps(self.scrubber.data(entry), default=str, ensure_ascii=False)


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever `sys.stderr` is now (test runners swap it), not to the one seen at start."""

    def __init__(self):
        super().__init__(sys.stderr)

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value):
        pass


def _access_fields(atoms: dict) -> dict[str, Any]:
    """gunicorn's access-log atoms as fields (never the query string: it may carry tokens)."""
    try:
        status = int(atoms.get("s"))
    except (TypeError, ValueError):
        status = None
    return {
        "method": atoms.get("m"),
        "path": atoms.get("U"),
        "status": status,
        "duration_ms": round(int(atoms.get("D") or 0) / 1000, 1),
        "bytes": atoms.get("B"),
        "remote": atoms.get("h"),
        "user_agent": atoms.get("a"),
    }


def configure_logging(level: str = "INFO", secrets: Iterable[str] = (), stream=None) -> None:
    """Route every logger (ours, gunicorn's, libraries') through one JSON handler on stderr."""
    handler = logging.StreamHandler(stream) if stream is not None else _StderrHandler()
    handler.setFormatter(JsonFormatter(Scrubber(secrets)))
    root = logging.getLogger()
    for old in list(root.handlers):
        if getattr(old, "_report_worker", False):
            root.removeHandler(old)
    handler._report_worker = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
    for noisy in ("urllib3", "httpx", "httpx2", "httpcore", "anthropic", "hpack"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))


def init_sentry(dsn: str | None, *, environment: str, release: str, traces_sample_rate: float, secrets: Iterable[str]) -> bool:
    """Start Sentry when a DSN is set: no PII, and every event scrubbed before it leaves."""
    if not dsn:
        return False
    import sentry_sdk
    from sentry_sdk.integrations.logging import LoggingIntegration

    scrubber = Scrubber(secrets)

    def before_send(event, hint):
        job_id = current_job_id()
        if job_id:
            event.setdefault("tags", {})["job_id"] = job_id
        return scrub_event(event, scrubber)

    sentry_sdk.init(
        dsn=dsn,
        environment=environment,
        release=release,
        # No PII: no user identity, no request bodies, no local variables (they may hold settings).
        data_collection={"user_info": False, "http_bodies": [], "stack_frame_variables": False},
        traces_sample_rate=traces_sample_rate,
        before_send=before_send,
        before_send_transaction=lambda event, hint: scrub_event(event, scrubber),
        integrations=[LoggingIntegration(level=logging.INFO, event_level=logging.ERROR)],
    )
    return True


def scrub_event(event: dict, scrubber: Scrubber) -> dict:
    """Remove credentials from a Sentry event: request headers, cookies, bodies and every string."""
    request = event.get("request")
    if isinstance(request, dict):
        headers = request.get("headers")
        if isinstance(headers, dict):
            request["headers"] = {k: (REDACTED if _SENSITIVE_KEY.search(k) else v) for k, v in headers.items()}
        request.pop("cookies", None)
        if "data" in request:
            request["data"] = REDACTED
    return scrubber.data(event)


def setup(settings: Settings, *, release: str) -> None:
    """Logging and Sentry for a process (web worker, RQ work horse), from the settings."""
    configure_logging(settings.log_level, settings.secrets)
    init_sentry(
        settings.sentry_dsn,
        environment=settings.sentry_environment or settings.app_env,
        release=release,
        traces_sample_rate=settings.sentry_traces_sample_rate,
        secrets=settings.secrets,
    )
