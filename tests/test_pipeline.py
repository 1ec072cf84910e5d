"""Jobs end to end: real corpus filings served by the EDGAR stand-in, a real callback receiver.

Each terminal state must leave exactly one refund (or none), one error row per failure and one
callback, whatever stage failed.
"""

from __future__ import annotations

import json
import time

import pytest
from standardwebhooks import Webhook

from app import create_app, services_of
from conftest import CALLBACK_SECRET, auth_headers, new_payload, pay_for, wait_for, wait_terminal
from database import CALLBACK_DELIVERED
from edgar_standin import Fault
from exceptions import StoreRejected
from job import JobStatus
from worker import Pipeline, Services


def start_app(settings, **parts):
    return create_app(settings, services=Services.build(settings, **parts).start())


@pytest.fixture
def settings(settings_factory, edgar):
    # development allows callbacks to http://127.0.0.1 (the local receiver); the secret is still enforced
    return settings_factory(APP_ENV="development", SEC_WWW_BASE_URL=edgar.base_url, SEC_DATA_BASE_URL=edgar.base_url)


def run_job(app, receiver, ticker="AAPL"):
    payload = new_payload(ticker, callback_url=receiver.url)
    pay_for(services_of(app).store, payload)  # as the Edge Function does: a refund gives this token back
    response = app.test_client().post("/generate-report", json=payload, headers=auth_headers())
    assert response.status_code == 202, response.get_json()
    store = services_of(app).store
    job = wait_terminal(store, payload["job_id"])
    wait_for(lambda: store.callback_delivery(job.job_id).status == CALLBACK_DELIVERED, message="callback delivered")
    return payload, store.get_job(job.job_id)


def verified_callbacks(receiver, job_id):
    bodies = []
    for delivery in receiver.successful():
        body = Webhook(CALLBACK_SECRET).verify(delivery.body, delivery.headers)
        if body["job_id"] == job_id:
            bodies.append(body)
    return bodies


def test_corpus_company_completes_with_report(settings, receiver):
    app = start_app(settings)
    payload, job = run_job(app, receiver, "AAPL")
    store = services_of(app).store
    assert job.status is JobStatus.COMPLETED and not job.refunded and job.report_id
    report = store.get_report(job.report_id)
    assert report["ticker"] == "AAPL" and report["company_name"] == "Apple Inc."
    assert report["filings"]["older"]["period_of_report"] == "2024-09-28"
    assert report["filings"]["newer"]["period_of_report"] == "2025-09-27"
    assert report["filings"]["newer"]["sha256"] == "0" * 0 + report["filings"]["newer"]["sha256"] and len(report["filings"]["newer"]["sha256"]) == 64
    assert report["items"]["newer"]["1A"]["status"] == "present" and report["items"]["newer"]["1A"]["word_count"] > 5000
    assert report["quality"]["is_valid"] and report["ai_provider"] == "offline"
    assert list(report["stage_seconds"]) == ["fetching", "extracting", "diffing", "summarizing", "validating"]
    assert report["diff"]["items"]["1A"]["stats"]["change_score"] >= 0
    assert store.refund_count(job.job_id) == 0 and store.error_logs(job.job_id) == []
    callbacks = verified_callbacks(receiver, job.job_id)
    assert callbacks == [
        {"job_id": job.job_id, "status": "completed", "report_id": job.report_id, "refunded": False, "error": None, "error_log_id": None}
    ]
    status = app.test_client().get(f"/jobs/{job.job_id}/status", headers=auth_headers()).get_json()
    assert status["status"] == "completed" and status["progress"] == 100 and status["stage"] == "done"
    services_of(app).close()


def test_unknown_ticker_fails_with_one_refund_and_one_callback(settings, receiver):
    app = start_app(settings)
    payload, job = run_job(app, receiver, "ZZZZZZ")
    store = services_of(app).store
    assert job.status is JobStatus.FAILED and job.refunded and job.error.code == "TICKER_NOT_FOUND"
    assert store.refund_count(job.job_id) == 1 and store.token_balance(payload["user_id"]) == 1
    logs = store.error_logs(job.job_id)
    assert len(logs) == 1 and logs[0]["code"] == "TICKER_NOT_FOUND" and logs[0]["stage"] == "fetching"
    assert verified_callbacks(receiver, job.job_id) == [
        {
            "job_id": job.job_id,
            "status": "failed",
            "report_id": None,
            "refunded": True,
            "error": {"code": "TICKER_NOT_FOUND", "message": job.error.message},
            "error_log_id": logs[0]["id"],
        }
    ]
    services_of(app).close()


def _boom(*args, **kwargs):
    raise RuntimeError("injected failure")


class _FailingSummarizer:
    def summarize(self, diff, *, deadline=None):
        raise RuntimeError("injected summarizer failure")


