"""The embedded store: one SQLite file (`SQLITE_PATH`), the default (`make run`, development, tests).

WAL mode, one connection per thread, `BEGIN IMMEDIATE` for every write: safe across threads and the
processes of one machine. It keeps the same rules as the Postgres functions of `supabase/migrations/`
(the token ledger, one refund per job, the callback outbox), in Python; `tests/store_contract.py`
holds both backends to them.
"""

from __future__ import annotations

import dataclasses
import json
import re
import sqlite3
import threading
import uuid
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterator

from config import Settings
from exceptions import CreditConflict, InsufficientTokens, InvalidField, JobConflict, StoreRejected, StoreUnavailable
from job import Job, JobRequest, JobStatus, Stage, normalize_ticker
from store import (
    CallbackAttempt,
    CallbackAttemptRecord,
    CallbackDelivery,
    CreditOutcome,
    FailureRecord,
    JobOutcome,
    ReportRecord,
    SpendOutcome,
    Store,
    attempt_from_row,
    delivery_from_row,
    job_from_row,
    plain_json,
)

# The ledger's rules that are not settings; the same in supabase/migrations/20261204000000_token_ledger.sql.
CREDIT_MAX_TOKENS = 100_000  # one purchase
EDGE_FUNCTION_LEASE_OWNER = "edge-function"  # holds a job the spend recorded until a worker accepts it
EDGE_FUNCTION_LEASE = timedelta(minutes=10)  # then recovery adopts it (the Edge Function died mid-request)
_SPEND_TICKER = re.compile(r"[A-Z0-9][A-Z0-9-]{0,9}")


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def delivery_id_for(job_id: str) -> str:
    """The Standard Webhooks message id: stable for a job, so retries carry the same `webhook-id`."""
    return f"msg_{job_id.replace('-', '')}"


_SCHEMA = """
CREATE TABLE IF NOT EXISTS report_jobs (
    job_id            TEXT PRIMARY KEY,
    user_id           TEXT NOT NULL,
    ticker            TEXT NOT NULL,
    callback_url      TEXT,
    fingerprint       TEXT NOT NULL,
    status            TEXT NOT NULL CHECK (status IN ('queued','running','completed','completed_refunded','failed')),
    stage             TEXT NOT NULL,
    progress          INTEGER NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 100),
    error_code        TEXT,
    error_message     TEXT,
    error_log_id      TEXT,
    report_id         TEXT,
    refunded          INTEGER NOT NULL DEFAULT 0,
    attempts          INTEGER NOT NULL DEFAULT 0,
    lease_owner       TEXT,
    lease_expires_at  TEXT,
    heartbeat_at      TEXT,
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL,
    started_at        TEXT,
    finished_at       TEXT,
    accepted_at       TEXT  -- NULL: recorded by the spend, no worker has accepted it yet
);
CREATE INDEX IF NOT EXISTS report_jobs_lease ON report_jobs (status, lease_expires_at);
CREATE INDEX IF NOT EXISTS report_jobs_user ON report_jobs (user_id, created_at);

CREATE TABLE IF NOT EXISTS reports (
    id            TEXT PRIMARY KEY,
    job_id        TEXT NOT NULL UNIQUE REFERENCES report_jobs (job_id),
    user_id       TEXT NOT NULL,
    ticker        TEXT NOT NULL,
    company_name  TEXT,
    report        TEXT NOT NULL,
    is_valid      INTEGER NOT NULL,
    ai_cost_usd   REAL NOT NULL DEFAULT 0,
    total_tokens  INTEGER NOT NULL DEFAULT 0,
    created_at    TEXT NOT NULL,
    html          TEXT
);

CREATE TABLE IF NOT EXISTS token_balances (
    user_id     TEXT PRIMARY KEY,
    balance     INTEGER NOT NULL DEFAULT 0,
    updated_at  TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS token_transactions (
    id          TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL,
    job_id      TEXT REFERENCES report_jobs (job_id),
    amount      INTEGER NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('refund','purchase','spend','adjustment')),
    reason      TEXT,
    created_at  TEXT NOT NULL,
    reference   TEXT
);
CREATE UNIQUE INDEX IF NOT EXISTS token_transactions_one_refund_per_job
    ON token_transactions (job_id) WHERE kind = 'refund';

CREATE TABLE IF NOT EXISTS error_logs (
    id          TEXT PRIMARY KEY,
    job_id      TEXT REFERENCES report_jobs (job_id),
    user_id     TEXT,
    code        TEXT NOT NULL,
    message     TEXT NOT NULL,
    stage       TEXT,
    details     TEXT NOT NULL DEFAULT '{}',
    created_at  TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS error_logs_job ON error_logs (job_id);

CREATE TABLE IF NOT EXISTS callback_deliveries (
    id                TEXT PRIMARY KEY,
    job_id            TEXT NOT NULL UNIQUE REFERENCES report_jobs (job_id),
    url               TEXT NOT NULL,
    status            TEXT NOT NULL CHECK (status IN ('pending','delivered','failed')),
    attempts          INTEGER NOT NULL DEFAULT 0,
    next_attempt_at   TEXT,
    claimed_until     TEXT,
    last_status_code  INTEGER,
    last_error        TEXT,
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL,
    delivered_at      TEXT
);
CREATE INDEX IF NOT EXISTS callback_deliveries_due ON callback_deliveries (status, next_attempt_at);

CREATE TABLE IF NOT EXISTS callback_attempts (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    delivery_id  TEXT NOT NULL REFERENCES callback_deliveries (id),
    attempt      INTEGER NOT NULL,
    started_at   TEXT NOT NULL,
    status_code  INTEGER,
    error        TEXT,
    duration_ms  INTEGER NOT NULL
);
-- one row per attempt, as in PostgreSQL (callback_attempts_once): a replayed record is a no-op.
-- Stores written before the index existed may hold duplicates; the first record of each stays.
DELETE FROM callback_attempts WHERE id NOT IN (SELECT min(id) FROM callback_attempts GROUP BY delivery_id, attempt);
CREATE UNIQUE INDEX IF NOT EXISTS callback_attempts_once ON callback_attempts (delivery_id, attempt);
"""

