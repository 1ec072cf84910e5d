"""supabase/migrations/ on a fresh PostgreSQL: they apply in order, and they hold what the code uses.

The drift guard (`schema_drift`) fails when a function SupabaseStore calls, one of its arguments,
a column of the reference SQLite schema, or a column the decoders read is missing from the
migrated database; a last test proves the guard notices by breaking a database on purpose.
"""

from __future__ import annotations

import re
import sqlite3

import psycopg
import pytest

import store_sqlite
from pg_support import SHIM, TABLES, apply_sql_files, fresh_database, function_signatures, migration_files, require_postgres
from store_supabase import RPC_SIGNATURES, SupabaseStore

POLICY_TABLES = ("report_jobs", "reports", "token_transactions", "token_balances", "report_notifications")  # users read their own rows
USER_READS_EVERY_COLUMN = ("token_transactions", "token_balances", "report_notifications")  # of the others, only some columns
# What the service role may do to each table; the rest it may read and write. The ledger is append-only
# and balances are written only by the ledger's trigger.
SERVICE_ROLE_PRIVILEGES = {"token_balances": {"SELECT"}, "token_transactions": {"SELECT", "INSERT"}}
# The functions the store calls, and those only the Edge Functions or other functions call.
ALL_FUNCTIONS = {
    **RPC_SIGNATURES,
    "record_report_callback": ("p_webhook_id", "p_job_id", "p_status", "p_refunded", "p_report_id", "p_error_code", "p_error_message"),
    "refund_job_spend": ("p_job_id", "p_reason"),
    "job_fingerprint": ("p_user_id", "p_ticker", "p_callback_url"),
    "edge_function_lease": (),
}
EARLIER_MIGRATIONS = 5  # those applied before the ledger (20261204000000_token_ledger.sql)


@pytest.fixture(scope="module")
def db():
    """A fresh database, the Supabase shim, then each migration in order, each in its own transaction."""
    require_postgres()
    with fresh_database("migrations") as dsn:
        apply_sql_files(dsn, [SHIM])
        for path in migration_files():
            apply_sql_files(dsn, [path])  # raises, naming the file, if one does not apply
        with psycopg.connect(dsn, autocommit=True) as conn:
            yield conn


def test_migration_files_follow_the_supabase_cli_layout():
    files = migration_files()
    assert len(files) >= 1
    stamps = [f.name.split("_", 1)[0] for f in files]
    assert all(re.fullmatch(r"\d{14}_[a-z0-9_]+\.sql", f.name) for f in files), [f.name for f in files]
    assert len(set(stamps)) == len(stamps), "two migrations share a timestamp: their order is undefined"


def test_the_migrated_database_has_no_drift(db):
    assert schema_drift(db) == []


def test_every_table_has_row_level_security(db):
    rows = db.execute(
        "SELECT c.relname, c.relrowsecurity FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r'"
    ).fetchall()
    assert {name for name, _ in rows} == set(TABLES)
    assert [name for name, rls in rows if not rls] == []


def test_users_get_a_select_policy_on_their_own_rows_only(db):
    policies = db.execute(
        "SELECT tablename, cmd, roles::text[], qual FROM pg_policies WHERE schemaname = 'public' ORDER BY tablename"
    ).fetchall()
    assert {p[0] for p in policies} == set(POLICY_TABLES)
    for table, cmd, roles, qual in policies:
        assert cmd == "SELECT" and roles == ["authenticated"], table
        assert "auth.uid()" in qual and "user_id" in qual, table


def test_table_privileges(db):
    def privileges(role, table):
        return {p for p in ("SELECT", "INSERT", "UPDATE", "DELETE") if db.execute("SELECT has_table_privilege(%s, %s, %s)", (role, f"public.{table}", p)).fetchone()[0]}

    def readable_columns(role, table):
        rows = db.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = 'public' AND table_name = %s", (table,)
        ).fetchall()
        return {c for (c,) in rows if db.execute("SELECT has_column_privilege(%s, %s, %s, 'SELECT')", (role, f"public.{table}", c)).fetchone()[0]}

    for table in TABLES:
        assert privileges("anon", table) == set(), table
        assert privileges("authenticated", table) == ({"SELECT"} if table in USER_READS_EVERY_COLUMN else set()), table
        assert privileges("service_role", table) == SERVICE_ROLE_PRIVILEGES.get(table, {"SELECT", "INSERT", "UPDATE", "DELETE"}), table
    assert readable_columns("authenticated", "report_jobs") == {
        "job_id", "user_id", "ticker", "status", "stage", "progress", "error_code", "error_message", "report_id",
        "refunded", "created_at", "updated_at", "started_at", "finished_at",
    }
    assert readable_columns("authenticated", "reports") == {"id", "job_id", "user_id", "ticker", "company_name", "report", "is_valid", "created_at", "html"}


