"""SupabaseStore's retries, through the home-made PostgREST stand-in (tests/postgrest_standin.py).

Everything else about the Supabase store runs against the real PostgREST 12 behind our thin gateway
(tests/test_store_supabase.py). These tests need faults real PostgREST cannot be made to produce on
one chosen call: a 503/504 from its pool, a gateway's 502 HTML page, a connection dropped before the
call or after its commit (the answer lost), so the stand-in stays for them: a transient failure is
retried and never doubles a report, a refund or a callback; retries are bounded; the service key is
never logged; a whole job survives such blips.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone

import pytest

from exceptions import StoreUnavailable
from job import JobStatus
from pg_support import migrated_database, require_postgres, truncate_all
from postgrest_standin import PostgrestStandIn
from store import CallbackAttemptRecord
from store_contract import FAILURE, OWNER, report_record, request
from store_contract import running as paid_running
from store_races import row_counts
from store_supabase import SupabaseStore

from conftest import auth_headers, new_payload, pay_for, wait_for, wait_terminal


@pytest.fixture(scope="module")
def database():
    require_postgres()
    with migrated_database("store_sb") as dsn:
        yield dsn


@pytest.fixture(scope="module")
def standin(database):
    server = PostgrestStandIn(database).start()
    yield server
    server.stop()


def connect(standin, key=None, **options) -> SupabaseStore:
    return SupabaseStore.connect(standin.url, key or standin.service_key, retry_base_seconds=0.01, **options)


@pytest.fixture
def store(standin, database):
    truncate_all(database)
    standin.reset()
    s = connect(standin)
    yield s
    s.close()


def running(store):
    return paid_running(store)  # paid for, so that a refund gives a token back


# -- transient failures are retried and never double anything -------------------------------------


@pytest.mark.parametrize("faults", [("503",), ("504",), ("502-html",), ("drop",), ("drop-after-commit",), ("504-after-commit",), ("503", "drop", "drop-after-commit")])
def test_complete_job_survives_transient_failures(store, standin, database, faults):
    req = running(store)
    standin.inject("complete_job", *faults)
    record = report_record()
    outcome = store.complete_job(req.job_id, owner=OWNER, report=record, refund=True, refund_reason="ITEM_MISSING")
    # a replay of a call that had committed still reports the change it made
    assert outcome.changed and outcome.job.status is JobStatus.COMPLETED_REFUNDED and outcome.job.report_id == record.report_id
    assert standin.calls["complete_job"] == len(faults) + 1
    assert row_counts(database, req.job_id) == {"reports": 1, "refunds": 1, "error_logs": 0, "callbacks": 1}
    assert store.token_balance(req.user_id) == 1 and store.get_report(record.report_id) == record.body


def test_fail_job_survives_an_answer_lost_after_commit(store, standin, database):
    req = running(store)
    standin.inject("fail_job", "drop-after-commit", "504-after-commit")
    outcome = store.fail_job(req.job_id, failure=FAILURE, owner=OWNER)
    assert outcome.changed and outcome.job.status is JobStatus.FAILED
    assert row_counts(database, req.job_id) == {"reports": 0, "refunds": 1, "error_logs": 1, "callbacks": 1}
    assert store.token_balance(req.user_id) == 1
    assert not store.fail_job(req.job_id, failure=FAILURE).changed  # a new call is not a replay


def test_create_and_claim_survive_answers_lost_after_commit(store, standin):
    req = request()
    standin.inject("create_job", "drop-after-commit")
    standin.inject("claim_job", "drop-after-commit")
    job, created = store.create_job(req, lease_owner=OWNER, lease_seconds=30)
    assert created and job.status is JobStatus.QUEUED
    claimed = store.claim_job(req.job_id, owner=OWNER, lease_seconds=30)
    assert claimed is not None and claimed.status is JobStatus.RUNNING and claimed.attempts == 1
    assert store.claim_job(req.job_id, owner=OWNER, lease_seconds=30) is None  # a second claim is not a replay


def test_callback_calls_survive_answers_lost_after_commit(store, standin):
    req = running(store)
    store.fail_job(req.job_id, failure=FAILURE)
    standin.inject("claim_due_callbacks", "drop-after-commit")
    standin.inject("record_callback_attempt", "drop-after-commit", "503")
    [delivery] = store.claim_due_callbacks(limit=10, claim_seconds=30)
    store.record_callback_attempt(CallbackAttemptRecord(
        delivery_id=delivery.delivery_id, attempt=1, started_at=datetime.now(timezone.utc), status_code=200, error=None,
        duration_ms=7, status="delivered", next_attempt_at=None,
    ))
    assert [(a.attempt, a.status_code) for a in store.callback_attempts(delivery.delivery_id)] == [(1, 200)]
    assert store.callback_delivery(req.job_id).status == "delivered"


def test_retries_are_bounded_then_the_failure_path_runs(store, standin, database):
    """Supabase down for good: complete_job gives up with StoreUnavailable; fail_job then refunds once."""
    req = running(store)
    standin.inject("complete_job", *["503"] * 4)
    with pytest.raises(StoreUnavailable) as caught:
        store.complete_job(req.job_id, owner=OWNER, report=report_record(), refund=False, refund_reason=None)
    assert standin.calls["complete_job"] == 4 and caught.value.details["code"] == "PGRST001"
    assert store.fail_job(req.job_id, failure=FAILURE, owner=OWNER).changed
    assert row_counts(database, req.job_id) == {"reports": 0, "refunds": 1, "error_logs": 1, "callbacks": 1}


def test_ping_does_not_retry(store, standin):
    standin.inject("ping", "503")
    with pytest.raises(StoreUnavailable):
        store.ping()
    store.ping()
    assert standin.calls["ping"] == 2


def test_the_service_key_is_never_logged(store, standin, caplog):
    caplog.set_level(logging.DEBUG)
    standin.inject("complete_job", "503", "drop")
    req = running(store)
    store.complete_job(req.job_id, owner=OWNER, report=report_record(), refund=False, refund_reason=None)
    standin.inject("ping", "502-html")
    with pytest.raises(StoreUnavailable) as caught:
        store.ping()
    logged = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert "retrying" in logged
    for text in (logged, repr(store), str(caught.value), repr(caught.value.details)):
        assert standin.service_key not in text


# -- a whole job on Supabase ----------------------------------------------------------------------


def test_a_job_runs_end_to_end_on_supabase_through_blips(standin, database, settings_factory, edgar, receiver, caplog):
    """The service on SupabaseStore (built from settings), with Supabase failing transiently at the
    worst moments: the answer of create_job and complete_job lost after their commit, a 503."""
    from app import create_app, services_of
    from worker import Services

    truncate_all(database)
    standin.reset()
    settings = settings_factory(
        APP_ENV="development", SEC_WWW_BASE_URL=edgar.base_url, SEC_DATA_BASE_URL=edgar.base_url,
        STORE_BACKEND="supabase", SUPABASE_URL=standin.url, SUPABASE_SERVICE_KEY=standin.service_key,
    )
    standin.inject("create_job", "drop-after-commit")
    standin.inject("record_progress", "503", "drop-after-commit")
    standin.inject("complete_job", "503", "drop-after-commit")
    app = create_app(settings, services=Services.build(settings).start())
    try:
        store = services_of(app).store
        assert isinstance(store, SupabaseStore)
        payload = new_payload("AAPL", callback_url=receiver.url)
        pay_for(store, payload)  # the spend recorded it: the worker's create_job accepts it, answer lost
        response = app.test_client().post("/generate-report", json=payload, headers=auth_headers())
        assert response.status_code == 202, response.get_json()
        job = wait_terminal(store, payload["job_id"])
        wait_for(lambda: store.callback_delivery(job.job_id).status == "delivered", message="callback delivered")
        assert job.status is JobStatus.COMPLETED and store.get_report(job.report_id)["ticker"] == "AAPL"
        assert row_counts(database, job.job_id) == {"reports": 1, "refunds": 0, "error_logs": 0, "callbacks": 1}
        # the job is visibly done once attempt 2 commits; attempt 3 (the replay) follows its backoff
        wait_for(lambda: standin.calls["complete_job"] == 3, timeout=10, message="the replay of complete_job")
        # ... and the replay reports the change it made, so the worker does not think it lost the job
        wait_for(lambda: services_of(app).runner.counts() == (0, 0), timeout=10, message="the job thread to end")
        assert not any("finished elsewhere" in r.getMessage() for r in caplog.records)
        assert store.get_job(job.job_id).status is JobStatus.COMPLETED
        assert len([d for d in receiver.successful() if payload["job_id"].replace("-", "") in d.headers.get("webhook-id", "")]) == 1
    finally:
        services_of(app).close()


def test_a_finished_report_outlives_a_longer_store_outage(standin, database, settings_factory, edgar, receiver):
    """complete_job fails for longer than the store's own retries (3 calls of 4 attempts, ~5 s):
    the worker keeps retrying the final write, so the report is saved, not thrown away."""
    from app import create_app, services_of
    from worker import Services

    truncate_all(database)
    standin.reset()
    settings = settings_factory(
        APP_ENV="development", SEC_WWW_BASE_URL=edgar.base_url, SEC_DATA_BASE_URL=edgar.base_url,
        STORE_BACKEND="supabase", SUPABASE_URL=standin.url, SUPABASE_SERVICE_KEY=standin.service_key,
    )
    standin.inject("complete_job", *(["503"] * 12))
    app = create_app(settings, services=Services.build(settings).start())
    try:
        store = services_of(app).store
        payload = new_payload("AAPL", callback_url=receiver.url)
        assert app.test_client().post("/generate-report", json=payload, headers=auth_headers()).status_code == 202
        job = wait_terminal(store, payload["job_id"], timeout=90)
        assert job.status is JobStatus.COMPLETED and store.get_report(job.report_id)["ticker"] == "AAPL"
        assert standin.calls["complete_job"] == 13
        assert row_counts(database, job.job_id) == {"reports": 1, "refunds": 0, "error_logs": 0, "callbacks": 1}
    finally:
        services_of(app).close()
