"""The store contract on the SQL functions of supabase/migrations/, called with psycopg (no PostgREST),
plus what only the database can promise: constraints, and exactly-once under real concurrency."""

from __future__ import annotations

import json
import uuid

import psycopg
import pytest

from pg_support import PostgresFunctionsStore, migrated_database, require_postgres, truncate_all
from store_contract import OWNER, StoreContract, report_record, request
from store_races import assert_complete_race, assert_mixed_race


@pytest.fixture(scope="module")
def database():
    require_postgres()
    with migrated_database("store_pg") as dsn:
        yield dsn


@pytest.fixture
def store(database):
    truncate_all(database)
    s = PostgresFunctionsStore(database, retry_base_seconds=0.01)
    yield s
    s.close()


class TestPostgresFunctions(StoreContract):
    pass


def test_fifty_concurrent_completions_save_one_report_and_refund_once(store, database):
    assert_complete_race(store, database, label="psycopg")


def test_fifty_concurrent_complete_and_fail_calls_end_the_job_once(store, database):
    assert_mixed_race(store, database, label="psycopg")


def test_a_second_refund_row_is_impossible(store, database):
    """The unique index, not just the function, forbids two refunds for one job."""
    req = request()
    store.create_job(req, lease_owner=OWNER, lease_seconds=30)
    insert = "INSERT INTO public.token_transactions (user_id, job_id, amount, kind) VALUES (%s, %s, 1, 'refund')"
    with psycopg.connect(database) as conn:
        conn.execute(insert, (req.user_id, req.job_id))
        with pytest.raises(psycopg.errors.UniqueViolation):
            conn.execute(insert, (req.user_id, req.job_id))


@pytest.mark.parametrize(
    "statement, error",
    [
        ("UPDATE public.report_jobs SET status = 'completed' WHERE job_id = %s", psycopg.errors.CheckViolation),
        ("UPDATE public.report_jobs SET progress = 101 WHERE job_id = %s", psycopg.errors.CheckViolation),
        ("UPDATE public.report_jobs SET stage = 'napping' WHERE job_id = %s", psycopg.errors.CheckViolation),
        ("INSERT INTO public.reports (id, job_id, user_id, ticker, report, is_valid) VALUES (gen_random_uuid(), %s, gen_random_uuid(), 'X', '[]', true)", psycopg.errors.CheckViolation),
        ("INSERT INTO public.error_logs (id, job_id, code, message) VALUES (gen_random_uuid(), gen_random_uuid(), 'X', %s)", psycopg.errors.ForeignKeyViolation),
    ],
)
def test_constraints_reject_inconsistent_rows(store, database, statement, error):
    req = request()
    store.create_job(req, lease_owner=OWNER, lease_seconds=30)
    with psycopg.connect(database) as conn, pytest.raises(error):
        conn.execute(statement, (req.job_id,))


def test_a_spend_cannot_overdraw_a_balance(store, database):
    user = str(uuid.uuid4())
    with psycopg.connect(database) as conn:
        assert conn.execute("SELECT public.increment_tokens(%s, 3)", (user,)).fetchone()[0] == 3
        assert conn.execute("SELECT public.increment_tokens(%s, -1)", (user,)).fetchone()[0] == 2
        with pytest.raises(psycopg.errors.CheckViolation):
            conn.execute("SELECT public.increment_tokens(%s, -5)", (user,))


# -- row-level security, as the roles PostgREST switches to ---------------------------------------


def as_role(conn, role: str, user_id: str | None = None) -> None:
    """What PostgREST does at the start of each request's transaction."""
    claims = {"role": role, **({"sub": user_id} if user_id else {})}
    conn.execute("SELECT set_config('role', %s, true), set_config('request.jwt.claims', %s, true)", (role, json.dumps(claims)))


@pytest.mark.parametrize(
    "table, hidden",
    [("report_jobs", c) for c in ("fingerprint", "callback_url", "lease_owner", "attempts", "claim_call_id", "error_log_id")]
    + [("reports", c) for c in ("ai_cost_usd", "total_tokens")],
)
def test_rls_users_do_not_see_the_workers_bookkeeping_or_costs(store, database, table, hidden):
    req = store_job_with_refund(store)
    with psycopg.connect(database) as conn:
        as_role(conn, "authenticated", req.user_id)
        assert conn.execute("SELECT status FROM public.report_jobs WHERE job_id = %s", (req.job_id,)).fetchone() is not None
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(f"SELECT {hidden} FROM public.{table}")


def test_rls_users_read_only_their_own_rows(store, database):
    alice, bob = (store_job_with_refund(store) for _ in range(2))
    with psycopg.connect(database) as conn:
        as_role(conn, "authenticated", alice.user_id)
        for table in ("report_jobs", "reports", "token_transactions", "token_balances"):
            owners = {r[0] for r in conn.execute(f"SELECT user_id::text FROM public.{table}")}
            assert owners == {alice.user_id}, table
        assert conn.execute("SELECT count(*) FROM public.reports WHERE job_id = %s", (bob.job_id,)).fetchone()[0] == 0


@pytest.mark.parametrize("table", ["error_logs", "callback_deliveries", "callback_attempts"])
def test_rls_worker_only_tables_are_closed_to_users(store, database, table):
    store_job_with_refund(store)
    with psycopg.connect(database) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        as_role(conn, "authenticated", str(uuid.uuid4()))
        conn.execute(f"SELECT * FROM public.{table}")


@pytest.mark.parametrize("table", ["report_jobs", "reports", "token_transactions", "token_balances", "error_logs", "callback_deliveries", "callback_attempts"])
def test_rls_anon_reads_nothing(store, database, table):
    store_job_with_refund(store)
    with psycopg.connect(database) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        as_role(conn, "anon")
        conn.execute(f"SELECT * FROM public.{table}")


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE public.token_balances SET balance = 1000",
        "INSERT INTO public.token_transactions (user_id, amount, kind) VALUES (auth.uid(), 5, 'purchase')",
        "DELETE FROM public.reports",
        "SELECT public.increment_tokens(auth.uid(), 5)",
        "SELECT public.get_job(gen_random_uuid())",
    ],
)
def test_users_cannot_write_or_call_the_worker_functions(store, database, statement):
    req = store_job_with_refund(store)
    with psycopg.connect(database) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        as_role(conn, "authenticated", req.user_id)
        conn.execute(statement)


def store_job_with_refund(store):
    req = request()
    store.create_job(req, lease_owner=OWNER, lease_seconds=30)
    store.claim_job(req.job_id, owner=OWNER, lease_seconds=30)
    store.complete_job(req.job_id, owner=OWNER, report=report_record(), refund=True, refund_reason="x")
    return req


def test_rls_users_read_the_rendered_page_of_their_own_reports_only(store, database):
    """The front end shows a user the page through the Data API, under the report's own policy."""
    from dataclasses import replace

    pages = {}
    for name in ("alice", "bob"):
        req = request()
        store.create_job(req, lease_owner=OWNER, lease_seconds=30)
        store.claim_job(req.job_id, owner=OWNER, lease_seconds=30)
        store.complete_job(req.job_id, owner=OWNER, report=replace(report_record(), html=f"<p>{name}</p>"), refund=False, refund_reason=None)
        pages[name] = req
    with psycopg.connect(database) as conn:
        as_role(conn, "authenticated", pages["alice"].user_id)
        assert conn.execute("SELECT job_id::text, html FROM public.reports").fetchall() == [(pages["alice"].job_id, "<p>alice</p>")]