@pytest.mark.parametrize("name", sorted(ALL_FUNCTIONS))
def test_functions_run_as_invoker_with_a_fixed_search_path_for_the_service_role_only(db, name):
    oid, definer, config, acl_public = db.execute(
        """SELECT p.oid, p.prosecdef, p.proconfig,
                  EXISTS (SELECT 1 FROM aclexplode(p.proacl) a WHERE a.grantee = 0)
             FROM pg_proc p WHERE p.pronamespace = 'public'::regnamespace AND p.proname = %s""",
        (name,),
    ).fetchone()
    assert not definer, "SECURITY DEFINER is not needed: the service role may write the tables"
    assert config == ['search_path=""'] and not acl_public
    can = {r: db.execute("SELECT has_function_privilege(%s, %s, 'EXECUTE')", (r, oid)).fetchone()[0] for r in ("anon", "authenticated", "service_role")}
    assert can == {"anon": False, "authenticated": False, "service_role": True}


@pytest.mark.parametrize(
    "index, kind, column",
    [
        ("token_transactions_one_refund_per_job", "refund", "(job_id)"),
        ("token_transactions_one_spend_per_job", "spend", "(job_id)"),
        ("token_transactions_one_purchase_per_reference", "purchase", "(reference)"),
    ],
)
def test_one_refund_and_one_spend_per_job_and_one_purchase_per_reference_by_unique_indexes(db, index, kind, column):
    unique, predicate, columns = db.execute(
        """SELECT i.indisunique, pg_get_expr(i.indpred, i.indrelid), pg_get_indexdef(i.indexrelid)
             FROM pg_index i WHERE i.indexrelid = %s::regclass""",
        (f"public.{index}",),
    ).fetchone()
    assert unique and kind in predicate and column in columns


def test_the_ledger_trigger_is_the_only_writer_of_balances(db):
    definer, config, callers = db.execute(
        """SELECT p.prosecdef, p.proconfig, array(SELECT a.grantee::regrole::text FROM aclexplode(p.proacl) a
                                                   WHERE a.privilege_type = 'EXECUTE' AND a.grantee <> 0)
             FROM pg_proc p WHERE p.oid = 'public.apply_token_transaction'::regproc"""
    ).fetchone()
    assert definer and config == ['search_path=""'] and callers == ["postgres"]  # nobody may call it but its owner
    triggers = db.execute(
        "SELECT tgname FROM pg_trigger WHERE tgrelid = 'public.token_transactions'::regclass AND NOT tgisinternal"
    ).fetchall()
    assert triggers == [("token_transactions_apply",)]


def test_jobs_and_notifications_are_published_to_realtime(db):
    """The front end follows its job (status, stage, progress) and its notifications over Realtime."""
    published = db.execute(
        "SELECT tablename FROM pg_publication_tables WHERE pubname = 'supabase_realtime' AND schemaname = 'public' ORDER BY 1"
    ).fetchall()
    assert published == [("report_jobs",), ("report_notifications",)]


def test_the_migrations_apply_to_a_database_that_has_the_earlier_ones_and_data():
    """A project live before the ledger: balances moved by increment_tokens (no ledger rows), a refund
    credited without a spend. After the new migrations the books balance from an opening adjustment,
    old jobs count as accepted, and a second run of the new files fails loudly rather than half-apply."""
    require_postgres()
    files = migration_files()
    earlier, later = files[:EARLIER_MIGRATIONS], files[EARLIER_MIGRATIONS:]
    assert later[0].name == "20261204000000_token_ledger.sql"
    buyer, refunded = "11111111-1111-4111-8111-111111111111", "22222222-2222-4222-8222-222222222222"
    job = "33333333-3333-4333-8333-333333333333"
    with fresh_database("migrations_upgrade") as dsn:
        apply_sql_files(dsn, [SHIM, *earlier])
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("SELECT public.increment_tokens(%s, 5)", (buyer,))
            conn.execute("SELECT public.increment_tokens(%s, -1)", (buyer,))
            conn.execute("SELECT public.create_job(%s, %s, 'AAPL', null, 'fp', null, 30, gen_random_uuid())", (job, refunded))
            conn.execute(
                "SELECT public.fail_job(%s, gen_random_uuid(), 'X', 'x', 'fetching', '{}', null, false)", (job,)
            )
        apply_sql_files(dsn, later)
        with psycopg.connect(dsn, autocommit=True) as conn:
            assert conn.execute("SELECT public.ledger_mismatches()").fetchone()[0] == []
            ledger = conn.execute("SELECT user_id::text, kind, amount FROM public.token_transactions ORDER BY user_id, kind").fetchall()
            assert ledger == [(buyer, "adjustment", 4), (refunded, "refund", 1)]
            assert conn.execute("SELECT public.token_balance(%s)", (buyer,)).fetchone()[0] == 4
            assert conn.execute("SELECT accepted_at IS NOT NULL FROM public.report_jobs").fetchall() == [(True,)]
            assert conn.execute("SELECT count(*) FROM pg_proc WHERE proname = 'increment_tokens'").fetchone()[0] == 0
            assert schema_drift(conn) == []
        with pytest.raises(psycopg.Error):
            apply_sql_files(dsn, later[:1])


