"""The one typed settings object, read from the environment (and `.env`) once at start-up.

`Settings.from_env()` checks every value and raises `ConfigError` listing *all* bad settings at
once, so a deploy fails at boot with a message an operator can act on, never later in a job.
Defaults live in `defaults.py`; README.md and .env.example document each variable.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import os
import re
from dataclasses import dataclass, field, fields, replace
from datetime import date
from pathlib import Path
from typing import Mapping
from urllib.parse import urlsplit

import claude_models
import defaults
from exceptions import ConfigError

ENVIRONMENTS = ("development", "test", "production")
QUEUE_BACKENDS = ("thread", "rq")
STORE_BACKENDS = ("sqlite", "supabase")  # database.open_store builds each
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


@dataclass(frozen=True)
class Settings:
    app_env: str = defaults.APP_ENV
    port: int | None = None  # set by Render/Railway; gunicorn.conf.py binds 0.0.0.0:PORT, else 127.0.0.1:8000
    web_concurrency: int = defaults.WEB_CONCURRENCY
    web_threads: int = defaults.WEB_THREADS
    graceful_timeout_seconds: float = defaults.GRACEFUL_TIMEOUT_SECONDS
    log_level: str = defaults.LOG_LEVEL
    worker_secret: str | None = field(default=None, repr=False)

    # jobs
    queue_backend: str = defaults.QUEUE_BACKEND
    redis_url: str | None = field(default=None, repr=False)
    max_concurrent_jobs: int = defaults.MAX_CONCURRENT_JOBS
    max_queued_jobs: int = defaults.MAX_QUEUED_JOBS
    job_timeout_seconds: float = defaults.JOB_TIMEOUT_SECONDS
    job_lease_seconds: float = defaults.JOB_LEASE_SECONDS
    heartbeat_interval_seconds: float = defaults.HEARTBEAT_INTERVAL_SECONDS
    job_timeout_grace_seconds: float = defaults.JOB_TIMEOUT_GRACE_SECONDS
    sweep_interval_seconds: float = defaults.SWEEP_INTERVAL_SECONDS

    # store
    store_backend: str = defaults.STORE_BACKEND
    sqlite_path: str = defaults.SQLITE_PATH
    supabase_url: str | None = None
    supabase_service_key: str | None = field(default=None, repr=False)

    # callbacks
    callback_secret: str | None = field(default=None, repr=False)
    callback_allowed_hosts: tuple[str, ...] = ()
    callback_max_attempts: int = defaults.CALLBACK_MAX_ATTEMPTS
    callback_retry_base_seconds: float = defaults.CALLBACK_RETRY_BASE_SECONDS
    callback_retry_max_delay_seconds: float = defaults.CALLBACK_RETRY_MAX_DELAY_SECONDS
    callback_timeout_seconds: float = defaults.CALLBACK_TIMEOUT_SECONDS
    callback_poll_interval_seconds: float = defaults.CALLBACK_POLL_INTERVAL_SECONDS

    # SEC EDGAR
    sec_user_agent: str | None = None
    sec_www_base_url: str = defaults.SEC_WWW_BASE_URL
    sec_data_base_url: str = defaults.SEC_DATA_BASE_URL
    sec_max_requests_per_second: float = defaults.SEC_MAX_REQUESTS_PER_SECOND
    sec_connect_timeout_seconds: float = defaults.SEC_CONNECT_TIMEOUT_SECONDS
    sec_read_timeout_seconds: float = defaults.SEC_READ_TIMEOUT_SECONDS
    sec_max_retries: int = defaults.SEC_MAX_RETRIES
    sec_retry_base_seconds: float = defaults.SEC_RETRY_BASE_SECONDS
    sec_retry_max_delay_seconds: float = defaults.SEC_RETRY_MAX_DELAY_SECONDS
    sec_block_cooldown_seconds: float = defaults.SEC_BLOCK_COOLDOWN_SECONDS
    edgar_cache_dir: str = defaults.EDGAR_CACHE_DIR
    edgar_metadata_ttl_seconds: float = defaults.EDGAR_METADATA_TTL_SECONDS
    edgar_cache_max_mb: float = defaults.EDGAR_CACHE_MAX_MB

    # Claude
    anthropic_api_key: str | None = field(default=None, repr=False)
    anthropic_base_url: str | None = None
    anthropic_model: str = defaults.ANTHROPIC_MODEL
    anthropic_small_model: str | None = defaults.ANTHROPIC_SMALL_MODEL
    anthropic_max_retries: int = defaults.ANTHROPIC_MAX_RETRIES
    anthropic_timeout_seconds: float = defaults.ANTHROPIC_TIMEOUT_SECONDS
    ai_max_concurrency: int = defaults.AI_MAX_CONCURRENCY
    ai_max_input_tokens_per_report: int = defaults.AI_MAX_INPUT_TOKENS_PER_REPORT
    ai_max_input_tokens_per_item: int = defaults.AI_MAX_INPUT_TOKENS_PER_ITEM
    ai_max_output_tokens_per_item: int = defaults.AI_MAX_OUTPUT_TOKENS_PER_ITEM
    ai_retry_after_cap_seconds: float = defaults.AI_RETRY_AFTER_CAP_SECONDS

    # operations
    sentry_dsn: str | None = field(default=None, repr=False)
    sentry_environment: str | None = None
    sentry_traces_sample_rate: float = 0.0

    @property
    def is_development(self) -> bool:
        return self.app_env == "development"

    def warnings(self) -> list[str]:
        """What development allows but an operator should know at start (logged by the app)."""
        notes = []
        if not self.worker_secret:
            notes.append("WORKER_SECRET is not set: the API accepts requests without authentication (development only)")
        if not self.callback_secret:
            notes.append("CALLBACK_SECRET is not set: callbacks are sent unsigned, receivers cannot verify them (development only)")
        if not self.sec_user_agent:
            notes.append("SEC_USER_AGENT is not set: jobs will fail until it names you and a contact e-mail (development only)")
        if self.queue_backend == "rq" and self.store_backend == "sqlite":
            notes.append(
                "QUEUE_BACKEND=rq with the SQLite store works only while every rq worker runs on this machine with the same "
                "SQLITE_PATH (development only; production needs the Supabase store)"
            )
        return notes

    @property
    def secrets(self) -> tuple[str, ...]:
        """Values that must never appear in logs, error rows or Sentry events."""
        values = (
            self.worker_secret,
            self.callback_secret,
            self.supabase_service_key,
            self.anthropic_api_key,
            self.sentry_dsn,
            self.redis_url if self.redis_url and "@" in self.redis_url else None,
        )
        return tuple(v for v in values if v and len(v) >= 6)

    def with_overrides(self, **changes) -> "Settings":
        return replace(self, **changes)

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] | None = None, *, dotenv_path: str | None = ".env", fallbacks: Mapping[str, str] | None = None
    ) -> "Settings":
        """Read settings from `env` (default: `.env` overlaid by the process environment).

        `fallbacks` apply to variables set nowhere, e.g. the CLI runs with APP_ENV=development.
        """
        if env is None:
            env = _environment_with_dotenv(dotenv_path)
        return _parse({**(fallbacks or {}), **env})


def _environment_with_dotenv(dotenv_path: str | None) -> dict[str, str]:
    merged: dict[str, str] = {}
    if dotenv_path and Path(dotenv_path).is_file():
        from dotenv import dotenv_values

        merged.update({k: v for k, v in dotenv_values(dotenv_path).items() if v is not None})
    merged.update(os.environ)  # the real environment wins over .env
    return merged


class _Reader:
    """Reads typed values from a mapping, collecting every problem instead of stopping at the first."""

    def __init__(self, env: Mapping[str, str]):
        self.env = env
        self.errors: list[str] = []

    def raw(self, name: str) -> str | None:
        value = self.env.get(name)
        if value is None:
            return None
        value = value.strip()
        return value or None

    def text(self, name: str, default: str | None = None) -> str | None:
        value = self.raw(name)
        return default if value is None else value

    def choice(self, name: str, default: str, choices: tuple[str, ...]) -> str:
        value = (self.raw(name) or default).lower()
        if value not in choices:
            self.errors.append(f"{name}={value!r} must be one of {', '.join(choices)}")
            return default
        return value

    def number(self, name: str, default, *, minimum=None, maximum=None, kind=float):
        value = self.raw(name)
        if value is None:
            return default
        try:
            parsed = kind(value)
            if not math.isfinite(parsed):
                raise ValueError(value)  # "nan" passes every bound check, "inf" means never
        except ValueError:
            self.errors.append(f"{name}={value!r} is not a valid {'integer' if kind is int else 'finite number'}")
            return default
        if (minimum is not None and parsed < minimum) or (maximum is not None and parsed > maximum):
            bounds = f"between {minimum} and {maximum}" if maximum is not None else f"at least {minimum}"
            self.errors.append(f"{name}={value!r} must be {bounds}")
            return default
        return parsed

    def url(self, name: str, default: str | None = None, *, schemes=("http", "https")) -> str | None:
        value = self.raw(name)
        if value is None:
            return default
        parts = urlsplit(value)
        if parts.scheme not in schemes or not parts.netloc:
            self.errors.append(f"{name}={value!r} must be an absolute {'/'.join(schemes)} URL")
            return default
        return value.rstrip("/")

    def hosts(self, name: str) -> tuple[str, ...]:
        """Host names, each optionally with the one port a callback to it may name (`host:8443`)."""
        value = self.raw(name) or ""
        hosts = tuple(h.strip().lower() for h in value.split(",") if h.strip())
        for entry in hosts:
            host, _, port = entry.partition(":")
            if "/" in entry or " " in entry or not host or (port and not (port.isdigit() and 1 <= int(port) <= 65535)):
                self.errors.append(f"{name} entry {entry!r} must be a host name, optionally with a port (e.g. abc.supabase.co)")
        return hosts


def _parse(env: Mapping[str, str]) -> Settings:
    r = _Reader(env)
    # APP_ENV_DEFAULT applies only where neither the environment nor .env sets APP_ENV (make run: development)
    app_env = r.choice("APP_ENV", r.choice("APP_ENV_DEFAULT", defaults.APP_ENV, ENVIRONMENTS), ENVIRONMENTS)
    strict = app_env != "development"  # test (staging) is held to production's rules

    settings = Settings(
        app_env=app_env,
        port=r.number("PORT", None, minimum=1, maximum=65535, kind=int),
        web_concurrency=r.number("WEB_CONCURRENCY", defaults.WEB_CONCURRENCY, minimum=1, maximum=64, kind=int),
        web_threads=r.number("WEB_THREADS", defaults.WEB_THREADS, minimum=1, maximum=256, kind=int),
        graceful_timeout_seconds=r.number("GRACEFUL_TIMEOUT_SECONDS", defaults.GRACEFUL_TIMEOUT_SECONDS, minimum=1, maximum=3600),
        log_level=_log_level(r),
        worker_secret=r.text("WORKER_SECRET"),
        queue_backend=r.choice("QUEUE_BACKEND", defaults.QUEUE_BACKEND, QUEUE_BACKENDS),
        redis_url=r.url("REDIS_URL", schemes=("redis", "rediss", "unix")),
        max_concurrent_jobs=r.number("MAX_CONCURRENT_JOBS", defaults.MAX_CONCURRENT_JOBS, minimum=1, maximum=64, kind=int),
        max_queued_jobs=r.number("MAX_QUEUED_JOBS", defaults.MAX_QUEUED_JOBS, minimum=0, maximum=10000, kind=int),
        job_timeout_seconds=r.number("JOB_TIMEOUT_SECONDS", defaults.JOB_TIMEOUT_SECONDS, minimum=1, maximum=3600),
        job_lease_seconds=r.number("JOB_LEASE_SECONDS", defaults.JOB_LEASE_SECONDS, minimum=1, maximum=3600),
        heartbeat_interval_seconds=r.number(
            "HEARTBEAT_INTERVAL_SECONDS", defaults.HEARTBEAT_INTERVAL_SECONDS, minimum=0.05, maximum=600
        ),
        job_timeout_grace_seconds=r.number(
            "JOB_TIMEOUT_GRACE_SECONDS", defaults.JOB_TIMEOUT_GRACE_SECONDS, minimum=0, maximum=600
        ),
        sweep_interval_seconds=r.number("SWEEP_INTERVAL_SECONDS", defaults.SWEEP_INTERVAL_SECONDS, minimum=0.05, maximum=3600),
        store_backend=r.choice("STORE_BACKEND", defaults.STORE_BACKEND, STORE_BACKENDS),
        sqlite_path=r.text("SQLITE_PATH", defaults.SQLITE_PATH),
        supabase_url=r.url("SUPABASE_URL"),
        supabase_service_key=r.text("SUPABASE_SERVICE_KEY"),
        callback_secret=r.text("CALLBACK_SECRET"),
        callback_allowed_hosts=r.hosts("CALLBACK_ALLOWED_HOSTS"),
        callback_max_attempts=r.number("CALLBACK_MAX_ATTEMPTS", defaults.CALLBACK_MAX_ATTEMPTS, minimum=1, maximum=50, kind=int),
        callback_retry_base_seconds=r.number(
            "CALLBACK_RETRY_BASE_SECONDS", defaults.CALLBACK_RETRY_BASE_SECONDS, minimum=0.01, maximum=3600
        ),
        callback_retry_max_delay_seconds=r.number(
            "CALLBACK_RETRY_MAX_DELAY_SECONDS", defaults.CALLBACK_RETRY_MAX_DELAY_SECONDS, minimum=0.01, maximum=86400
        ),
        callback_timeout_seconds=r.number(
            "CALLBACK_TIMEOUT_SECONDS", defaults.CALLBACK_TIMEOUT_SECONDS, minimum=0.1, maximum=120
        ),
        callback_poll_interval_seconds=r.number(
            "CALLBACK_POLL_INTERVAL_SECONDS", defaults.CALLBACK_POLL_INTERVAL_SECONDS, minimum=0.01, maximum=300
        ),
        sec_user_agent=r.text("SEC_USER_AGENT"),
        sec_www_base_url=r.url("SEC_WWW_BASE_URL", defaults.SEC_WWW_BASE_URL),
        sec_data_base_url=r.url("SEC_DATA_BASE_URL", defaults.SEC_DATA_BASE_URL),
        sec_max_requests_per_second=r.number(
            "SEC_MAX_REQUESTS_PER_SECOND",
            defaults.SEC_MAX_REQUESTS_PER_SECOND,
            minimum=0.1,
            maximum=defaults.SEC_MAX_REQUESTS_PER_SECOND_CEILING,
        ),
        sec_connect_timeout_seconds=r.number(
            "SEC_CONNECT_TIMEOUT_SECONDS", defaults.SEC_CONNECT_TIMEOUT_SECONDS, minimum=0.1, maximum=120
        ),
        sec_read_timeout_seconds=r.number("SEC_READ_TIMEOUT_SECONDS", defaults.SEC_READ_TIMEOUT_SECONDS, minimum=0.1, maximum=600),
        sec_max_retries=r.number("SEC_MAX_RETRIES", defaults.SEC_MAX_RETRIES, minimum=0, maximum=10, kind=int),
        sec_retry_base_seconds=r.number("SEC_RETRY_BASE_SECONDS", defaults.SEC_RETRY_BASE_SECONDS, minimum=0.01, maximum=60),
        sec_retry_max_delay_seconds=r.number(
            "SEC_RETRY_MAX_DELAY_SECONDS", defaults.SEC_RETRY_MAX_DELAY_SECONDS, minimum=0.1, maximum=600
        ),
        sec_block_cooldown_seconds=r.number(
            "SEC_BLOCK_COOLDOWN_SECONDS", defaults.SEC_BLOCK_COOLDOWN_SECONDS, minimum=0, maximum=86400
        ),
        edgar_cache_dir=r.text("EDGAR_CACHE_DIR", defaults.EDGAR_CACHE_DIR),
        edgar_metadata_ttl_seconds=r.number(
            "EDGAR_METADATA_TTL_SECONDS", defaults.EDGAR_METADATA_TTL_SECONDS, minimum=0, maximum=30 * 86400
        ),
        edgar_cache_max_mb=r.number("EDGAR_CACHE_MAX_MB", defaults.EDGAR_CACHE_MAX_MB, minimum=0, maximum=1_000_000),
        anthropic_api_key=r.text("ANTHROPIC_API_KEY"),
        anthropic_base_url=r.url("ANTHROPIC_BASE_URL"),
        anthropic_model=r.text("ANTHROPIC_MODEL", defaults.ANTHROPIC_MODEL),
        anthropic_small_model=_optional_model(r.raw("ANTHROPIC_SMALL_MODEL"), defaults.ANTHROPIC_SMALL_MODEL),
        anthropic_max_retries=r.number("ANTHROPIC_MAX_RETRIES", defaults.ANTHROPIC_MAX_RETRIES, minimum=0, maximum=10, kind=int),
        anthropic_timeout_seconds=r.number(
            "ANTHROPIC_TIMEOUT_SECONDS", defaults.ANTHROPIC_TIMEOUT_SECONDS, minimum=1, maximum=600
        ),
        ai_max_concurrency=r.number("AI_MAX_CONCURRENCY", defaults.AI_MAX_CONCURRENCY, minimum=1, maximum=32, kind=int),
        ai_max_input_tokens_per_report=r.number(
            "AI_MAX_INPUT_TOKENS_PER_REPORT", defaults.AI_MAX_INPUT_TOKENS_PER_REPORT, minimum=1000, maximum=2_000_000, kind=int
        ),
        ai_max_input_tokens_per_item=r.number(
            "AI_MAX_INPUT_TOKENS_PER_ITEM", defaults.AI_MAX_INPUT_TOKENS_PER_ITEM, minimum=500, maximum=1_000_000, kind=int
        ),
        ai_max_output_tokens_per_item=r.number(
            "AI_MAX_OUTPUT_TOKENS_PER_ITEM", defaults.AI_MAX_OUTPUT_TOKENS_PER_ITEM, minimum=256, maximum=21_000, kind=int
        ),
        ai_retry_after_cap_seconds=r.number(
            "AI_RETRY_AFTER_CAP_SECONDS", defaults.AI_RETRY_AFTER_CAP_SECONDS, minimum=0, maximum=600
        ),
        sentry_dsn=r.url("SENTRY_DSN"),
        sentry_environment=r.text("SENTRY_ENVIRONMENT"),
        sentry_traces_sample_rate=r.number("SENTRY_TRACES_SAMPLE_RATE", 0.0, minimum=0, maximum=1),
    )

    # Rules that involve several settings.
    if strict and not settings.worker_secret:
        r.errors.append("WORKER_SECRET is required (set APP_ENV=development to run without it locally)")
    if settings.worker_secret and len(settings.worker_secret) < 16:
        r.errors.append("WORKER_SECRET must be at least 16 characters")
    if strict and not settings.callback_secret:
        r.errors.append("CALLBACK_SECRET is required: callbacks must be signed (Standard Webhooks, whsec_...)")
    if settings.callback_secret and not _valid_webhook_secret(settings.callback_secret):
        r.errors.append("CALLBACK_SECRET must be a Standard Webhooks secret: 'whsec_' followed by base64 of 24-64 bytes")
    if strict and not settings.callback_allowed_hosts:
        r.errors.append("CALLBACK_ALLOWED_HOSTS is required: the hosts callbacks may be sent to (e.g. abc.supabase.co)")
    if strict and not settings.sec_user_agent:
        r.errors.append(
            "SEC_USER_AGENT is required: the SEC's fair-access policy asks every client to declare "
            "who it is, e.g. 'Acme Research ops@acme.com'"
        )
    if settings.sec_user_agent and not _EMAIL.search(settings.sec_user_agent):
        r.errors.append("SEC_USER_AGENT must contain a name and a contact e-mail address, e.g. 'Acme Research ops@acme.com'")
    supabase_settings = {"SUPABASE_URL": settings.supabase_url, "SUPABASE_SERVICE_KEY": settings.supabase_service_key}
    if settings.store_backend == "supabase" and not all(supabase_settings.values()):
        missing = " and ".join(name for name, value in supabase_settings.items() if not value)
        r.errors.append(f"STORE_BACKEND=supabase needs {missing} (the project URL and its secret key)")
    if settings.store_backend != "supabase" and any(supabase_settings.values()):
        r.errors.append(
            f"SUPABASE_URL and SUPABASE_SERVICE_KEY are settings of the Supabase store, but STORE_BACKEND is "
            f"{settings.store_backend}: set STORE_BACKEND=supabase to use that store, or unset them"
        )
    if settings.supabase_url:
        r.errors.extend(supabase_url_problems(settings.supabase_url))
    if settings.supabase_service_key:
        r.errors.extend(supabase_key_problems(settings.supabase_service_key))
    if settings.queue_backend == "rq" and not settings.redis_url:
        r.errors.append("QUEUE_BACKEND=rq needs REDIS_URL")
    if strict and settings.queue_backend == "rq" and settings.store_backend == "sqlite":
        r.errors.append(
            "QUEUE_BACKEND=rq needs the Supabase store (STORE_BACKEND=supabase): the RQ workers and "
            "the web service each have their own SQLite file, so no worker would ever see a job (use QUEUE_BACKEND=thread "
            "for a single service with SQLite)"
        )
    if settings.heartbeat_interval_seconds >= settings.job_lease_seconds:
        r.errors.append("HEARTBEAT_INTERVAL_SECONDS must be shorter than JOB_LEASE_SECONDS")
    for name, value in (("ANTHROPIC_MODEL", settings.anthropic_model), ("ANTHROPIC_SMALL_MODEL", settings.anthropic_small_model)):
        gone = claude_models.retired(value, date.today().isoformat()) if value else None
        if gone:
            r.errors.append(f"{name}={value!r} was retired on {gone}: the API no longer serves it (use {defaults.ANTHROPIC_MODEL})")

    if r.errors:
        raise ConfigError("invalid configuration:\n  - " + "\n  - ".join(r.errors))
    return settings


_SUPABASE_SECRET_KEY = re.compile(r"sb_secret_[A-Za-z0-9_\-]+")
_JWT = re.compile(r"[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+")


def supabase_url_problems(url: str) -> list[str]:
    """The project URL as the dashboard shows it: https://<ref>.supabase.co (http only for a local Supabase)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.scheme != "https" and not (parts.scheme == "http" and host in ("localhost", "127.0.0.1", "::1")):
        return [f"SUPABASE_URL={url!r} must use https (http only for a local Supabase on localhost)"]
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username or parts.password:
        return [f"SUPABASE_URL={url!r} must be the project URL alone, e.g. https://abc.supabase.co (no path such as /rest/v1)"]
    try:
        parts.port
    except ValueError:
        return [f"SUPABASE_URL={url!r} has an invalid port"]
    return []