@pytest.mark.parametrize(
    "stage, parts, expected_code",
    [
        ("fetching", {}, "SEC_UNAVAILABLE"),  # the stand-in answers 503 for the submissions, every time
        ("extracting", {"pipeline": Pipeline(extract=_boom)}, "INTERNAL_ERROR"),
        ("diffing", {"pipeline": Pipeline(diff=_boom)}, "INTERNAL_ERROR"),
        ("summarizing", {"summarizer": _FailingSummarizer()}, "INTERNAL_ERROR"),
        ("validating", {"pipeline": Pipeline(validate=_boom)}, "INTERNAL_ERROR"),
        ("saving", {}, "STORE_REJECTED"),
    ],
)
def test_failure_at_each_stage_refunds_once(settings, receiver, edgar, stage, parts, expected_code):
    if stage == "fetching":
        edgar.add_fault(Fault(pattern=r"^/submissions/", kind="status", status=503, times=None))
    app = start_app(settings, **parts)
    services = services_of(app)
    if stage == "saving":
        def reject(*args, **kwargs):
            raise StoreRejected("injected: the report row was refused")

        services.store.complete_job = reject
    payload, job = run_job(app, receiver, "AAPL")
    store = services.store
    assert job.status is JobStatus.FAILED and job.refunded and job.error.code == expected_code
    assert job.error.message and "injected failure" not in job.error.message  # unexpected errors are not leaked
    assert store.refund_count(job.job_id) == 1 and store.token_balance(payload["user_id"]) == 1
    logs = store.error_logs(job.job_id)
    assert len(logs) == 1 and logs[0]["stage"] == stage
    time.sleep(0.3)  # a second callback, if any, would have been sent by now
    assert len(verified_callbacks(receiver, job.job_id)) == 1
    services.close()


def test_callback_failures_never_change_the_outcome(settings_factory, edgar):
    from receiver import CallbackReceiver

    receiver = CallbackReceiver(fail_first=3, fail_status=500).start()
    settings = settings_factory(APP_ENV="development", SEC_WWW_BASE_URL=edgar.base_url, SEC_DATA_BASE_URL=edgar.base_url)
    app = start_app(settings)
    payload, job = run_job(app, receiver, "AAPL")
    store = services_of(app).store
    assert job.status is JobStatus.COMPLETED and store.refund_count(job.job_id) == 0
    attempts = store.callback_attempts(store.callback_delivery(job.job_id).delivery_id)
    assert [a.status_code for a in attempts] == [500, 500, 500, 200]
    ids = {d.headers["webhook-id"] for d in receiver.received()}
    assert len(ids) == 1  # every retry is the same message
    receiver.stop()
    services_of(app).close()


def test_timeout_fails_and_refunds(settings_factory, edgar, receiver):
    edgar.add_fault(Fault(pattern=r"^/submissions/", kind="slow", delay=2.5, times=None))
    settings = settings_factory(
        APP_ENV="development", SEC_WWW_BASE_URL=edgar.base_url, SEC_DATA_BASE_URL=edgar.base_url, JOB_TIMEOUT_SECONDS="1"
    )
    app = start_app(settings)
    payload, job = run_job(app, receiver, "AAPL")
    store = services_of(app).store
    assert job.status is JobStatus.FAILED and job.error.code == "JOB_TIMEOUT"
    assert store.refund_count(job.job_id) == 1 and len(store.error_logs(job.job_id)) == 1
    assert len(verified_callbacks(receiver, job.job_id)) == 1
    services_of(app).close()


def test_stuck_job_is_failed_by_the_watchdog(settings_factory, edgar, receiver):
    """A stage that never checks its deadline cannot keep the token: the watchdog fails the job."""

    def stuck_extract(content):
        time.sleep(4)
        from section_extractor import extract_items

        return extract_items(content)

    settings = settings_factory(
        APP_ENV="development",
        SEC_WWW_BASE_URL=edgar.base_url,
        SEC_DATA_BASE_URL=edgar.base_url,
        JOB_TIMEOUT_SECONDS="1",
        JOB_TIMEOUT_GRACE_SECONDS="0.5",
    )
    app = start_app(settings, pipeline=Pipeline(extract=stuck_extract))
    started = time.monotonic()
    payload, job = run_job(app, receiver, "AAPL")
    assert time.monotonic() - started < 4  # failed before the stuck stage returned
    store = services_of(app).store
    assert job.status is JobStatus.FAILED and job.error.code == "JOB_TIMEOUT" and job.error and job.refunded
    time.sleep(4)  # let the stuck thread finish: its late report must not land
    job = store.get_job(job.job_id)
    assert job.status is JobStatus.FAILED and job.report_id is None and store.refund_count(job.job_id) == 1
    assert len(verified_callbacks(receiver, job.job_id)) == 1
    services_of(app).close()


