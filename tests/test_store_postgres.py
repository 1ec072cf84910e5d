"""The store contract on the SQL functions of supabase/migrations/, called with psycopg (no PostgREST),
plus what only the database can promise: constraints, and exactly-once under real concurrency."""

from __future__ import annotations

import json
import uuid

import psycopg
import pytest

from pg_support import PostgresFunctionsStore, migrated_database, require_postgres, truncate_all
from store_contract import OWNER, REFUSED, StoreContract, paid_request, report_record, request, running
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
    req = running(store)
    insert = "INSERT INTO public.token_transactions (user_id, job_id, amount, kind) VALUES (%s, %s, 1, 'refund')"
    with psycopg.connect(database) as conn:
        conn.execute(insert, (req.user_id, req.job_id))
        with pytest.raises(psycopg.errors.UniqueViolation):
            conn.execute(insert, (req.user_id, req.job_id))


@pytest.mark.parametrize("amount, paid", [(1, False), (2, True), (1, True)])
def test_a_refund_row_must_give_back_exactly_its_jobs_spend(store, database, amount, paid):
    """Also written by hand (the table owner): no refund without the job's spend, never more than it."""
    req = running(store, paid=paid)
    insert = "INSERT INTO public.token_transactions (user_id, job_id, amount, kind) VALUES (%s, %s, %s, 'refund')"
    with psycopg.connect(database) as conn:
        if paid and amount == 1:
            conn.execute(insert, (req.user_id, req.job_id, amount))
        else:
            with pytest.raises(psycopg.errors.CheckViolation):
                conn.execute(insert, (req.user_id, req.job_id, amount))
    assert store.token_balance(req.user_id) == (1 if paid and amount == 1 else 0) and store.ledger_mismatches() == []


def test_a_balance_never_goes_below_zero(store, database):
    user = str(uuid.uuid4())
    store.credit_tokens(user, 1, "pi_1")
    with psycopg.connect(database) as conn, pytest.raises(psycopg.Error) as caught:
        conn.execute("INSERT INTO public.token_transactions (user_id, amount, kind) VALUES (%s, -2, 'adjustment')", (user,))
    assert caught.value.sqlstate == "PT402"
    assert store.token_balance(user) == 1


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE public.token_balances SET balance = 1000",
        "INSERT INTO public.token_balances (user_id, balance) VALUES (gen_random_uuid(), 5)",
        "DELETE FROM public.token_balances",
        "UPDATE public.token_transactions SET amount = 100",
        "DELETE FROM public.token_transactions",
    ],
)
def test_the_service_role_writes_balances_only_through_the_ledger(store, database, statement):
    """Balances are derived (the ledger's trigger writes them) and the ledger is append-only."""
    running(store)
    with psycopg.connect(database) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        as_role(conn, "service_role")
        conn.execute(statement)


def test_the_ledger_check_finds_a_balance_changed_behind_its_back(store, database):
    req = running(store)
    assert store.ledger_mismatches() == []
    with psycopg.connect(database) as conn:  # the owner, bypassing the rules
        conn.execute("UPDATE public.token_balances SET balance = balance + 7 WHERE user_id = %s", (req.user_id,))
    assert store.ledger_mismatches() == [{"user_id": req.user_id, "balance": 7, "ledger": 0}]


def test_a_job_the_spend_recorded_is_adopted_by_recovery_when_no_worker_accepted_it(store, database):
    """The Edge Function died between the spend and its POST: once its lease lapses, a sweeper runs the job."""
    req = paid_request(store)
    job = store.get_job(req.job_id)
    assert job.lease_owner == "edge-function" and 9 * 60 < (job.lease_expires_at - job.created_at).total_seconds() <= 600
    with psycopg.connect(database) as conn:
        conn.execute("UPDATE public.report_jobs SET lease_expires_at = now() - interval '1 second' WHERE job_id = %s", (req.job_id,))
    assert [j.job_id for j in store.expired_jobs()] == [req.job_id]
    adopted = store.adopt_job(req.job_id, owner=OWNER, lease_seconds=30)
    assert adopted.accepted and adopted.lease_owner == OWNER
    assert not store.refund_unaccepted_job(req.job_id, failure=REFUSED).changed  # the worker has it now


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
        "SELECT public.credit_tokens(auth.uid(), 5, 'free')",
        "SELECT public.spend_token_for_job(auth.uid(), gen_random_uuid(), 'AAPL', null)",
        "SELECT public.refund_unaccepted_job(gen_random_uuid(), gen_random_uuid(), 'X', 'x')",
        "SELECT public.get_job(gen_random_uuid())",
    ],
)
def test_users_cannot_write_or_call_the_worker_functions(store, database, statement):
    req = store_job_with_refund(store)
    with psycopg.connect(database) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        as_role(conn, "authenticated", req.user_id)
        conn.execute(statement)


def store_job_with_refund(store):
    req = running(store)
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

