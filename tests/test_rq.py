"""QUEUE_BACKEND=rq against the real Redis: the web enqueues, `rq worker` processes run the jobs."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from app import create_app, services_of
from conftest import ROOT, auth_headers, new_payload, pay_for, port_open, require, wait_for
from job import JobStatus

REDIS_URL = "redis://127.0.0.1:6379/15"


@pytest.fixture
def redis_db():
    require(port_open("127.0.0.1", 6379), "Redis is not running on 127.0.0.1:6379")
    from redis import Redis

    connection = Redis.from_url(REDIS_URL)
    connection.flushdb()
    yield connection
    connection.flushdb()


@pytest.fixture
def rq_settings(settings_factory, edgar, redis_db):
    return settings_factory(
        APP_ENV="development", QUEUE_BACKEND="rq", REDIS_URL=REDIS_URL, MAX_QUEUED_JOBS="3",
        SEC_WWW_BASE_URL=edgar.base_url, SEC_DATA_BASE_URL=edgar.base_url,
    )


def run_rq_worker(settings, tmp_path):
    env = {**os.environ, "APP_ENV": "development", "QUEUE_BACKEND": "rq", "REDIS_URL": REDIS_URL,
           "SQLITE_PATH": settings.sqlite_path, "SEC_USER_AGENT": settings.sec_user_agent,
           "SEC_WWW_BASE_URL": settings.sec_www_base_url, "SEC_DATA_BASE_URL": settings.sec_data_base_url,
           "EDGAR_CACHE_DIR": str(tmp_path / "cache"), "CALLBACK_SECRET": settings.callback_secret, "LOG_LEVEL": "WARNING"}
    env.pop("ANTHROPIC_API_KEY", None)
    import shlex

    import yaml

    # the worker service's start command from render.yaml, in burst mode so it exits when done
    declared = next(s for s in yaml.safe_load((ROOT / "render.yaml").read_text())["services"] if s["type"] == "worker")
    command = shlex.split(declared["dockerCommand"])
    assert command[0] == "python"
    return subprocess.run([sys.executable, *command[1:], "--burst"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=180)


def test_jobs_run_in_rq_workers(rq_settings, receiver, tmp_path, redis_db):
    app = create_app(rq_settings)
    client = app.test_client()
    good, bad = new_payload("AAPL", callback_url=receiver.url), new_payload("ZZZZZZ", callback_url=receiver.url)
    pay_for(services_of(app).store, bad)
    for payload in (good, bad):
        assert client.post("/generate-report", json=payload, headers=auth_headers()).status_code == 202
    store = services_of(app).store
    assert store.get_job(good["job_id"]).lease_owner == "rq:reports"
    assert services_of(app).runner.counts() == (0, 2)

    result = run_rq_worker(rq_settings, tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert store.get_job(good["job_id"]).status is JobStatus.COMPLETED
    failed = store.get_job(bad["job_id"])
    assert failed.status is JobStatus.FAILED and failed.refunded and store.refund_count(bad["job_id"]) == 1
    wait_for(lambda: len(receiver.successful()) == 2, message="both callbacks")
    # the work horses' counters reach the web service's /metrics (found in review: they died with the horses)
    metrics = client.get("/metrics", headers=auth_headers()).get_data(as_text=True)
    assert 'report_jobs_finished_total{outcome="completed"} 1.0' in metrics
    assert 'report_jobs_finished_total{outcome="failed"} 1.0' in metrics
    assert 'report_refunds_total{reason="TICKER_NOT_FOUND"} 1.0' in metrics
    assert 'report_stage_seconds_count{stage="fetching"} 2.0' in metrics  # the failed job's fetching stage too
    assert 'report_stage_seconds_count{stage="extracting"} 1.0' in metrics
    assert 'report_jobs_in_process{state="queued"} 0.0' in metrics  # refreshed at the scrape
    assert "report_jobs_accepted_total 2.0" in metrics  # the web's own, still there
    services_of(app).close()


def test_full_redis_queue_is_429_and_records_nothing(rq_settings, redis_db):
    app = create_app(rq_settings)
    client = app.test_client()
    for _ in range(3):
        assert client.post("/generate-report", json=new_payload(), headers=auth_headers()).status_code == 202
    extra = new_payload()
    response = client.post("/generate-report", json=extra, headers=auth_headers())
    assert response.status_code == 429 and response.headers["Retry-After"]
    assert services_of(app).store.get_job(extra["job_id"]) is None
    services_of(app).close()


def test_a_job_lost_by_redis_is_recovered(rq_settings, redis_db):
    """If Redis loses a queued job, its lease lapses and recovery refunds it once."""
    from recovery import Sweeper

    settings = rq_settings.with_overrides(job_timeout_seconds=0.1, job_timeout_grace_seconds=0.0)
    app = create_app(settings)
    payload = new_payload()
    pay_for(services_of(app).store, payload)
    assert app.test_client().post("/generate-report", json=payload, headers=auth_headers()).status_code == 202
    redis_db.flushdb()  # Redis restarted without persistence
    store = services_of(app).store
    wait_for(lambda: Sweeper(settings, store).sweep_once() or store.get_job(payload["job_id"]).status.is_terminal, timeout=5)
    job = store.get_job(payload["job_id"])
    assert job.status is JobStatus.FAILED and job.error.code == "JOB_ABANDONED" and store.refund_count(job.job_id) == 1
    services_of(app).close()


# -- Redis refusing the job ---------------------------------------------------------------------------


def unused_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def full_redis(tmp_path):
    """A Redis of our own that is full: `noeviction` (render.yaml's policy) at its memory limit
    answers reads but refuses every write with OOM."""
    import shutil
    import time

    from redis import Redis

    binary = shutil.which("redis-server")
    require(binary is not None, "redis-server is not installed")
    port = unused_port()
    server = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: port_open("127.0.0.1", port), timeout=10, message="redis-server")
        url = f"redis://127.0.0.1:{port}/0"
        Redis.from_url(url).config_set("maxmemory-policy", "noeviction")
        Redis.from_url(url).config_set("maxmemory", 1)
        time.sleep(0.05)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_a_job_redis_refuses_is_failed_and_refunded_at_once(settings_factory, receiver, full_redis):
    """Found in review: enqueue raised after the job was recorded; the POST answered 500, a retry
    answered 200 "queued", and the job sat in no queue until its 15-minute lease lapsed."""
    settings = settings_factory(APP_ENV="development", QUEUE_BACKEND="rq", REDIS_URL=full_redis)
    app = create_app(settings)
    client = app.test_client()
    payload = new_payload(callback_url=receiver.url)
    pay_for(services_of(app).store, payload)
    response = client.post("/generate-report", json=payload, headers=auth_headers())
    assert response.status_code == 202 and response.get_json() == {"job_id": payload["job_id"], "status": "failed"}
    store = services_of(app).store
    job = store.get_job(payload["job_id"])
    assert job.status is JobStatus.FAILED and job.error.code == "QUEUE_UNAVAILABLE" and store.refund_count(job.job_id) == 1
    retry = client.post("/generate-report", json=payload, headers=auth_headers())
    assert retry.status_code == 200 and retry.get_json()["status"] == "failed" and store.refund_count(job.job_id) == 1
    wait_for(lambda: len(receiver.successful()) == 1, message="the failure's callback")
    services_of(app).close()


def test_redis_down_is_503_and_records_nothing(settings_factory):
    settings = settings_factory(APP_ENV="development", QUEUE_BACKEND="rq", REDIS_URL=f"redis://127.0.0.1:{unused_port()}/0")
    app = create_app(settings)
    payload = new_payload()
    response = app.test_client().post("/generate-report", json=payload, headers=auth_headers())
    assert response.status_code == 503 and response.headers["Retry-After"]
    assert response.get_json()["error"]["code"] == "QUEUE_UNAVAILABLE"
    assert services_of(app).store.get_job(payload["job_id"]) is None
    services_of(app).close()
