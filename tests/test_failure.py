"""One failure path: the pipeline, the watchdog and the lease sweeper each end a job with an error row
of the same shape, one refund and one callback, and count it once however often they look at it."""

from __future__ import annotations

import time
import uuid
from dataclasses import asdict

from conftest import pay_for
from job import JobRequest, JobStatus, Stage
from metrics import Metrics
from recovery import Sweeper
from runner import JobControl, JobWatch
from worker import Pipeline, Services, process_job


def _boom(content):
    raise RuntimeError("injected failure with a secret in it")


def _paid_job(store, *, lease_owner: str) -> str:
    request = JobRequest(job_id=str(uuid.uuid4()), user_id=str(uuid.uuid4()), ticker="AAPL",
                         callback_url="https://hooks.example.com/cb")
    pay_for(store, asdict(request))
    store.create_job(request, lease_owner=lease_owner, lease_seconds=60)
    return request.job_id


def _stuck(settings, job_id: str) -> JobControl:
    """A job's control as the watchdog sees it past its deadline and grace period."""
    overdue = settings.job_timeout_seconds + settings.job_timeout_grace_seconds + 1
    return JobControl(job_id=job_id, timeout_seconds=settings.job_timeout_seconds, started=time.monotonic() - overdue)


def test_the_three_failure_paths_write_one_record_shape_and_count_once(settings_factory, edgar):
    settings = settings_factory(APP_ENV="development", SEC_WWW_BASE_URL=edgar.base_url, SEC_DATA_BASE_URL=edgar.base_url)
    metrics = Metrics()
    services = Services.build(settings, metrics=metrics, pipeline=Pipeline(extract=_boom))  # not started: no threads
    store, owner = services.store, services.owner

    # the pipeline: a stage raises an unexpected error
    by_pipeline = _paid_job(store, lease_owner=owner)
    for _ in range(2):  # the second run finds the job finished
        process_job(by_pipeline, services)

    # the watchdog: a job of this process stuck past its deadline (two watchdogs, as two looks of one)
    by_watchdog = _paid_job(store, lease_owner=owner)
    store.claim_job(by_watchdog, owner=owner, lease_seconds=60)
    store.record_progress(by_watchdog, owner=owner, stage=Stage.DIFFING, progress=Stage.DIFFING.progress)
    for _ in range(2):
        JobWatch(settings, store, owner, metrics).tend(by_watchdog, _stuck(settings, by_watchdog), heartbeat=False, running=lambda: True)

    # the sweeper: the process running the job died (its lease has lapsed)
    by_sweeper = _paid_job(store, lease_owner="dead-host:1:x")
    store.claim_job(by_sweeper, owner="dead-host:1:x", lease_seconds=-1)
    assert [Sweeper(settings, store, metrics=metrics).sweep_once() for _ in range(2)] == [1, 0]

    rows = {}
    for job_id in (by_pipeline, by_watchdog, by_sweeper):
        job = store.get_job(job_id)
        logs = store.error_logs(job_id)
        assert job.status is JobStatus.FAILED and job.refunded and store.refund_count(job_id) == 1
        assert len(logs) == 1 and store.callback_delivery(job_id) is not None
        assert (job.error.code, job.error.message, job.error_log_id) == (logs[0]["code"], logs[0]["message"], logs[0]["id"])
        rows[job_id] = logs[0]

    shapes = {job_id: {key: type(value) for key, value in row.items()} for job_id, row in rows.items()}
    assert shapes[by_pipeline] == shapes[by_watchdog] == shapes[by_sweeper]
    assert {row["code"]: (row["stage"], row["details"]) for row in rows.values()} == {
        "INTERNAL_ERROR": ("extracting", {"exception": "RuntimeError"}),  # the type, never the message
        "JOB_TIMEOUT": ("diffing", {}),
        "JOB_ABANDONED": ("fetching", {"lease_owner": "dead-host:1:x", "attempts": 1}),
    }
    assert "secret" not in rows[by_pipeline]["message"]

    def count(name: str, **labels: str) -> float:
        return metrics.registry.get_sample_value(name, labels) or 0.0

    assert count("report_jobs_finished_total", outcome="failed") == 3
    assert [count("report_refunds_total", reason=code) for code in ("INTERNAL_ERROR", "JOB_TIMEOUT", "JOB_ABANDONED")] == [1, 1, 1]
    assert count("report_jobs_recovered_total", action="failed") == 1
    services.close()
