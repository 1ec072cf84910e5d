"""Test-only PostgreSQL plumbing: throw-away databases with the migrations applied, calling a function
the way PostgREST does, and a psycopg adapter that runs the store contract on the SQL functions.

Every test module that needs PostgreSQL creates its own database (named after the module, the
process and a random suffix) and drops it at the end, so parallel runs never see each other.
Set TEST_POSTGRES_URL to use another server (default: postgres@127.0.0.1:5432, trust auth).
"""

from __future__ import annotations

import json
import os
import queue
import threading
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import psycopg
from psycopg import sql
from postgrest.exceptions import APIError

from conftest import require
from store_supabase import SupabaseStore

ROOT = Path(__file__).resolve().parent.parent
MIGRATIONS_DIR = ROOT / "supabase" / "migrations"
SHIM = ROOT / "tests" / "sql" / "supabase_shim.sql"
ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")

# The tables of the migrations, in an order TRUNCATE accepts in one statement.
TABLES = (
    "report_notifications",
    "callback_attempts",
    "callback_deliveries",
    "token_transactions",
    "token_balances",
    "error_logs",
    "reports",
    "report_jobs",
)


# --------------------------------------------------------------------------------------------------
# Databases
# --------------------------------------------------------------------------------------------------


def require_postgres() -> None:
    """Skip (fail under CI) when the PostgreSQL server is not reachable."""
    try:
        with psycopg.connect(ADMIN_URL, connect_timeout=3):
            reachable, reason = True, ""
    except psycopg.Error as exc:
        reachable, reason = False, str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    require(reachable, f"PostgreSQL is not reachable at {ADMIN_URL} ({reason}); set TEST_POSTGRES_URL")


def dsn_for(database: str) -> str:
    return psycopg.conninfo.make_conninfo(ADMIN_URL, dbname=database)


def migration_files() -> list[Path]:
    """The migrations in the order `supabase db push` applies them: by file name (timestamp first)."""
    return sorted(MIGRATIONS_DIR.glob("*.sql"))


@contextmanager
def fresh_database(label: str) -> Iterator[str]:
    """Create an empty database for this run, yield its DSN, drop it afterwards."""
    name = f"rw_{label}_{os.getpid()}_{uuid.uuid4().hex[:8]}".lower()[:63]
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        # template0: nobody is ever connected to it, so concurrent runs cannot block each other
        admin.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0 ENCODING 'UTF8'").format(sql.Identifier(name)))
    try:
        yield dsn_for(name)
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def apply_sql_files(dsn: str, files: list[Path]) -> None:
    """Each file in its own transaction, as the Supabase CLI applies migrations."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        for path in files:
            with conn.transaction():
                conn.execute(path.read_text())


@contextmanager
def migrated_database(label: str) -> Iterator[str]:
    """A fresh database with the Supabase shim and every migration applied."""
    with fresh_database(label) as dsn:
        apply_sql_files(dsn, [SHIM, *migration_files()])
        yield dsn


def truncate_all(dsn: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("TRUNCATE {} RESTART IDENTITY").format(sql.SQL(", ").join(sql.Identifier("public", t) for t in TABLES)))


class Pool:
    """A small bounded pool of autocommit connections (PostgREST also holds a pool, 10 by default)."""

    def __init__(self, dsn: str, size: int = 10):
        self.dsn = dsn
        self._idle: queue.LifoQueue[psycopg.Connection] = queue.LifoQueue()
        self._slots = threading.BoundedSemaphore(size)

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection]:
        with self._slots:
            try:
                conn = self._idle.get_nowait()
            except queue.Empty:
                conn = psycopg.connect(self.dsn, autocommit=True, options="-c TimeZone=UTC")
            try:
                yield conn
            finally:
                if conn.broken or conn.closed:
                    conn.close()
                else:
                    self._idle.put(conn)

    def close(self) -> None:
        while True:
            try:
                self._idle.get_nowait().close()
            except queue.Empty:
                return


# --------------------------------------------------------------------------------------------------
# Calling a function the way PostgREST does
# --------------------------------------------------------------------------------------------------


class FunctionNotFound(Exception):
    """PostgREST's PGRST202: no function of that name accepts these argument names."""


@dataclass(frozen=True)
class Signature:
    name: str
    arg_names: tuple[str, ...]
    arg_types: tuple[str, ...]
    required: frozenset[str]
    returns_set: bool
    returns_void: bool


_SIGNATURES_SQL = """
SELECT p.proname, p.proretset, p.prorettype = 'void'::regtype AS returns_void, p.pronargs, p.pronargdefaults,
       coalesce(p.proargnames[1:p.pronargs], '{}') AS arg_names,
       array(SELECT format_type(a.t, NULL) FROM unnest(p.proargtypes::oid[]) WITH ORDINALITY AS a(t, n) ORDER BY a.n) AS arg_types
  FROM pg_proc p
 WHERE p.pronamespace = %s::regnamespace AND p.prokind = 'f' AND (%s::text IS NULL OR p.proname = %s)
 ORDER BY p.proname
"""