def supabase_key_problems(key: str) -> list[str]:
    """The secret key (sb_secret_...) or the legacy service_role JWT; a publishable or anon key cannot write."""
    if key.startswith("sb_publishable_"):
        return ["SUPABASE_SERVICE_KEY is a publishable key: use the secret key (sb_secret_...) or the legacy service_role JWT"]
    if _SUPABASE_SECRET_KEY.fullmatch(key):
        return []
    if _JWT.fullmatch(key):
        try:
            payload = key.split(".")[1]
            claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        except (ValueError, binascii.Error):
            return ["SUPABASE_SERVICE_KEY looks like a JWT but its payload cannot be read: copy the whole key again"]
        role = claims.get("role") if isinstance(claims, dict) else None
        if role != "service_role":
            return [f"SUPABASE_SERVICE_KEY is a JWT for the role {role!r}: use the secret key (sb_secret_...) or the service_role JWT"]
        return []
    return ["SUPABASE_SERVICE_KEY is malformed: expected the secret key (sb_secret_...) or the legacy service_role JWT (eyJ...)"]


def _log_level(r: _Reader) -> str:
    value = (r.raw("LOG_LEVEL") or defaults.LOG_LEVEL).upper()
    if value not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        r.errors.append(f"LOG_LEVEL={value!r} must be one of DEBUG, INFO, WARNING, ERROR")
        return defaults.LOG_LEVEL
    return value


def _optional_model(value: str | None, default: str) -> str | None:
    if value is None:
        return default
    return None if value.lower() in ("none", "off", "") else value


def _valid_webhook_secret(secret: str) -> bool:
    if not secret.startswith("whsec_"):
        return False
    try:
        key = base64.b64decode(secret[len("whsec_") :] + "==", validate=False)
    except (binascii.Error, ValueError):
        return False
    return 24 <= len(key) <= 64


def setting_names() -> list[str]:
    """The environment variable of every field, for the docs test (README and .env.example)."""
    return [f.name.upper() for f in fields(Settings)]
