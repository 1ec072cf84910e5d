"""Shared test fixtures: settings, the EDGAR stand-in, a callback receiver, the app, and services.

Required services (the corpus, PostgreSQL, Redis) skip their tests with a reason on a machine
without them, except under CI (`CI=true`), where a missing service fails the test instead.
"""

from __future__ import annotations

import base64
import os
import socket
import sys
import time
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from config import Settings  # noqa: E402
from edgar_standin import EdgarStandIn  # noqa: E402
from receiver import CallbackReceiver  # noqa: E402

import defaults  # noqa: E402

WORKER_SECRET = "test-worker-secret-0123456789"
CALLBACK_SECRET = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()
USER_AGENT = "Report Worker Tests tests@example.com"


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require(condition: bool, reason: str) -> None:
    """Skip when a required service is absent; under CI, fail instead."""
    if condition:
        return
    if in_ci():
        pytest.fail(f"required under CI: {reason}")
    pytest.skip(reason)


def corpus_dir() -> Path:
    return (ROOT / os.environ.get("EDGAR_CORPUS_DIR", defaults.EDGAR_CORPUS_DIR)).resolve()


def port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def corpus() -> Path:
    path = corpus_dir()
    require((path / "manifest.json").is_file(),
            f"the EDGAR corpus is not at {path}: run `make corpus` to fetch it from SEC EDGAR (needs SEC_USER_AGENT), "
            f"or set EDGAR_CORPUS_DIR to where it is")
    return path


@pytest.fixture
def edgar(corpus):
    """The EDGAR stand-in, showing EDGAR as of the end of 2025 (when the corpus' newest filings were)."""
    server = EdgarStandIn(corpus, as_of="2025-12-31").start()
    yield server
    server.stop()


@pytest.fixture
def receiver():
    server = CallbackReceiver().start()
    yield server
    server.stop()


def make_settings(tmp_path: Path, **env: str) -> Settings:
    """Test settings: production rules (secrets required) unless APP_ENV says otherwise."""
    base = {
        "APP_ENV": "test",
        "WORKER_SECRET": WORKER_SECRET,
        "CALLBACK_SECRET": CALLBACK_SECRET,
        "CALLBACK_ALLOWED_HOSTS": "hooks.example.com,127.0.0.1",
        "SQLITE_PATH": str(tmp_path / "store.db"),
        "SEC_USER_AGENT": USER_AGENT,
        "EDGAR_CACHE_DIR": str(tmp_path / "edgar-cache"),
        "SEC_MAX_RETRIES": "2",
        "CALLBACK_RETRY_BASE_SECONDS": "0.05",
        "CALLBACK_RETRY_MAX_DELAY_SECONDS": "0.2",
        "CALLBACK_POLL_INTERVAL_SECONDS": "0.05",
        "HEARTBEAT_INTERVAL_SECONDS": "0.2",
        "JOB_LEASE_SECONDS": "5",
        "LOG_LEVEL": "WARNING",
    }
    base.update(env)
    return Settings.from_env(base)


@pytest.fixture
def settings_factory(tmp_path):
    return lambda **env: make_settings(tmp_path, **env)


def auth_headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {WORKER_SECRET}"}


def new_payload(ticker: str = "AAPL", callback_url: str | None = None, **extra) -> dict:
    payload = {"job_id": str(uuid.uuid4()), "user_id": str(uuid.uuid4()), "ticker": ticker}
    if callback_url:
        payload["callback_url"] = callback_url
    payload.update(extra)
    return payload


def pay_for(store, payload: dict) -> None:
    """What the Edge Function does before it POSTs a job: one token bought, then spent for this job
    (the job is recorded, waiting for the worker). Without it a refund has nothing to give back."""
    from job import JobRequest, normalize_ticker

    request = JobRequest(
        job_id=payload["job_id"], user_id=payload["user_id"], ticker=normalize_ticker(payload["ticker"]),
        callback_url=payload.get("callback_url"),
    )
    store.credit_tokens(request.user_id, 1, f"pay_{request.job_id}")
    store.spend_token_for_job(request)


def wait_for(predicate, timeout: float = 30.0, interval: float = 0.05, message: str = "condition"):
    """Poll until `predicate()` returns something truthy; return it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {message}")


def wait_terminal(store, job_id: str, timeout: float = 60.0):
    return wait_for(
        lambda: (lambda j: j if j and j.status.is_terminal else None)(store.get_job(job_id)),
        timeout=timeout,
        message=f"job {job_id} to finish",
    )