# Run after _SCHEMA: the ledger's indexes (their columns may have just been added to an older file).
_LEDGER_SCHEMA = """
CREATE UNIQUE INDEX IF NOT EXISTS token_transactions_one_spend_per_job
    ON token_transactions (job_id) WHERE kind = 'spend';
CREATE UNIQUE INDEX IF NOT EXISTS token_transactions_one_purchase_per_reference
    ON token_transactions (reference) WHERE kind = 'purchase';
"""

# Columns added since the first schema: (table, column, type, value for the rows already there).
_ADDED_COLUMNS = (
    ("report_jobs", "accepted_at", "TEXT", "created_at"),  # jobs recorded before were accepted when recorded
    ("token_transactions", "reference", "TEXT", "NULL"),
    ("reports", "html", "TEXT", "NULL"),  # the rendered page (issue 14)
)

_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"  # fixed width, so text order is time order


def _ts(moment: datetime | None) -> str | None:
    return moment.astimezone(timezone.utc).strftime(_TIME_FORMAT) if moment else None


def _dt(text: str | None) -> datetime | None:
    return datetime.strptime(text, _TIME_FORMAT).replace(tzinfo=timezone.utc) if text else None


class SQLiteStore(Store):
    """The embedded store: one connection per thread, WAL, `BEGIN IMMEDIATE` for every write."""

    def __init__(self, path: str):
        self.path = path
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        try:
            self._conn().executescript(_SCHEMA)
            self._add_columns()
            self._conn().executescript(_LEDGER_SCHEMA)
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"cannot create the SQLite schema in {path}: {exc}") from exc

    @classmethod
    def from_settings(cls, settings: Settings) -> SQLiteStore:
        return cls(settings.sqlite_path)

    # -- plumbing ----------------------------------------------------------------------------------

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            try:
                conn = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
                conn.row_factory = sqlite3.Row
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")
                conn.execute("PRAGMA foreign_keys=ON")
                conn.execute("PRAGMA busy_timeout=30000")
            except sqlite3.Error as exc:
                raise StoreUnavailable(f"cannot open the SQLite store: {exc}") from exc
            self._local.conn = conn
        return conn

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        conn = self._conn()
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise StoreUnavailable(f"the SQLite store is busy: {exc}") from exc
        try:
            yield conn
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def _add_columns(self) -> None:
        """Bring a file written by an older version up to this schema (CREATE IF NOT EXISTS adds no column)."""
        with self._write() as conn:
            for table, column, kind, existing in _ADDED_COLUMNS:
                if column not in {r["name"] for r in conn.execute(f"PRAGMA table_info({table})")}:
                    conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")
                    conn.execute(f"UPDATE {table} SET {column} = {existing}")

    def _read(self, sql: str, args: tuple = ()) -> list[sqlite3.Row]:
        try:
            return self._conn().execute(sql, args).fetchall()
        except sqlite3.OperationalError as exc:
            raise StoreUnavailable(f"the SQLite store did not answer: {exc}") from exc

    def close(self) -> None:
        """Close this thread's connection. Other threads' connections close when those threads end:
        closing a connection another thread is using can crash the interpreter."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    # -- jobs --------------------------------------------------------------------------------------

    def ping(self) -> None:
        self._read("SELECT 1")

    def create_job(self, request: JobRequest, *, lease_owner: str | None, lease_seconds: float) -> tuple[Job, bool]:
        now = utcnow()
        fingerprint = request.fingerprint()
        with self._write() as conn:
            lease_expires_at = _ts(now + timedelta(seconds=lease_seconds)) if lease_owner else None
            row = _job_row(conn, request.job_id)
            if row is not None:
                if row["fingerprint"] != fingerprint:
                    raise JobConflict()
                if row["accepted_at"] is None and row["status"] == JobStatus.QUEUED.value:  # the spend's: accept it
                    conn.execute(
                        """UPDATE report_jobs SET accepted_at = ?, lease_owner = ?, lease_expires_at = ?, updated_at = ?
                           WHERE job_id = ?""",
                        (_ts(now), lease_owner, lease_expires_at, _ts(now), request.job_id),
                    )
                    return _job(_job_row(conn, request.job_id)), True
                return _job(row), False
            conn.execute(
                """INSERT INTO report_jobs (job_id, user_id, ticker, callback_url, fingerprint, status, stage,
                       progress, lease_owner, lease_expires_at, created_at, updated_at, accepted_at)
                   VALUES (?, ?, ?, ?, ?, 'queued', 'queued', 0, ?, ?, ?, ?, ?)""",
                (
                    request.job_id,
                    request.user_id,
                    request.ticker,
                    request.callback_url,
                    fingerprint,
                    lease_owner,
                    lease_expires_at,
                    _ts(now),
                    _ts(now),
                    _ts(now),
                ),
            )
            row = _job_row(conn, request.job_id)
            return _job(row), True

    def get_job(self, job_id: str) -> Job | None:
        rows = self._read("SELECT * FROM report_jobs WHERE job_id = ?", (job_id,))
        return _job(rows[0]) if rows else None

    def claim_job(self, job_id: str, *, owner: str, lease_seconds: float) -> Job | None:
        now = utcnow()
        with self._write() as conn:
            cursor = conn.execute(
                """UPDATE report_jobs SET status = 'running', stage = 'fetching', progress = ?, lease_owner = ?,
                       lease_expires_at = ?, heartbeat_at = ?, attempts = attempts + 1,
                       started_at = COALESCE(started_at, ?), updated_at = ?
                   WHERE job_id = ? AND status = 'queued'""",
                (Stage.FETCHING.progress, owner, _ts(now + timedelta(seconds=lease_seconds)), _ts(now), _ts(now), _ts(now), job_id),
            )
            if cursor.rowcount == 0:
                return None
            return _job(_job_row(conn, job_id))

    def adopt_job(self, job_id: str, *, owner: str, lease_seconds: float) -> Job | None:
        now = utcnow()
        with self._write() as conn:
            cursor = conn.execute(
                """UPDATE report_jobs SET lease_owner = ?, lease_expires_at = ?, heartbeat_at = ?, updated_at = ?,
                       accepted_at = COALESCE(accepted_at, ?)
                   WHERE job_id = ? AND status = 'queued' AND lease_expires_at < ?""",
                (owner, _ts(now + timedelta(seconds=lease_seconds)), _ts(now), _ts(now), _ts(now), job_id, _ts(now)),
            )
            if cursor.rowcount == 0:
                return None
            return _job(_job_row(conn, job_id))

    def record_progress(self, job_id: str, *, owner: str, stage: Stage, progress: int) -> bool:
        now = _ts(utcnow())
        with self._write() as conn:
            cursor = conn.execute(
                """UPDATE report_jobs SET stage = ?, progress = MAX(progress, ?), updated_at = ?
                   WHERE job_id = ? AND status = 'running' AND lease_owner = ?""",
                (stage.value, progress, now, job_id, owner),
            )
            return cursor.rowcount == 1

    def heartbeat(self, job_id: str, *, owner: str, lease_seconds: float) -> bool:
        now = utcnow()
        with self._write() as conn:
            cursor = conn.execute(
                """UPDATE report_jobs SET lease_expires_at = ?, heartbeat_at = ?
                   WHERE job_id = ? AND status IN ('queued','running') AND lease_owner = ?""",
                (_ts(now + timedelta(seconds=lease_seconds)), _ts(now), job_id, owner),
            )
            return cursor.rowcount == 1

    def complete_job(
        self, job_id: str, *, owner: str | None, report: ReportRecord, refund: bool, refund_reason: str | None
    ) -> JobOutcome:
        now = _ts(utcnow())
        with self._write() as conn:
            row = self._locked_job(conn, job_id)
            if JobStatus(row["status"]).is_terminal or not _owned(row, owner):
                return JobOutcome(_job(row), changed=False)
            status = JobStatus.COMPLETED_REFUNDED if refund else JobStatus.COMPLETED
            conn.execute(
                """INSERT INTO reports (id, job_id, user_id, ticker, company_name, report, is_valid, ai_cost_usd,
                       total_tokens, created_at, html) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                (
                    report.report_id,
                    job_id,
                    row["user_id"],
                    report.ticker,
                    report.company_name,
                    json.dumps(plain_json(report.body), separators=(",", ":")),
                    int(report.is_valid),
                    report.ai_cost_usd,
                    report.total_tokens,
                    now,
                    report.html,
                ),
            )
            if refund:
                self._refund(conn, row, refund_reason or "report quality below standard", now)
            conn.execute(
                """UPDATE report_jobs SET status = ?, stage = 'done', progress = 100, report_id = ?, refunded = ?,
                       lease_owner = NULL, lease_expires_at = NULL, finished_at = ?, updated_at = ?
                   WHERE job_id = ?""",
                (status.value, report.report_id, int(refund), now, now, job_id),
            )
            self._queue_callback(conn, row, now)
            return JobOutcome(_job(_job_row(conn, job_id)), True)

    def fail_job(
        self, job_id: str, *, failure: FailureRecord, owner: str | None = None, only_if_lease_expired: bool = False
    ) -> JobOutcome:
        now = _ts(utcnow())
        with self._write() as conn:
            row = self._locked_job(conn, job_id)
            if JobStatus(row["status"]).is_terminal or not _owned(row, owner):
                return JobOutcome(_job(row), changed=False)
            if only_if_lease_expired and (row["lease_expires_at"] is None or row["lease_expires_at"] > now):
                return JobOutcome(_job(row), changed=False)
            return self._end_failed(conn, row, failure, f"job failed: {failure.code}", now)

    def expired_jobs(self, *, limit: int = 100) -> list[Job]:
        rows = self._read(
            """SELECT * FROM report_jobs WHERE status IN ('queued','running') AND lease_expires_at IS NOT NULL
               AND lease_expires_at < ? ORDER BY lease_expires_at LIMIT ?""",
            (_ts(utcnow()), limit),
        )
        return [_job(r) for r in rows]

    def _locked_job(self, conn: sqlite3.Connection, job_id: str) -> sqlite3.Row:
        row = _job_row(conn, job_id)
        if row is None:
            raise StoreRejected(f"no job {job_id}")
        return row

    def _end_failed(self, conn: sqlite3.Connection, row: sqlite3.Row, failure: FailureRecord, refund_reason: str,
                    now: str) -> JobOutcome:
        """The end of every failure: its error logged, the token back (once), the job failed, its callback queued."""
        error_log_id = str(uuid.uuid4())
        conn.execute(
            """INSERT INTO error_logs (id, job_id, user_id, code, message, stage, details, created_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?)""",
            (
                error_log_id,
                row["job_id"],
                row["user_id"],
                failure.code,
                failure.message,
                failure.stage,
                json.dumps(plain_json(failure.details)),
                now,
            ),
        )
        self._refund(conn, row, refund_reason, now)
        conn.execute(
            """UPDATE report_jobs SET status = 'failed', error_code = ?, error_message = ?, error_log_id = ?,
                   refunded = 1, lease_owner = NULL, lease_expires_at = NULL, finished_at = ?, updated_at = ?
               WHERE job_id = ?""",
            (failure.code, failure.message, error_log_id, now, now, row["job_id"]),
        )
        self._queue_callback(conn, row, now)
        return JobOutcome(_job(_job_row(conn, row["job_id"])), True)

    def _refund(self, conn: sqlite3.Connection, job_row: sqlite3.Row, reason: str, now: str) -> None:
        """Give back the job's spend, once; a job posted to the worker directly has none: nothing."""
        spend = conn.execute(
            "SELECT user_id, amount FROM token_transactions WHERE job_id = ? AND kind = 'spend'", (job_row["job_id"],)
        ).fetchone()
        if spend is not None:  # the unique index makes a second refund of one job a no-op
            self._post(conn, spend["user_id"], -spend["amount"], "refund", now, job_id=job_row["job_id"], reason=reason)

    def _post(
        self, conn: sqlite3.Connection, user_id: str, amount: int, kind: str, now: str, *,
        job_id: str | None = None, reason: str | None = None, reference: str | None = None,
    ) -> bool:
        """Write one ledger row and move the balance by its amount: the only writer of token_balances.
        False when a unique index already holds such a row (a second refund or spend of a job, a
        reference credited before); raises `InsufficientTokens` rather than go below zero."""
        balance = self._balance(conn, user_id)
        if balance + amount < 0:
            raise InsufficientTokens(details={"balance": balance, "needed": -amount})
        cursor = conn.execute(
            """INSERT INTO token_transactions (id, user_id, job_id, amount, kind, reason, reference, created_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING""",
            (str(uuid.uuid4()), user_id, job_id, amount, kind, (reason or kind)[:500], reference, now),
        )
        if cursor.rowcount == 0:
            return False
        conn.execute(
            """INSERT INTO token_balances (user_id, balance, updated_at) VALUES (?, ?, ?)
               ON CONFLICT (user_id) DO UPDATE SET balance = balance + excluded.balance, updated_at = excluded.updated_at""",
            (user_id, amount, now),
        )
        return True

    # -- the token ledger --------------------------------------------------------------------------

    def credit_tokens(self, user_id: str, amount: int, reference: str) -> CreditOutcome:
        if not isinstance(amount, int) or not 1 <= amount <= CREDIT_MAX_TOKENS:
            raise InvalidField(f"amount must be between 1 and {CREDIT_MAX_TOKENS}", field="amount")
        if not reference or len(reference) > 200:
            raise InvalidField("reference (a payment id) must have 1-200 characters", field="reference")
        now = _ts(utcnow())
        with self._write() as conn:
            credited = self._post(conn, user_id, amount, "purchase", now, reason="purchase", reference=reference)
            if not credited:
                first = conn.execute(
                    "SELECT user_id, amount FROM token_transactions WHERE kind = 'purchase' AND reference = ?", (reference,)
                ).fetchone()
                if (first["user_id"], first["amount"]) != (user_id, amount):
                    raise CreditConflict()
            return CreditOutcome(credited=credited, balance=self._balance(conn, user_id))

    def spend_token_for_job(self, request: JobRequest) -> SpendOutcome:
        request = _normalized(request)
        now = utcnow()
        with self._write() as conn:
            row = _job_row(conn, request.job_id)
            if row is not None:
                spent = conn.execute(
                    "SELECT 1 FROM token_transactions WHERE job_id = ? AND kind = 'spend'", (request.job_id,)
                ).fetchone()
                if row["fingerprint"] != request.fingerprint() or spent is None:
                    raise JobConflict()
                return SpendOutcome(_job(row), replayed=True, balance=self._balance(conn, request.user_id))
            conn.execute(
                """INSERT INTO report_jobs (job_id, user_id, ticker, callback_url, fingerprint, status, stage,
                       progress, lease_owner, lease_expires_at, created_at, updated_at, accepted_at)
                   VALUES (?, ?, ?, ?, ?, 'queued', 'queued', 0, ?, ?, ?, ?, NULL)""",
                (
                    request.job_id, request.user_id, request.ticker, request.callback_url, request.fingerprint(),
                    EDGE_FUNCTION_LEASE_OWNER, _ts(now + EDGE_FUNCTION_LEASE), _ts(now), _ts(now),
                ),
            )
            self._post(conn, request.user_id, -1, "spend", _ts(now), job_id=request.job_id, reason=f"report {request.ticker}")
            job = _job(_job_row(conn, request.job_id))
            return SpendOutcome(job, replayed=False, balance=self._balance(conn, request.user_id))

    def refund_unaccepted_job(self, job_id: str, *, failure: FailureRecord) -> JobOutcome:
        now = _ts(utcnow())
        with self._write() as conn:
            row = self._locked_job(conn, job_id)
            if row["accepted_at"] is not None or row["status"] != JobStatus.QUEUED.value:
                return JobOutcome(_job(row), changed=False)
            failure = dataclasses.replace(failure, stage="queued", details={"by": "edge-function", **failure.details})
            return self._end_failed(conn, row, failure, f"not accepted by a worker: {failure.code}", now)

    def ledger(self, user_id: str) -> list[dict[str, Any]]:
        rows = self._read(
            """SELECT kind, amount, job_id, reference, reason, created_at FROM token_transactions
               WHERE user_id = ? ORDER BY created_at, rowid""",
            (user_id,),
        )
        return [{**dict(r), "created_at": _dt(r["created_at"])} for r in rows]

    def ledger_mismatches(self) -> list[dict[str, Any]]:
        rows = self._read(
            """SELECT user_id, SUM(balance) AS balance, SUM(ledger) AS ledger FROM (
                   SELECT user_id, balance, 0 AS ledger FROM token_balances
                   UNION ALL SELECT user_id, 0, amount FROM token_transactions)
               GROUP BY user_id HAVING SUM(balance) <> SUM(ledger) ORDER BY user_id"""
        )
        return [dict(r) for r in rows]

    @staticmethod
    def _balance(conn: sqlite3.Connection, user_id: str) -> int:
        row = conn.execute("SELECT balance FROM token_balances WHERE user_id = ?", (user_id,)).fetchone()
        return int(row["balance"]) if row else 0

    def _queue_callback(self, conn: sqlite3.Connection, job_row: sqlite3.Row, now: str) -> None:
        if not job_row["callback_url"]:
            return
        conn.execute(
            """INSERT INTO callback_deliveries (id, job_id, url, status, attempts, next_attempt_at, created_at, updated_at)
               VALUES (?, ?, ?, 'pending', 0, ?, ?, ?) ON CONFLICT DO NOTHING""",
            (delivery_id_for(job_row["job_id"]), job_row["job_id"], job_row["callback_url"], now, now, now),
        )

    # -- reads for operators and tests -------------------------------------------------------------

    def get_report(self, report_id: str) -> dict[str, Any] | None:
        rows = self._read("SELECT report FROM reports WHERE id = ?", (report_id,))
        return json.loads(rows[0]["report"]) if rows else None

    def get_report_html(self, report_id: str) -> str | None:
        rows = self._read("SELECT html FROM reports WHERE id = ?", (report_id,))
        return rows[0]["html"] if rows else None

    def token_balance(self, user_id: str) -> int:
        rows = self._read("SELECT balance FROM token_balances WHERE user_id = ?", (user_id,))
        return int(rows[0]["balance"]) if rows else 0

    def refund_count(self, job_id: str) -> int:
        rows = self._read("SELECT COUNT(*) AS n FROM token_transactions WHERE job_id = ? AND kind = 'refund'", (job_id,))
        return int(rows[0]["n"])

    def error_logs(self, job_id: str) -> list[dict[str, Any]]:
        rows = self._read("SELECT * FROM error_logs WHERE job_id = ? ORDER BY created_at", (job_id,))
        return [{**dict(r), "details": json.loads(r["details"])} for r in rows]

    # -- callbacks ---------------------------------------------------------------------------------

    def claim_due_callbacks(self, *, limit: int, claim_seconds: float) -> list[CallbackDelivery]:
        now = utcnow()
        with self._write() as conn:
            rows = conn.execute(
                """SELECT * FROM callback_deliveries WHERE status = 'pending' AND next_attempt_at <= ?
                   AND (claimed_until IS NULL OR claimed_until <= ?) ORDER BY next_attempt_at LIMIT ?""",
                (_ts(now), _ts(now), limit),
            ).fetchall()
            until = _ts(now + timedelta(seconds=claim_seconds))
            for row in rows:
                conn.execute("UPDATE callback_deliveries SET claimed_until = ? WHERE id = ?", (until, row["id"]))
            return [_delivery(r) for r in rows]

    def record_callback_attempt(self, record: CallbackAttemptRecord) -> None:
        now = _ts(utcnow())
        with self._write() as conn:
            conn.execute(
                """INSERT OR IGNORE INTO callback_attempts (delivery_id, attempt, started_at, status_code, error, duration_ms)
                   VALUES (?, ?, ?, ?, ?, ?)""",
                (record.delivery_id, record.attempt, _ts(record.started_at), record.status_code, record.error, record.duration_ms),
            )
            conn.execute(  # only forward: a stale attempt never reopens a delivered or abandoned callback
                """UPDATE callback_deliveries SET status = ?, attempts = ?, next_attempt_at = ?, claimed_until = NULL,
                       last_status_code = ?, last_error = ?, updated_at = ?,
                       delivered_at = CASE WHEN ? = 'delivered' THEN ? ELSE delivered_at END
                   WHERE id = ? AND status = 'pending' AND attempts < ?""",
                (
                    record.status, record.attempt, _ts(record.next_attempt_at), record.status_code, record.error, now,
                    record.status, now, record.delivery_id, record.attempt,
                ),
            )

    def callback_delivery(self, job_id: str) -> CallbackDelivery | None:
        rows = self._read("SELECT * FROM callback_deliveries WHERE job_id = ?", (job_id,))
        return _delivery(rows[0]) if rows else None

    def callback_attempts(self, delivery_id: str) -> list[CallbackAttempt]:
        rows = self._read("SELECT * FROM callback_attempts WHERE delivery_id = ? ORDER BY attempt", (delivery_id,))
        return [attempt_from_row(r, _dt) for r in rows]


def _normalized(request: JobRequest) -> JobRequest:
    """The ticker as the worker keeps it (upper case, "." -> "-"), or `InvalidField`."""
    ticker = normalize_ticker(request.ticker or "")
    if not _SPEND_TICKER.fullmatch(ticker):
        raise InvalidField("ticker must be 1-10 characters of A-Z, 0-9, '.' or '-'", field="ticker")
    return JobRequest(job_id=request.job_id, user_id=request.user_id, ticker=ticker, callback_url=request.callback_url)


def _owned(row: sqlite3.Row, owner: str | None) -> bool:
    return owner is None or (row["lease_owner"] == owner and row["status"] == "running")


def _job_row(conn: sqlite3.Connection, job_id: str) -> sqlite3.Row | None:
    return conn.execute("SELECT * FROM report_jobs WHERE job_id = ?", (job_id,)).fetchone()


def _job(row: sqlite3.Row) -> Job:
    return job_from_row(row, _dt)


def _delivery(row: sqlite3.Row) -> CallbackDelivery:
    return delivery_from_row(row, _dt)
