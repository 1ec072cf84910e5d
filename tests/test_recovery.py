"""Jobs whose process dies end exactly once; SIGTERM lets running jobs finish; metrics move."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import asdict
from pathlib import Path

import pytest
import requests

from app import create_app, services_of
from conftest import CALLBACK_SECRET, ROOT, USER_AGENT, WORKER_SECRET, auth_headers, new_payload, pay_for, wait_for, wait_terminal
from store_sqlite import SQLiteStore
from edgar_standin import Fault
from job import JobRequest, JobStatus
from receiver import CallbackReceiver
from recovery import Sweeper

# -- the sweeper -----------------------------------------------------------------------------------


def _abandoned_jobs(store, n, callback_url="https://hooks.example.com/cb"):
    ids = []
    for _ in range(n):
        req = JobRequest(job_id=str(uuid.uuid4()), user_id=str(uuid.uuid4()), ticker="AAPL", callback_url=callback_url)
        pay_for(store, asdict(req))
        store.create_job(req, lease_owner="dead-host:1:x", lease_seconds=0.1)
        ids.append(req.job_id)
    running = ids[: n // 2]
    for job_id in running:  # half of them died while running
        store.claim_job(job_id, owner="dead-host:1:x", lease_seconds=0.1)
    time.sleep(0.3)
    return ids


def test_sweeper_fails_abandoned_jobs_with_one_refund(settings_factory, tmp_path):
    settings = settings_factory()
    store = SQLiteStore(settings.sqlite_path)
    ids = _abandoned_jobs(store, 6)
    assert Sweeper(settings, store).sweep_once() == 6
    for job_id in ids:
        job = store.get_job(job_id)
        assert job.status is JobStatus.FAILED and job.error.code == "JOB_ABANDONED" and job.refunded
        assert store.refund_count(job_id) == 1 and len(store.error_logs(job_id)) == 1
        assert store.callback_delivery(job_id) is not None
    assert Sweeper(settings, store).sweep_once() == 0


def test_racing_sweepers_handle_each_job_once(settings_factory):
    settings = settings_factory()
    setup = SQLiteStore(settings.sqlite_path)
    ids = _abandoned_jobs(setup, 20)
    counts = []

    def sweep():
        counts.append(Sweeper(settings, SQLiteStore(settings.sqlite_path)).sweep_once())

    threads = [threading.Thread(target=sweep) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(counts) == 20
    for job_id in ids:
        assert setup.refund_count(job_id) == 1 and len(setup.error_logs(job_id)) == 1


def test_a_queued_job_left_behind_is_resumed_and_completes(settings_factory, edgar, receiver):
    """A job accepted by a process that stopped before running it is adopted and run elsewhere."""
    settings = settings_factory(APP_ENV="development", SEC_WWW_BASE_URL=edgar.base_url, SEC_DATA_BASE_URL=edgar.base_url)
    store = SQLiteStore(settings.sqlite_path)
    req = JobRequest(job_id=str(uuid.uuid4()), user_id=str(uuid.uuid4()), ticker="AAPL", callback_url=receiver.url)
    store.create_job(req, lease_owner="old-instance:1:x", lease_seconds=0.1)
    time.sleep(0.3)
    app = create_app(settings)  # the new instance: its sweeper runs at start-up
    job = wait_terminal(services_of(app).store, req.job_id)
    assert job.status is JobStatus.COMPLETED and not job.refunded and job.attempts == 1
    wait_for(lambda: receiver.successful(), message="the callback")
    assert _metric(services_of(app).metrics.render()[0].decode(), "report_jobs_recovered_total", action="resumed") == 1
    services_of(app).close()


def test_a_queued_job_that_waited_too_long_is_refunded(settings_factory):
    settings = settings_factory(JOB_TIMEOUT_SECONDS="1", JOB_TIMEOUT_GRACE_SECONDS="0")
    store = SQLiteStore(settings.sqlite_path)
    req = JobRequest(job_id=str(uuid.uuid4()), user_id=str(uuid.uuid4()), ticker="AAPL")
    pay_for(store, asdict(req))
    store.create_job(req, lease_owner="old-instance:1:x", lease_seconds=0.1)
    time.sleep(3.2)  # older than three job timeouts
    from runner import ThreadPoolRunner

    runner = ThreadPoolRunner(settings, store, "me", lambda job_id, control: None)
    assert Sweeper(settings, store, runner=runner).sweep_once() == 1
    job = store.get_job(req.job_id)
    assert job.status is JobStatus.FAILED and job.error.code == "JOB_QUEUE_TIMEOUT" and store.refund_count(req.job_id) == 1
    runner.shutdown(wait=False)


def test_racing_sweepers_adopt_a_queued_job_once(settings_factory):
    from runner import ThreadPoolRunner

    settings = settings_factory()
    setup = SQLiteStore(settings.sqlite_path)
    ids = _abandoned_jobs(setup, 10)
    queued = set(ids[5:])
    ran = []
    runners = [ThreadPoolRunner(settings, SQLiteStore(settings.sqlite_path), f"heir{n}", lambda job_id, control: ran.append(job_id)) for n in range(4)]
    for r in runners:
        r.start()
    threads = [threading.Thread(target=Sweeper(settings, r.store, runner=r).sweep_once) for r in runners]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wait_for(lambda: len(ran) == 5, message="the five queued jobs to run once each")
    time.sleep(0.2)
    assert sorted(ran) == sorted(queued)
    for job_id in ids[:5]:
        assert setup.refund_count(job_id) == 1
    for r in runners:
        r.shutdown(wait=False)


def test_live_jobs_are_left_alone(settings_factory):
    settings = settings_factory()
    store = SQLiteStore(settings.sqlite_path)
    req = JobRequest(job_id=str(uuid.uuid4()), user_id=str(uuid.uuid4()), ticker="AAPL")
    store.create_job(req, lease_owner="alive", lease_seconds=60)
    assert Sweeper(settings, store).sweep_once() == 0
    assert store.get_job(req.job_id).status is JobStatus.QUEUED


# -- metrics ---------------------------------------------------------------------------------------


def _metric(text: str, name: str, **labels) -> float:
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name) and all(f'{k}="{v}"' in line for k, v in labels.items()):
            head, value = line.rsplit(" ", 1)
            if head.split("{")[0] == name:
                total += float(value)
    return total


def test_metrics_move_as_jobs_run(settings_factory, edgar, receiver):
    app = create_app(settings_factory(APP_ENV="development", SEC_WWW_BASE_URL=edgar.base_url, SEC_DATA_BASE_URL=edgar.base_url))
    client = app.test_client()
    assert client.get("/metrics").status_code == 401
    before = client.get("/metrics", headers=auth_headers()).get_data(as_text=True)
    ok, bad = new_payload("AAPL", callback_url=receiver.url), new_payload("ZZZZZZ", callback_url=receiver.url)
    for payload in (ok, bad):
        assert client.post("/generate-report", json=payload, headers=auth_headers()).status_code == 202
    client.post("/generate-report", json={"job_id": "x"}, headers=auth_headers())
    store = services_of(app).store
    for payload in (ok, bad):
        wait_terminal(store, payload["job_id"])
    wait_for(lambda: len(receiver.successful()) == 2, message="two callbacks")
    time.sleep(0.1)
    after = client.get("/metrics", headers=auth_headers()).get_data(as_text=True)
    assert _metric(after, "report_jobs_accepted_total") - _metric(before, "report_jobs_accepted_total") == 2
    assert _metric(after, "report_jobs_rejected_total", reason="INVALID_FIELD") == 1
    assert _metric(after, "report_jobs_finished_total", outcome="completed") == 1
    assert _metric(after, "report_jobs_finished_total", outcome="failed") == 1
    assert _metric(after, "report_refunds_total", reason="TICKER_NOT_FOUND") == 1
    assert _metric(after, "report_stage_seconds_count", stage="extracting") == 1
    assert _metric(after, "callback_attempts_total", result="delivered") == 2
    assert _metric(after, "sec_requests_total") >= 4 and _metric(after, "sec_downloaded_bytes_total") > 1_000_000
    services_of(app).close()


# -- real gunicorn: kill -9 and SIGTERM -------------------------------------------------------------


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _gunicorn(tmp_path, edgar, **env):
    port = _free_port()
    full_env = {
        **os.environ, "APP_ENV": "development", "PORT": str(port), "WEB_CONCURRENCY": "1",
        "WORKER_SECRET": WORKER_SECRET, "CALLBACK_SECRET": CALLBACK_SECRET, "SEC_USER_AGENT": USER_AGENT,
        "SEC_WWW_BASE_URL": edgar.base_url, "SEC_DATA_BASE_URL": edgar.base_url,
        "SQLITE_PATH": str(tmp_path / "store.db"), "EDGAR_CACHE_DIR": str(tmp_path / "cache"),
        "CALLBACK_RETRY_BASE_SECONDS": "0.1", "CALLBACK_POLL_INTERVAL_SECONDS": "0.1", "LOG_LEVEL": "WARNING", **env,
    }
    full_env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    full_env.pop("ANTHROPIC_API_KEY", None)
    log = open(tmp_path / "gunicorn.log", "ab")
    proc = subprocess.Popen([str(Path(sys.executable).parent / "gunicorn"), "-c", "gunicorn.conf.py", "app:app"],
                            cwd=ROOT, env=full_env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"

    def up():
        try:
            return requests.get(f"{base}/health", timeout=1).status_code == 200
        except requests.RequestException:
            return False

    wait_for(up, timeout=30, message="gunicorn up")
    return proc, base


def _workers(master_pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(master_pid)], capture_output=True, text=True).stdout.split()
    return [int(p) for p in out]


@pytest.mark.slow
def test_killed_worker_job_ends_once_after_restart(tmp_path, edgar):
    receiver = CallbackReceiver().start()
    edgar.add_fault(Fault(pattern=r"^/Archives/", kind="slow", delay=30, times=None))  # the job hangs in fetching
    proc, base = _gunicorn(tmp_path, edgar, JOB_LEASE_SECONDS="2", HEARTBEAT_INTERVAL_SECONDS="0.5", SWEEP_INTERVAL_SECONDS="0.5")
    try:
        payload = new_payload("AAPL", callback_url=receiver.url)
        pay_for(SQLiteStore(str(tmp_path / "store.db")), payload)
        assert requests.post(f"{base}/generate-report", json=payload, headers=auth_headers(), timeout=5).status_code == 202

        def status():
            return requests.get(f"{base}/jobs/{payload['job_id']}/status", headers=auth_headers(), timeout=5).json()

        wait_for(lambda: status()["status"] == "running", message="job running")
        old = _workers(proc.pid)
        os.kill(old[0], signal.SIGKILL)
        wait_for(lambda: _workers(proc.pid) and _workers(proc.pid) != old, message="gunicorn to restart the worker")
        final = wait_for(lambda: (lambda s: s if s["status"] not in ("queued", "running") else None)(status()), timeout=30,
                         message="the abandoned job to end")
        assert final["status"] == "failed" and final["refunded"] and final["error"]["code"] == "JOB_ABANDONED"
        wait_for(lambda: receiver.successful(), message="the callback")
        time.sleep(1.5)  # further sweeps must not end it again
        store = SQLiteStore(str(tmp_path / "store.db"))
        assert store.refund_count(payload["job_id"]) == 1 and len(store.error_logs(payload["job_id"])) == 1
        assert len(receiver.successful()) == 1
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
        receiver.stop()


@pytest.mark.slow
def test_sigterm_lets_a_running_job_finish(tmp_path, edgar):
    edgar.add_fault(Fault(pattern=r"^/Archives/", kind="slow", delay=3, times=2))  # both documents take 3 s
    proc, base = _gunicorn(tmp_path, edgar, GRACEFUL_TIMEOUT_SECONDS="25")
    payload = new_payload("AAPL")
    assert requests.post(f"{base}/generate-report", json=payload, headers=auth_headers(), timeout=5).status_code == 202
    wait_for(lambda: requests.get(f"{base}/jobs/{payload['job_id']}/status", headers=auth_headers(), timeout=5).json()["status"] == "running",
             message="job running")
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    proc.wait(40)
    elapsed = time.monotonic() - started
    job = SQLiteStore(str(tmp_path / "store.db")).get_job(payload["job_id"])
    assert job.status is JobStatus.COMPLETED, job
    assert elapsed < 25 and proc.returncode == 0


# -- a heartbeat that races the claim ---------------------------------------------------------------


class SlowClaimStore(SQLiteStore):
    """claim_job answers after the first heartbeat (SupabaseStore: a claim retried after a read timeout)."""

    def claim_job(self, job_id, **kw):
        time.sleep(0.6)  # three heartbeat intervals below
        return super().claim_job(job_id, **kw)


def test_a_heartbeat_before_the_claim_does_not_drop_the_job(tmp_path):
    """Found in review: the work horse's lease keeper heartbeats from the start; while the job still
    sat under its queued lease ("rq:reports") the heartbeat failed and flagged `lease_lost`, which
    stopped the run right after its own claim succeeded. The job stayed `running` with no report and
    no refund until its lease lapsed and a sweeper failed it as JOB_ABANDONED."""
    from conftest import make_settings
    from runner import RQ_QUEUE, JobControl, JobWatch, LeaseKeeper
    from store_contract import request
    from worker import Services, process_job

    settings = make_settings(tmp_path, APP_ENV="development", HEARTBEAT_INTERVAL_SECONDS="0.2", JOB_LEASE_SECONDS="2")
    store = SlowClaimStore(str(tmp_path / "jobs.db"))
    req = request(callback_url=None)
    pay_for(store, asdict(req))
    store.create_job(req, lease_owner=f"rq:{RQ_QUEUE}", lease_seconds=930)  # what the web process does with RQ

    services = Services.build(settings, store=store)  # what run_queued_job does in the work horse
    control = JobControl(job_id=req.job_id, timeout_seconds=settings.job_timeout_seconds)
    with LeaseKeeper(JobWatch(settings, store, services.owner, services.metrics), req.job_id, control):
        job = process_job(req.job_id, services, control)
    assert job.status.is_terminal and control.stop_reason is None
    assert store.refund_count(req.job_id) == (1 if job.refunded else 0)