def test_report_json_is_stored_whole(settings, receiver):
    app = start_app(settings)
    _, job = run_job(app, receiver, "NVDA")
    report = services_of(app).store.get_report(job.report_id)
    for key in (
        "ticker", "company_name", "filings", "items", "diff", "ai_summaries", "ai_provider", "quality",
        "ai_cost_usd", "total_tokens", "generation_time_seconds", "extraction_issues",
    ):
        assert key in report, key
    assert json.loads(json.dumps(report)) == report
    assert report["filings"]["older"]["accession"] == "0001045810-24-000029"
    assert report["filings"]["newer"]["accession"] == "0001045810-25-000023"
    services_of(app).close()


def test_the_page_is_rendered_and_stored_with_the_report(settings, receiver):
    from render import render_html

    app = start_app(settings)
    _, job = run_job(app, receiver, "AAPL")
    store = services_of(app).store
    page = store.get_report_html(job.report_id)
    assert page == render_html(store.get_report(job.report_id))  # the stored report, rendered in the pipeline
    assert page.startswith("<!DOCTYPE html>") and "<h1>Apple Inc. (AAPL)</h1>" in page
    services_of(app).close()


def test_a_page_that_fails_to_render_never_costs_the_report(settings, receiver):
    app = start_app(settings, pipeline=Pipeline(render=_boom))
    _, job = run_job(app, receiver, "AAPL")
    store = services_of(app).store
    assert job.status is JobStatus.COMPLETED and not job.refunded
    assert store.get_report(job.report_id)["ticker"] == "AAPL" and store.get_report_html(job.report_id) is None
    services_of(app).close()


def test_claude_summaries_and_cost_reach_the_report(settings_factory, edgar, receiver):
    from anthropic_standin import AnthropicStandIn

    claude = AnthropicStandIn(thinking_tokens=50).start()
    settings = settings_factory(
        APP_ENV="development", SEC_WWW_BASE_URL=edgar.base_url, SEC_DATA_BASE_URL=edgar.base_url,
        ANTHROPIC_API_KEY="sk-ant-test", ANTHROPIC_BASE_URL=claude.base_url,
    )
    app = start_app(settings)
    _, job = run_job(app, receiver, "AAPL")
    report = services_of(app).store.get_report(job.report_id)
    served = [r.usage for r in claude.message_requests() if r.usage]
    assert report["ai_provider"] == "anthropic" and report["ai_model"] == "claude-sonnet-5-5"
    assert report["ai_summaries"]["items"] and report["ai_summaries"]["executive_summary"]
    assert report["total_tokens"] == sum(u["input_tokens"] + u["output_tokens"] + u["cache_creation_input_tokens"] + u["cache_read_input_tokens"] for u in served)
    assert 0 < report["ai_cost_usd"] < 0.2
    assert report["ai_summaries"]["usage"]["requests"] == len(served)
    claude.stop()
    services_of(app).close()


def test_jobs_queued_behind_a_stuck_job_still_run(settings_factory, edgar, receiver):
    """One slot, one stuck job: the watchdog fails it, a fresh worker takes the slot, and the job queued
    behind it completes; while the stuck thread lives and fills every slot, /ready says so."""
    import threading

    release = threading.Event()
    calls = []

    def extract_stuck_once(content):
        from section_extractor import extract_items

        calls.append(1)
        if len(calls) == 1:
            release.wait(20)  # the first document of the first job hangs until the test lets it go
        return extract_items(content)

    settings = settings_factory(
        APP_ENV="development", SEC_WWW_BASE_URL=edgar.base_url, SEC_DATA_BASE_URL=edgar.base_url,
        MAX_CONCURRENT_JOBS="1", MAX_QUEUED_JOBS="2", JOB_TIMEOUT_SECONDS="4", JOB_TIMEOUT_GRACE_SECONDS="0.5",
    )
    app = start_app(settings, pipeline=Pipeline(extract=extract_stuck_once))
    client = app.test_client()
    stuck, queued = new_payload("AAPL", callback_url=receiver.url), new_payload("NVDA", callback_url=receiver.url)
    pay_for(services_of(app).store, stuck)
    for payload in (stuck, queued):
        assert client.post("/generate-report", json=payload, headers=auth_headers()).status_code == 202
    store = services_of(app).store
    assert wait_terminal(store, stuck["job_id"]).error.code == "JOB_TIMEOUT"
    wait_for(lambda: client.get("/ready").status_code == 503, timeout=5, message="/ready to report the stuck slot")
    assert client.get("/ready").get_json()["status"] == "stuck"
    assert wait_terminal(store, queued["job_id"]).status is JobStatus.COMPLETED  # ran on the replacement worker
    release.set()
    wait_for(lambda: client.get("/ready").status_code == 200, timeout=10, message="/ready once the thread is gone")
    assert store.get_job(stuck["job_id"]).report_id is None and store.refund_count(stuck["job_id"]) == 1
    services_of(app).close()