def test_the_drift_guard_notices_a_missing_function_argument_or_column():
    require_postgres()
    with fresh_database("drift") as dsn:
        apply_sql_files(dsn, [SHIM, *migration_files()])
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("DROP FUNCTION public.heartbeat(uuid, text, double precision)")
            conn.execute("DROP FUNCTION public.claim_job(uuid, text, double precision, uuid)")
            conn.execute("CREATE FUNCTION public.claim_job(p_job_id uuid, p_owner text, p_seconds float8) RETURNS jsonb LANGUAGE sql AS 'select null::jsonb'")
            conn.execute("ALTER TABLE public.reports DROP COLUMN total_tokens")
            conn.execute("ALTER TABLE public.report_jobs DROP COLUMN lease_owner CASCADE")
            drift = "\n".join(schema_drift(conn))
    assert "missing function public.heartbeat" in drift
    assert "public.claim_job" in drift and "p_call_id" in drift
    assert "column public.reports.total_tokens" in drift
    assert "column public.report_jobs.lease_owner" in drift


# --------------------------------------------------------------------------------------------------
# The drift guard
# --------------------------------------------------------------------------------------------------


def schema_drift(conn: psycopg.Connection) -> list[str]:
    """What the code uses that the database lacks: functions and argument names, columns."""
    problems = []
    for name, args in ALL_FUNCTIONS.items():
        found = function_signatures(conn, "public", name)
        if not found:
            problems.append(f"missing function public.{name}({', '.join(args)})")
        elif not any(s.arg_names == tuple(args) for s in found):
            have = "; ".join(", ".join(s.arg_names) for s in found)
            problems.append(f"public.{name} takes ({have}) but the code sends ({', '.join(args)})")

    columns: dict[str, set[str]] = {}
    for table, column in conn.execute("SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'public'"):
        columns.setdefault(table, set()).add(column)
    wanted = {table: set(cols) for table, cols in reference_columns().items()}
    for table, cols in decoded_columns().items():
        wanted.setdefault(table, set()).update(cols)
    for table, cols in sorted(wanted.items()):
        for column in sorted(cols - columns.get(table, set())):
            problems.append(f"missing column public.{table}.{column}")
    return problems


def reference_columns() -> dict[str, list[str]]:
    """The columns of the reference schema (SQLiteStore's): every one must exist in PostgreSQL too."""
    conn = sqlite3.connect(":memory:")
    conn.executescript(store_sqlite._SCHEMA)
    tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]
    return {t: [r[1] for r in conn.execute(f"PRAGMA table_info({t})")] for t in tables}


class _Recorder(dict):
    """A row that remembers which keys the decoder read (unknown keys read as None)."""

    def __init__(self, sample, read: set[str]):
        super().__init__(sample)
        self.read = read

    def __getitem__(self, key):
        self.read.add(key)
        return self.get(key)


def decoded_columns() -> dict[str, set[str]]:
    """The columns SupabaseStore's decoders read, found by running them on recording rows."""
    read: dict[str, set[str]] = {"report_jobs": set(), "callback_deliveries": set(), "callback_attempts": set()}
    ts = "2026-01-01T00:00:00+00:00"
    samples = {
        "get_job": lambda: _Recorder({"status": "queued", "stage": "queued", "created_at": ts, "updated_at": ts}, read["report_jobs"]),
        "callback_delivery": lambda: _Recorder({"status": "pending"}, read["callback_deliveries"]),
        "callback_attempts": lambda: [_Recorder({"started_at": ts}, read["callback_attempts"])],
    }

    class Recording(SupabaseStore):
        def _send(self, fn, params):
            return samples[fn]()

    store = Recording(client=None)
    store.get_job("00000000-0000-0000-0000-000000000000")
    store.callback_delivery("00000000-0000-0000-0000-000000000000")
    store.callback_attempts("msg_0")
    return read
