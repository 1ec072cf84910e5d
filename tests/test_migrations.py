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

import database
from database import RPC_SIGNATURES, SupabaseStore
from pg_support import SHIM, TABLES, apply_sql_files, fresh_database, function_signatures, migration_files, require_postgres

POLICY_TABLES = ("report_jobs", "reports", "token_transactions", "token_balances")  # users read their own rows
USER_READS_EVERY_COLUMN = ("token_transactions", "token_balances")  # of the others, only some columns
ALL_FUNCTIONS = {**RPC_SIGNATURES, "increment_tokens": ("user_id", "amount")}


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
        assert privileges("service_role", table) == {"SELECT", "INSERT", "UPDATE", "DELETE"}, table
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


def test_a_second_refund_for_one_job_is_prevented_by_a_unique_index(db):
    unique, predicate, columns = db.execute(
        """SELECT i.indisunique, pg_get_expr(i.indpred, i.indrelid), pg_get_indexdef(i.indexrelid)
             FROM pg_index i WHERE i.indexrelid = 'public.token_transactions_one_refund_per_job'::regclass"""
    ).fetchone()
    assert unique and "refund" in predicate and "(job_id)" in columns


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
    conn.executescript(database._SCHEMA)
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
