"""SupabaseStore with the real supabase-py client, through a PostgREST stand-in, on a real PostgreSQL.

The store contract runs unchanged; then what only this path has: retries of transient failures
(503 from the pool, a gateway's 502 page, dropped connections, answers lost after the commit)
that never double anything, PostgREST errors mapped to our typed errors, the service key kept out
of logs, and row-level security as users and anon see it through the Data API.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timezone

import pytest
from postgrest.exceptions import APIError
from supabase import ClientOptions, create_client

from database import SupabaseStore, open_store
from exceptions import JobConflict, StoreRejected, StoreUnavailable
from job import JobStatus
from pg_support import migrated_database, require_postgres, truncate_all
from postgrest_standin import PUBLISHABLE_KEY, SECRET_KEY, PostgrestStandIn, make_jwt
from store_contract import FAILURE, OWNER, StoreContract, report_record, request
from store_contract import running as paid_running
from store_races import assert_complete_race, assert_mixed_race, row_counts

from conftest import auth_headers, make_settings, new_payload, wait_for, wait_terminal


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


class TestSupabaseStore(StoreContract):
    pass


def running(store):
    return paid_running(store)  # paid for, so that a refund gives a token back


# -- exactly once under concurrency ---------------------------------------------------------------


def test_fifty_concurrent_completions_save_one_report_and_refund_once(store, database):
    assert_complete_race(store, database, label="supabase-py")


def test_fifty_concurrent_complete_and_fail_calls_end_the_job_once(store, database):
    assert_mixed_race(store, database, label="supabase-py")


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
    store.record_callback_attempt(
        delivery.delivery_id, attempt=1, started_at=datetime.now(timezone.utc), status_code=200, error=None,
        duration_ms=7, status="delivered", next_attempt_at=None,
    )
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


def test_rejections_are_not_retried(store, standin):
    with pytest.raises(StoreRejected) as caught:
        store.complete_job(str(uuid.uuid4()), owner=None, report=report_record(), refund=False, refund_reason=None)
    assert caught.value.details["code"] == "PT404" and standin.calls["complete_job"] == 1
    req = request()
    store.create_job(req, lease_owner=OWNER, lease_seconds=30)
    with pytest.raises(JobConflict):
        store.create_job(request(ticker="MSFT", job_id=req.job_id, user_id=req.user_id), lease_owner=OWNER, lease_seconds=30)
    assert standin.calls["create_job"] == 2


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


# -- keys and settings ----------------------------------------------------------------------------


def test_open_store_builds_a_supabase_store_from_settings(standin, tmp_path):
    settings = make_settings(tmp_path, SUPABASE_URL=standin.url, SUPABASE_SERVICE_KEY=standin.service_key)
    store = open_store(settings)
    try:
        assert isinstance(store, SupabaseStore)
        store.ping()
    finally:
        store.close()


def test_a_secret_api_key_works_like_the_service_role_key(standin):
    store = connect(standin, SECRET_KEY)
    try:
        req = request()
        assert store.create_job(req, lease_owner=OWNER, lease_seconds=30)[1]
    finally:
        store.close()


@pytest.mark.parametrize("key", ["not-a-jwt", make_jwt({"role": "service_role"}, secret="another-secret-another-secret-123")])
def test_a_wrong_key_is_rejected_without_retrying(standin, key):
    store = connect(standin, key)
    try:
        with pytest.raises(StoreRejected) as caught:
            store.get_job(str(uuid.uuid4()))
        assert caught.value.details["code"] == "PGRST301"
    finally:
        store.close()


@pytest.mark.parametrize("key_of", [lambda s: s.anon_key, lambda s: PUBLISHABLE_KEY, lambda s: s.user_token(str(uuid.uuid4()))])
def test_only_the_service_role_may_call_the_functions(standin, key_of):
    store = connect(standin, key_of(standin))
    try:
        with pytest.raises(StoreRejected) as caught:
            store.token_balance(str(uuid.uuid4()))
        assert caught.value.details["code"] == "42501"
    finally:
        store.close()


def test_an_unknown_function_is_a_rejection(standin):
    client = create_client(standin.url, standin.service_key, options=ClientOptions(auto_refresh_token=False, persist_session=False))
    with pytest.raises(APIError) as caught:
        client.rpc("no_such_function", {"p_job_id": str(uuid.uuid4())}).execute()
    assert caught.value.code == "PGRST202"


# -- row-level security through the Data API ------------------------------------------------------


def test_users_read_only_their_own_rows_and_anon_nothing(store, standin):
    """What the Edge Function (or the app) sees with a user's JWT: that user's rows only."""
    mine, theirs = running(store), running(store)
    for req in (mine, theirs):
        store.complete_job(req.job_id, owner=OWNER, report=report_record(), refund=True, refund_reason="x")

    def client(token):
        options = ClientOptions(auto_refresh_token=False, persist_session=False, headers={"Authorization": f"Bearer {token}"})
        return create_client(standin.url, standin.anon_key, options=options)

    user = client(standin.user_token(mine.user_id))
    visible = {  # the README's queries; report_jobs and reports show users only these columns
        "report_jobs": "job_id, status, stage, progress, refunded, error_code, error_message",
        "reports": "id, job_id, ticker, company_name, report, is_valid, created_at",
        "token_transactions": "*",
    }
    for table, columns in visible.items():
        rows = user.table(table).select(columns).execute().data
        assert {r["job_id"] for r in rows if r["job_id"]} == {mine.job_id}, table
        if table == "token_transactions":  # the user's ledger: bought, spent for the job, refunded
            assert sorted((r["kind"], r["amount"]) for r in rows) == [("purchase", 1), ("refund", 1), ("spend", -1)]
        assert user.table(table).select(columns).eq("job_id", theirs.job_id).execute().data == []
    for table, hidden in (("report_jobs", "*"), ("report_jobs", "lease_owner"), ("reports", "ai_cost_usd")):
        with pytest.raises(APIError) as caught:
            user.table(table).select(hidden).eq("job_id", mine.job_id).execute()
        assert caught.value.code == "42501", (table, hidden)
    assert user.table("token_balances").select("balance").execute().data == [{"balance": 1}]
    report = user.table("reports").select("report").eq("job_id", mine.job_id).execute().data
    assert report[0]["report"]["ticker"] == "AAPL"
    for table in ("error_logs", "callback_deliveries", "callback_attempts"):
        with pytest.raises(APIError) as caught:
            user.table(table).select("*").execute()
        assert caught.value.code == "42501"

    anon = create_client(standin.url, standin.anon_key, options=ClientOptions(auto_refresh_token=False, persist_session=False))
    for table in ("report_jobs", "reports", "token_transactions", "token_balances", "error_logs", "callback_deliveries"):
        with pytest.raises(APIError) as caught:
            anon.table(table).select("*").execute()
        assert caught.value.code == "42501"


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
        SUPABASE_URL=standin.url, SUPABASE_SERVICE_KEY=standin.service_key,
    )
    standin.inject("create_job", "drop-after-commit")
    standin.inject("record_progress", "503", "drop-after-commit")
    standin.inject("complete_job", "503", "drop-after-commit")
    app = create_app(settings, services=Services.build(settings).start())
    try:
        store = services_of(app).store
        assert isinstance(store, SupabaseStore)
        payload = new_payload("AAPL", callback_url=receiver.url)
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
        SUPABASE_URL=standin.url, SUPABASE_SERVICE_KEY=standin.service_key,
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
