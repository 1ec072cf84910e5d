"""A real gunicorn with two worker processes: 20 jobs posted, their statuses polled across processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import requests

from conftest import CALLBACK_SECRET, ROOT, USER_AGENT, WORKER_SECRET, wait_for

pytestmark = pytest.mark.slow


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def gunicorn(edgar, tmp_path):
    port = free_port()
    env = {
        **os.environ,
        "APP_ENV": "production",
        "PORT": str(port),
        "WEB_CONCURRENCY": "2",
        "WORKER_SECRET": WORKER_SECRET,
        "CALLBACK_SECRET": CALLBACK_SECRET,
        "CALLBACK_ALLOWED_HOSTS": "hooks.example.com",
        "SEC_USER_AGENT": USER_AGENT,
        "SEC_WWW_BASE_URL": edgar.base_url,
        "SEC_DATA_BASE_URL": edgar.base_url,
        "SQLITE_PATH": str(tmp_path / "store.db"),
        "EDGAR_CACHE_DIR": str(tmp_path / "cache"),
        "MAX_CONCURRENT_JOBS": "4",
        "MAX_QUEUED_JOBS": "20",
        "LOG_LEVEL": "WARNING",
    }
    env.pop("ANTHROPIC_API_KEY", None)
    log = open(tmp_path / "gunicorn.log", "w")
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "-c", "gunicorn.conf.py", "app:app"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _up(base), timeout=30, message="gunicorn to answer /health")
        yield base, tmp_path / "store.db", proc.pid
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(40)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def _up(base):
    try:
        return requests.get(f"{base}/health", timeout=1).status_code == 200
    except requests.RequestException:
        return False


def test_twenty_jobs_across_two_processes(gunicorn):
    base, db, master = gunicorn
    workers = subprocess.run(["pgrep", "-P", str(master)], capture_output=True, text=True).stdout.split()
    assert len(workers) == 2  # two worker processes share the listening socket
    headers = {"Authorization": f"Bearer {WORKER_SECRET}"}
    tickers = ["AAPL", "NVDA", "TSLA", "ZZZZZZ"] * 5
    jobs = {}
    session = requests.Session()
    for ticker in tickers:
        job_id = str(uuid.uuid4())
        r = session.post(f"{base}/generate-report", json={"job_id": job_id, "user_id": str(uuid.uuid4()), "ticker": ticker},
                         headers=headers, timeout=10)
        assert r.status_code == 202, r.text
        jobs[job_id] = ticker

    def all_done():
        statuses = {}
        for job_id in jobs:
            # a fresh connection per poll, so the two processes take turns answering
            r = requests.get(f"{base}/jobs/{job_id}/status", headers=headers, timeout=10)
            assert r.status_code == 200, r.text
            body = r.json()
            assert body["job_id"] == job_id and body["ticker"] == jobs[job_id]
            statuses[job_id] = body
        return statuses if all(s["status"] in ("completed", "failed", "completed_refunded") for s in statuses.values()) else None

    statuses = wait_for(all_done, timeout=240, interval=0.5, message="20 jobs to finish")
    for job_id, body in statuses.items():
        if jobs[job_id] == "ZZZZZZ":
            assert body["status"] == "failed" and body["refunded"] and body["error"]["code"] == "TICKER_NOT_FOUND"
        else:
            assert body["status"] == "completed" and body["report_id"] and not body["refunded"]

    import sqlite3

    conn = sqlite3.connect(db)
    # posted directly (no Edge Function spent a token): the refund decisions are recorded, nothing credited
    assert conn.execute("SELECT COUNT(*) FROM report_jobs WHERE refunded = 1").fetchone()[0] == 5
    assert conn.execute("SELECT COUNT(*) FROM token_transactions").fetchone()[0] == 0
    attempts = [row[0] for row in conn.execute("SELECT attempts FROM report_jobs")]
    assert attempts == [1] * 20  # every job ran exactly once

    # /metrics aggregates both worker processes, whichever one answers the scrape
    for _ in range(4):
        text = requests.get(f"{base}/metrics", headers=headers, timeout=10).text
        finished = sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith("report_jobs_finished_total{"))
        accepted = sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith("report_jobs_accepted_total"))
        assert finished == 20 and accepted == 20


def test_production_boot_fails_clearly_without_secrets(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("WORKER_SECRET", "CALLBACK_SECRET", "SEC_USER_AGENT")}
    env.update({"APP_ENV": "production", "PORT": str(free_port()), "WEB_CONCURRENCY": "1", "SQLITE_PATH": str(tmp_path / "x.db")})
    result = subprocess.run([str(Path(sys.executable).parent / "gunicorn"), "-c", "gunicorn.conf.py", "app:app"],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "WORKER_SECRET is required" in result.stderr + result.stdout
    assert "SEC_USER_AGENT is required" in result.stderr + result.stdout