def function_signatures(conn: psycopg.Connection, schema: str = "public", name: str | None = None) -> list[Signature]:
    """The functions of `schema` (only IN arguments: all ours have no OUT arguments)."""
    rows = conn.execute(_SIGNATURES_SQL, (schema, name, name)).fetchall()
    return [
        Signature(
            name=proname,
            arg_names=tuple(arg_names),
            arg_types=tuple(arg_types),
            required=frozenset(arg_names[: nargs - ndefaults]),
            returns_set=retset,
            returns_void=void,
        )
        for proname, retset, void, nargs, ndefaults, arg_names, arg_types in rows
    ]


def call_function(
    conn: psycopg.Connection, name: str, args: dict[str, Any], *, role: str, claims: dict[str, Any], schema: str = "public"
) -> str | None:
    """Call `schema.name` with JSON named arguments under `role`, in one transaction, as PostgREST does.

    Returns the result as JSON text (None for a void function). Raises FunctionNotFound when no
    overload takes exactly these argument names, psycopg errors as the database raises them.
    """
    keys = set(args)
    candidates = [s for s in function_signatures(conn, schema, name) if keys <= set(s.arg_names) and s.required <= keys]
    if len(candidates) != 1:
        listed = ", ".join(sorted(keys))
        raise FunctionNotFound(f"Could not find the function {schema}.{name}({listed}) in the schema cache")
    signature = candidates[0]
    columns = [(n, t) for n, t in zip(signature.arg_names, signature.arg_types) if n in keys]
    call = sql.SQL("{}({})").format(
        sql.Identifier(schema, name),
        sql.SQL(", ").join(sql.SQL("{} => _.{}").format(sql.Identifier(n), sql.Identifier(n)) for n, _ in columns),
    )
    source = sql.SQL("")
    if columns:  # PostgREST turns the JSON body into a typed record the same way
        source = sql.SQL(" FROM json_to_record(%(body)s::json) AS _({})").format(
            sql.SQL(", ").join(sql.SQL("{} {}").format(sql.Identifier(n), sql.SQL(t)) for n, t in columns)
        )
    if signature.returns_set:
        query = sql.SQL("SELECT coalesce(json_agg(_r), '[]')::text FROM (SELECT {}{}) AS r(_r)").format(call, source)
    elif signature.returns_void:
        query = sql.SQL("SELECT {}{}").format(call, source)
    else:
        query = sql.SQL("SELECT to_json({})::text{}").format(call, source)
    with conn.transaction():
        conn.execute(
            "SELECT set_config('role', %s, true), set_config('request.jwt.claims', %s, true)",
            (role, json.dumps(claims)),
        )
        row = conn.execute(query, {"body": json.dumps(args)}).fetchone()
    return None if signature.returns_void else row[0]


def error_body(exc: BaseException) -> dict[str, Any]:
    """PostgREST's error body for a database error: {code, message, details, hint}."""
    if isinstance(exc, FunctionNotFound):
        return {"code": "PGRST202", "message": str(exc), "details": None, "hint": None}
    if isinstance(exc, psycopg.Error) and exc.sqlstate:
        diag = exc.diag
        return {"code": exc.sqlstate, "message": diag.message_primary, "details": diag.message_detail, "hint": diag.message_hint}
    return {"code": "PGRST001", "message": "Database client error. Retrying the connection.", "details": str(exc), "hint": None}


def http_status(code: str, *, authenticated: bool) -> int:
    """PostgREST's HTTP status for an error code (docs/references/errors.rst)."""
    if code == "PGRST202":
        return 404
    if code in ("PGRST000", "PGRST001", "PGRST002"):
        return 503
    if code.startswith("PT") and code[2:].isdigit():
        return int(code[2:])
    exact = {"23503": 409, "23505": 409, "25006": 405, "P0001": 400, "42883": 404, "42P01": 404, "42P17": 500}
    if code in exact:
        return exact[code]
    if code == "42501":
        return 403 if authenticated else 401
    by_class = {
        "08": 503, "09": 500, "0L": 403, "0P": 403, "25": 500, "28": 403, "2D": 500, "38": 500, "39": 500,
        "3B": 500, "40": 500, "53": 503, "54": 500, "55": 500, "57": 500, "58": 500, "F0": 500, "HV": 500,
        "P0": 500, "XX": 500,
    }
    return by_class.get(code[:2], 400)


# --------------------------------------------------------------------------------------------------
# The store contract on the SQL functions, without PostgREST
# --------------------------------------------------------------------------------------------------


class PostgresFunctionsStore(SupabaseStore):
    """SupabaseStore's calls, decoding, retries and error mapping, with psycopg as the transport.

    Each call runs as service_role (so the grants are exercised too) in its own transaction, and a
    database error becomes the APIError PostgREST would have produced for it.
    """

    def __init__(self, dsn: str, **options):
        super().__init__(client=None, **options)
        self.pool = Pool(dsn)

    def _send(self, fn: str, params: dict[str, Any]) -> Any:
        try:
            with self.pool.connection() as conn:
                text = call_function(conn, fn, params, role="service_role", claims={"role": "service_role"})
        except (FunctionNotFound, psycopg.Error) as exc:
            raise APIError(error_body(exc)) from exc
        return json.loads(text) if text is not None else []

    def __repr__(self) -> str:
        return "PostgresFunctionsStore()"

    def close(self) -> None:
        self.pool.close()
