"""The stores: where jobs, reports, refunds, error logs and callback deliveries live.

`Store` is the small interface every backend implements; each method is one state change, done
atomically and idempotently on `job_id`, so a retried call never doubles anything. The contract is
pinned by `tests/store_contract.py`, which every backend runs unchanged.

- `SQLiteStore`: the embedded default (`make run`, local development, tests). One file under
  `var/`, WAL mode, safe across threads and processes.
- `SupabaseStore` (production) calls the Postgres functions of `supabase/migrations/` over
  PostgREST (supabase-py `rpc()`), one function per state change, so each change is one
  transaction on the server; it retries transient failures itself, since every function is
  idempotent and postgrest-py never retries a POST.

Tokens are a ledger (`token_transactions`): every change to a balance is a row, and a balance is the
sum of its user's rows (`ledger_mismatches` checks it). A job the Edge Function pays for is recorded by
`spend_token_for_job`, one spend per job, and waits for a worker to accept it (`create_job`). A refund
gives back exactly the job's spend, at most once (a unique index on (job_id) for refunds, not just a
check in code); a job posted to the worker directly has no spend, so its refund decision is recorded
and nothing is credited. A terminal job always gets exactly one callback delivery row, written in the
same transaction as its terminal state (a transactional outbox).
"""

from __future__ import annotations

import abc
import json
import logging
import random
import re
import sqlite3
import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import MappingProxyType
from typing import Any, Callable, Iterator, Mapping

import httpx

from exceptions import (
    CreditConflict,
    InsufficientTokens,
    InvalidField,
    JobConflict,
    ReportWorkerError,
    StoreMisconfigured,
    StoreRejected,
    StoreUnavailable,
)
from job import Job, JobError, JobRequest, JobStatus, Stage, normalize_ticker

log = logging.getLogger("database")

CALLBACK_PENDING = "pending"
CALLBACK_DELIVERED = "delivered"
CALLBACK_FAILED = "failed"  # every attempt used up, or the receiver answered 410 Gone

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


@dataclass(frozen=True)
class ReportRecord:
    """The report row written by `complete_job`."""

    report_id: str
    ticker: str
    company_name: str | None
    body: dict[str, Any]
    is_valid: bool
    ai_cost_usd: float = 0.0
    total_tokens: int = 0
    html: str | None = None  # the page a person reads (render.py), kept beside the JSON


@dataclass(frozen=True)
class FailureRecord:
    """The error log row written by `fail_job`."""

    code: str
    message: str
    stage: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class JobOutcome:
    job: Job
    changed: bool  # False: the call found the job already in that state (or not ours) and did nothing


@dataclass(frozen=True)
class SpendOutcome:
    job: Job  # the job the spend recorded (queued, waiting for a worker), or the one recorded before
    replayed: bool  # True: this job_id was spent for before; nothing was spent this time
    balance: int  # the user's balance after the call


@dataclass(frozen=True)
class CreditOutcome:
    credited: bool  # False: this reference was credited before; nothing was credited this time
    balance: int


@dataclass(frozen=True)
class CallbackDelivery:
    delivery_id: str
    job_id: str
    url: str
    status: str
    attempts: int
    next_attempt_at: datetime | None
    last_status_code: int | None = None
    last_error: str | None = None
    delivered_at: datetime | None = None


@dataclass(frozen=True)
class CallbackAttempt:
    delivery_id: str
    attempt: int
    started_at: datetime
    status_code: int | None
    error: str | None
    duration_ms: int


class Store(abc.ABC):
    """The state changes of a job. Every method is atomic; the write methods are idempotent."""

    @abc.abstractmethod
    def ping(self) -> None:
        """Raise `StoreUnavailable` unless the store answers."""

    @abc.abstractmethod
    def create_job(self, request: JobRequest, *, lease_owner: str | None, lease_seconds: float) -> tuple[Job, bool]:
        """Insert a queued job, or return the existing one (created=False) when the payload matches.

        Raises `JobConflict` when the job_id exists with a different payload.
        """

    @abc.abstractmethod
    def get_job(self, job_id: str) -> Job | None: ...

    @abc.abstractmethod
    def claim_job(self, job_id: str, *, owner: str, lease_seconds: float) -> Job | None:
        """queued -> running under `owner`'s lease; None when the job is not queued (run elsewhere, done)."""

    @abc.abstractmethod
    def record_progress(self, job_id: str, *, owner: str, stage: Stage, progress: int) -> bool:
        """False when `owner` no longer holds the running job."""

    @abc.abstractmethod
    def heartbeat(self, job_id: str, *, owner: str, lease_seconds: float) -> bool:
        """Extend the lease of a queued or running job held by `owner`; False when it is not."""

    @abc.abstractmethod
    def complete_job(
        self, job_id: str, *, owner: str | None, report: ReportRecord, refund: bool, refund_reason: str | None
    ) -> JobOutcome:
        """Save the report, set completed (or completed_refunded and refund once), queue the callback."""

    @abc.abstractmethod
    def fail_job(
        self, job_id: str, *, failure: FailureRecord, owner: str | None = None, only_if_lease_expired: bool = False
    ) -> JobOutcome:
        """Log the error, set failed, refund once, queue the callback. `owner=None` acts for anyone."""

    @abc.abstractmethod
    def adopt_job(self, job_id: str, *, owner: str, lease_seconds: float) -> Job | None:
        """Give a queued job whose lease lapsed to `owner` (who will run it); None if it is not such a job."""

    @abc.abstractmethod
    def expired_jobs(self, *, limit: int = 100) -> list[Job]:
        """Queued or running jobs whose lease has expired (their process died)."""

    # -- the token ledger --------------------------------------------------------------------------

    @abc.abstractmethod
    def credit_tokens(self, user_id: str, amount: int, reference: str) -> CreditOutcome:
        """Credit a purchase once per `reference` (a payment id). Raises `CreditConflict` when the
        reference was credited with another user or amount."""

    @abc.abstractmethod
    def spend_token_for_job(self, request: JobRequest) -> SpendOutcome:
        """Spend one token and record the job queued, waiting for a worker, in one transaction; the
        same job_id again spends nothing. Raises `InsufficientTokens` (nothing recorded),
        `JobConflict` (the job_id exists with another payload or without a spend), `InvalidField`."""

    @abc.abstractmethod
    def refund_unaccepted_job(self, job_id: str, *, failure: FailureRecord) -> JobOutcome:
        """The Edge Function's refund when no worker took the job: a job no worker accepted is failed
        and its spend refunded once; one a worker accepted is left to the worker (changed=False)."""

    @abc.abstractmethod
    def ledger(self, user_id: str) -> list[dict[str, Any]]:
        """The user's ledger rows, oldest first: kind, amount, job_id, reference, reason, created_at."""

    @abc.abstractmethod
    def ledger_mismatches(self) -> list[dict[str, Any]]:
        """Every user whose balance is not the sum of their ledger rows (empty: the books balance)."""

    # -- reads -------------------------------------------------------------------------------------

    @abc.abstractmethod
    def get_report(self, report_id: str) -> dict[str, Any] | None: ...

    @abc.abstractmethod
    def get_report_html(self, report_id: str) -> str | None:
        """The rendered page stored with the report; None for an unknown report or one stored without."""

    @abc.abstractmethod
    def token_balance(self, user_id: str) -> int: ...

    @abc.abstractmethod
    def refund_count(self, job_id: str) -> int: ...

    @abc.abstractmethod
    def error_logs(self, job_id: str) -> list[dict[str, Any]]: ...

    @abc.abstractmethod
    def claim_due_callbacks(self, *, limit: int, claim_seconds: float) -> list[CallbackDelivery]:
        """Pending deliveries whose time has come, hidden from other dispatchers for `claim_seconds`."""

    @abc.abstractmethod
    def record_callback_attempt(
        self,
        delivery_id: str,
        *,
        attempt: int,
        started_at: datetime,
        status_code: int | None,
        error: str | None,
        duration_ms: int,
        status: str,
        next_attempt_at: datetime | None,
    ) -> None: ...

    @abc.abstractmethod
    def callback_delivery(self, job_id: str) -> CallbackDelivery | None: ...

    @abc.abstractmethod
    def callback_attempts(self, delivery_id: str) -> list[CallbackAttempt]: ...

    def close(self) -> None:
        """Release connections."""


def open_store(settings) -> Store:
    """The backend the settings ask for: Supabase when configured, else the embedded SQLite file."""
    if settings.store_backend == "supabase":
        return SupabaseStore.from_settings(settings)
    return SQLiteStore(settings.sqlite_path)


# --------------------------------------------------------------------------------------------------
# SQLite
# --------------------------------------------------------------------------------------------------

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
            row = conn.execute("SELECT * FROM report_jobs WHERE job_id = ?", (request.job_id,)).fetchone()
            if row is not None:
                if row["fingerprint"] != fingerprint:
                    raise JobConflict()
                if row["accepted_at"] is None and row["status"] == JobStatus.QUEUED.value:  # the spend's: accept it
                    conn.execute(
                        """UPDATE report_jobs SET accepted_at = ?, lease_owner = ?, lease_expires_at = ?, updated_at = ?
                           WHERE job_id = ?""",
                        (_ts(now), lease_owner, lease_expires_at, _ts(now), request.job_id),
                    )
                    return _job(conn.execute("SELECT * FROM report_jobs WHERE job_id = ?", (request.job_id,)).fetchone()), True
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
            row = conn.execute("SELECT * FROM report_jobs WHERE job_id = ?", (request.job_id,)).fetchone()
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
            return _job(conn.execute("SELECT * FROM report_jobs WHERE job_id = ?", (job_id,)).fetchone())

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
            return _job(conn.execute("SELECT * FROM report_jobs WHERE job_id = ?", (job_id,)).fetchone())

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
                    json.dumps(_plain_json(report.body), separators=(",", ":")),
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
            return JobOutcome(_job(conn.execute("SELECT * FROM report_jobs WHERE job_id = ?", (job_id,)).fetchone()), True)

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
            error_log_id = str(uuid.uuid4())
            conn.execute(
                """INSERT INTO error_logs (id, job_id, user_id, code, message, stage, details, created_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?)""",
                (
                    error_log_id,
                    job_id,
                    row["user_id"],
                    failure.code,
                    failure.message,
                    failure.stage,
                    json.dumps(_plain_json(failure.details)),
                    now,
                ),
            )
            self._refund(conn, row, f"job failed: {failure.code}", now)
            conn.execute(
                """UPDATE report_jobs SET status = 'failed', error_code = ?, error_message = ?, error_log_id = ?,
                       refunded = 1, lease_owner = NULL, lease_expires_at = NULL, finished_at = ?, updated_at = ?
                   WHERE job_id = ?""",
                (failure.code, failure.message, error_log_id, now, now, job_id),
            )
            self._queue_callback(conn, row, now)
            return JobOutcome(_job(conn.execute("SELECT * FROM report_jobs WHERE job_id = ?", (job_id,)).fetchone()), True)

    def expired_jobs(self, *, limit: int = 100) -> list[Job]:
        rows = self._read(
            """SELECT * FROM report_jobs WHERE status IN ('queued','running') AND lease_expires_at IS NOT NULL
               AND lease_expires_at < ? ORDER BY lease_expires_at LIMIT ?""",
            (_ts(utcnow()), limit),
        )
        return [_job(r) for r in rows]

    def _locked_job(self, conn: sqlite3.Connection, job_id: str) -> sqlite3.Row:
        row = conn.execute("SELECT * FROM report_jobs WHERE job_id = ?", (job_id,)).fetchone()
        if row is None:
            raise StoreRejected(f"no job {job_id}")
        return row

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
        row = conn.execute("SELECT balance FROM token_balances WHERE user_id = ?", (user_id,)).fetchone()
        balance = row["balance"] if row else 0
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
            row = conn.execute("SELECT balance FROM token_balances WHERE user_id = ?", (user_id,)).fetchone()
            return CreditOutcome(credited=credited, balance=int(row["balance"]))

    def spend_token_for_job(self, request: JobRequest) -> SpendOutcome:
        request = _normalized(request)
        now = utcnow()
        with self._write() as conn:
            row = conn.execute("SELECT * FROM report_jobs WHERE job_id = ?", (request.job_id,)).fetchone()
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
            job = _job(conn.execute("SELECT * FROM report_jobs WHERE job_id = ?", (request.job_id,)).fetchone())
            return SpendOutcome(job, replayed=False, balance=self._balance(conn, request.user_id))

    def refund_unaccepted_job(self, job_id: str, *, failure: FailureRecord) -> JobOutcome:
        now = _ts(utcnow())
        with self._write() as conn:
            row = self._locked_job(conn, job_id)
            if row["accepted_at"] is not None or row["status"] != JobStatus.QUEUED.value:
                return JobOutcome(_job(row), changed=False)
            error_log_id = str(uuid.uuid4())
            conn.execute(
                """INSERT INTO error_logs (id, job_id, user_id, code, message, stage, details, created_at)
                   VALUES (?, ?, ?, ?, ?, 'queued', ?, ?)""",
                (error_log_id, job_id, row["user_id"], failure.code, failure.message,
                 json.dumps({"by": "edge-function", **_plain_json(failure.details)}), now),
            )
            self._refund(conn, row, f"not accepted by a worker: {failure.code}", now)
            conn.execute(
                """UPDATE report_jobs SET status = 'failed', error_code = ?, error_message = ?, error_log_id = ?,
                       refunded = 1, lease_owner = NULL, lease_expires_at = NULL, finished_at = ?, updated_at = ?
                   WHERE job_id = ?""",
                (failure.code, failure.message, error_log_id, now, now, job_id),
            )
            self._queue_callback(conn, row, now)
            return JobOutcome(_job(conn.execute("SELECT * FROM report_jobs WHERE job_id = ?", (job_id,)).fetchone()), True)

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

    def record_callback_attempt(
        self,
        delivery_id: str,
        *,
        attempt: int,
        started_at: datetime,
        status_code: int | None,
        error: str | None,
        duration_ms: int,
        status: str,
        next_attempt_at: datetime | None,
    ) -> None:
        now = _ts(utcnow())
        with self._write() as conn:
            conn.execute(
                """INSERT OR IGNORE INTO callback_attempts (delivery_id, attempt, started_at, status_code, error, duration_ms)
                   VALUES (?, ?, ?, ?, ?, ?)""",
                (delivery_id, attempt, _ts(started_at), status_code, error, duration_ms),
            )
            conn.execute(  # only forward: a stale attempt never reopens a delivered or abandoned callback
                """UPDATE callback_deliveries SET status = ?, attempts = ?, next_attempt_at = ?, claimed_until = NULL,
                       last_status_code = ?, last_error = ?, updated_at = ?,
                       delivered_at = CASE WHEN ? = 'delivered' THEN ? ELSE delivered_at END
                   WHERE id = ? AND status = 'pending' AND attempts < ?""",
                (status, attempt, _ts(next_attempt_at), status_code, error, now, status, now, delivery_id, attempt),
            )

    def callback_delivery(self, job_id: str) -> CallbackDelivery | None:
        rows = self._read("SELECT * FROM callback_deliveries WHERE job_id = ?", (job_id,))
        return _delivery(rows[0]) if rows else None

    def callback_attempts(self, delivery_id: str) -> list[CallbackAttempt]:
        rows = self._read("SELECT * FROM callback_attempts WHERE delivery_id = ? ORDER BY attempt", (delivery_id,))
        return [
            CallbackAttempt(
                delivery_id=r["delivery_id"],
                attempt=r["attempt"],
                started_at=_dt(r["started_at"]),
                status_code=r["status_code"],
                error=r["error"],
                duration_ms=r["duration_ms"],
            )
            for r in rows
        ]


def _normalized(request: JobRequest) -> JobRequest:
    """The ticker as the worker keeps it (upper case, "." -> "-"), or `InvalidField`."""
    ticker = normalize_ticker(request.ticker or "")
    if not _SPEND_TICKER.fullmatch(ticker):
        raise InvalidField("ticker must be 1-10 characters of A-Z, 0-9, '.' or '-'", field="ticker")
    return JobRequest(job_id=request.job_id, user_id=request.user_id, ticker=ticker, callback_url=request.callback_url)


def _owned(row: sqlite3.Row, owner: str | None) -> bool:
    return owner is None or (row["lease_owner"] == owner and row["status"] == "running")


def _job(row: Mapping[str, Any], parse_time: Callable[[Any], datetime | None] = None) -> Job:
    """A job from a store row: a sqlite3.Row (the default time format) or a PostgREST JSON object."""
    when = parse_time or _dt
    return Job(
        job_id=row["job_id"],
        user_id=row["user_id"],
        ticker=row["ticker"],
        callback_url=row["callback_url"],
        fingerprint=row["fingerprint"],
        status=JobStatus(row["status"]),
        stage=Stage(row["stage"]),
        progress=row["progress"],
        created_at=when(row["created_at"]),
        updated_at=when(row["updated_at"]),
        error=JobError(row["error_code"], row["error_message"]) if row["error_code"] else None,
        error_log_id=row["error_log_id"],
        report_id=row["report_id"],
        refunded=bool(row["refunded"]),
        attempts=row["attempts"],
        lease_owner=row["lease_owner"],
        lease_expires_at=when(row["lease_expires_at"]),
        accepted=row["accepted_at"] is not None,
    )


def _delivery(row: Mapping[str, Any], parse_time: Callable[[Any], datetime | None] = None) -> CallbackDelivery:
    when = parse_time or _dt
    return CallbackDelivery(
        delivery_id=row["id"],
        job_id=row["job_id"],
        url=row["url"],
        status=row["status"],
        attempts=row["attempts"],
        next_attempt_at=when(row["next_attempt_at"]),
        last_status_code=row["last_status_code"],
        last_error=row["last_error"],
        delivered_at=when(row["delivered_at"]),
    )


# --------------------------------------------------------------------------------------------------
# Supabase
# --------------------------------------------------------------------------------------------------

SUPABASE_CONNECT_TIMEOUT_SECONDS = 5.0
SUPABASE_READ_TIMEOUT_SECONDS = 15.0  # a call that hangs longer is retried (it is idempotent)
SUPABASE_RPC_ATTEMPTS = 4  # per store call, on transient failures; worker.py may retry the whole call too
SUPABASE_RETRY_BASE_SECONDS = 0.25  # then doubled per attempt, with jitter
SUPABASE_RETRY_MAX_DELAY_SECONDS = 2.0

# The Postgres functions SupabaseStore calls, with their argument names exactly as declared in
# supabase/migrations/. `_call` refuses anything else, and tests/test_migrations.py compares this
# table with the migrated database, so the code and the schema cannot drift apart silently.
RPC_SIGNATURES: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "ping": (),
        "create_job": (
            "p_job_id", "p_user_id", "p_ticker", "p_callback_url", "p_fingerprint", "p_lease_owner",
            "p_lease_seconds", "p_call_id",
        ),
        "get_job": ("p_job_id",),
        "claim_job": ("p_job_id", "p_owner", "p_lease_seconds", "p_call_id"),
        "adopt_job": ("p_job_id", "p_owner", "p_lease_seconds"),
        "record_progress": ("p_job_id", "p_owner", "p_stage", "p_progress"),
        "heartbeat": ("p_job_id", "p_owner", "p_lease_seconds"),
        "complete_job": (
            "p_job_id", "p_owner", "p_report_id", "p_ticker", "p_company_name", "p_report", "p_is_valid",
            "p_ai_cost_usd", "p_total_tokens", "p_refund", "p_refund_reason", "p_html",
        ),
        "fail_job": (
            "p_job_id", "p_error_log_id", "p_code", "p_message", "p_stage", "p_details", "p_owner",
            "p_only_if_lease_expired",
        ),
        "expired_jobs": ("p_limit",),
        "get_report": ("p_report_id",),
        "get_report_html": ("p_report_id",),
        "token_balance": ("p_user_id",),
        "refund_count": ("p_job_id",),
        "error_logs": ("p_job_id",),
        "claim_due_callbacks": ("p_limit", "p_claim_seconds", "p_call_id"),
        "record_callback_attempt": (
            "p_delivery_id", "p_attempt", "p_started_at", "p_status_code", "p_error", "p_duration_ms",
            "p_status", "p_next_attempt_at",
        ),
        "callback_delivery": ("p_job_id",),
        "callback_attempts": ("p_delivery_id",),
        "credit_tokens": ("p_user_id", "p_amount", "p_reference"),
        "spend_token_for_job": ("p_user_id", "p_job_id", "p_ticker", "p_callback_url"),
        "refund_unaccepted_job": ("p_job_id", "p_error_log_id", "p_code", "p_message"),
        "token_ledger": ("p_user_id",),
        "ledger_mismatches": (),
    }
)

# Errors worth retrying, by the `code` of PostgREST's error body (see rpc_error).
_TRANSIENT_POSTGREST_CODES = frozenset({"PGRST000", "PGRST001", "PGRST002", "PGRST003"})  # database unreachable, pool timeout
_TRANSIENT_SQLSTATE_CLASSES = frozenset({"08", "40", "53", "57", "58"})  # connection, rollback, resources, operator, system
_TRANSIENT_SQLSTATES = frozenset({"55P03"})  # lock_not_available
_JOB_CONFLICT_CODE = "PT409"  # create_job's RAISE: PostgREST answers HTTP 409 with this code
_INSUFFICIENT_TOKENS_CODE = "PT402"  # the ledger's refusal to go below zero: HTTP 402
_INVALID_ARGUMENT_CODE = "PT400"  # spend_token_for_job, credit_tokens: a bad ticker, amount or reference
# Our credentials refused: PostgREST's bad or expired JWT (PGRST301) or missing JWT where anon is off
# (PGRST302), or a key without the service role's rights (42501: permission denied for the function).
_MISCONFIGURED_CODES = frozenset({"PGRST301", "PGRST302", "42501"})
# Supabase's API gateway refuses a wrong or revoked key before PostgREST: 401 with no code.
_GATEWAY_KEY_MESSAGES = ("invalid api key", "no api key found")


def is_transient(code: str | None) -> bool:
    """Whether a failed call may succeed if simply made again.

    `code` is PostgREST's error code: a SQLSTATE, a PGRSTxxx code, or (for a body that is not
    PostgREST's JSON, e.g. a proxy's 502 page) the HTTP status as postgrest-py reports it.
    """
    if not code:
        return True  # PostgREST always sends a code: a codeless error body is a gateway's (Kong, a CDN)
    if len(code) == 3 and code.isdigit():  # an HTTP status; SQLSTATEs have five characters
        status = int(code)
        return status >= 500 or status in (408, 425, 429)
    if code in _TRANSIENT_POSTGREST_CODES:
        return True
    if code.startswith("PT") and code[2:].isdigit():  # RAISE sqlstate 'PTxyz' answers HTTP xyz
        return int(code[2:]) >= 500
    return code[:2] in _TRANSIENT_SQLSTATE_CLASSES or code in _TRANSIENT_SQLSTATES


def is_misconfiguration(code: str | None, status: int | None = None, message: str | None = None) -> bool:
    """Whether the store refused our credentials: no retry can cure it, only an operator.

    The API gateway's 401/403 carries no `code` (`{"message": "Invalid API key"}`): it is told by its
    HTTP status, or by its message when the status is not known.
    """
    if code in _MISCONFIGURED_CODES:
        return True
    if code:
        return False
    if status is not None:
        return status in (401, 403)
    return (message or "").strip().lower().startswith(_GATEWAY_KEY_MESSAGES)


def rpc_error(
    fn: str, code: str | None, message: str | None, details: Any = None, hint: str | None = None, status: int | None = None
) -> ReportWorkerError:
    """Map PostgREST's error body ({code, message, details, hint}) and HTTP status to our typed errors.

    JobConflict / CreditConflict for a payload or reference conflict, InsufficientTokens for a short
    balance, InvalidField for a bad argument of the ledger's functions, StoreMisconfigured for refused
    credentials, StoreUnavailable for what a retry may cure, StoreRejected for everything else (a
    constraint, a missing function).
    """
    info = {"rpc": fn, "code": code, "hint": hint, "details": _clip(details)}
    if code == _JOB_CONFLICT_CODE:
        return CreditConflict(details=info) if hint == "REFERENCE_CONFLICT" else JobConflict(details=info)
    if code == _INSUFFICIENT_TOKENS_CODE:
        return InsufficientTokens(details=info)
    if code == _INVALID_ARGUMENT_CODE:
        return InvalidField(_clip(message), details=info)
    text = f"supabase rpc {fn} failed ({code or 'no code'}): {_clip(message) or 'no message'}"
    if is_misconfiguration(code, status, message):
        return StoreMisconfigured(
            f"{text}; the store refuses this service's credentials: check SUPABASE_SERVICE_KEY (a secret key or the "
            "service_role key of this project, not revoked)",
            details={**info, "status": status},
        )
    if is_transient(code):
        return StoreUnavailable(text, details=info)
    return StoreRejected(text, details=info)


def _clip(value: Any, limit: int = 300) -> str | None:
    """Error texts end up in error rows and callbacks: keep them short (a proxy may send a whole page)."""
    if value is None:
        return None
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= limit else text[:limit] + "..."


class SupabaseStore(Store):
    """The production store: each method is one call of a Postgres function through supabase-py `rpc()`.

    The functions (supabase/migrations/) do each state change in one transaction, under a row lock,
    idempotently on job_id. postgrest-py sends every RPC once (it retries only GET/HEAD), so this
    class retries transient failures (network errors, 5xx, the pooler's 503) with bounded, jittered
    backoff. A write carries an id chosen once per logical call (call id, report id, error log id),
    so when a first attempt committed but its answer was lost, the retry gets the first answer.

    Built from the service-role key, which bypasses RLS; the key is never logged or shown in repr.
    """

    def __init__(
        self,
        client,
        *,
        http_client: httpx.Client | None = None,
        attempts: int = SUPABASE_RPC_ATTEMPTS,
        retry_base_seconds: float = SUPABASE_RETRY_BASE_SECONDS,
        retry_max_delay_seconds: float = SUPABASE_RETRY_MAX_DELAY_SECONDS,
        sleep: Callable[[float], None] = time.sleep,
        last_status: "_LastStatus | None" = None,
    ):
        self._client = client  # a supabase.Client (or anything with .rpc(fn, params).execute().data)
        self._http = http_client  # closed by close() when this store created it
        self._last_status = last_status or _LastStatus()  # postgrest-py's APIError does not keep it
        self._attempts = max(1, attempts)
        self._retry_base = retry_base_seconds
        self._retry_max = retry_max_delay_seconds
        self._sleep = sleep
        self._rng = random.Random()

    @classmethod
    def from_settings(cls, settings) -> "SupabaseStore":
        return cls.connect(settings.supabase_url, settings.supabase_service_key)

    @classmethod
    def connect(cls, url: str, key: str, **options) -> "SupabaseStore":
        """A client with our own timeouts (postgrest-py's default read timeout is 120 s), no redirects
        (the key must not follow one), and no session machinery (a service client never signs in)."""
        from supabase import ClientOptions, create_client  # imported here: SQLite-only runs skip its import cost

        last_status = _LastStatus()
        http = httpx.Client(
            timeout=httpx.Timeout(SUPABASE_READ_TIMEOUT_SECONDS, connect=SUPABASE_CONNECT_TIMEOUT_SECONDS),
            follow_redirects=False,
            http2=True,
            event_hooks={"response": [last_status.remember]},
        )
        client_options = ClientOptions(
            httpx_client=http, auto_refresh_token=False, persist_session=False, postgrest_client_retry=False
        )
        return cls(create_client(url, key, options=client_options), http_client=http, last_status=last_status, **options)

    def __repr__(self) -> str:
        return f"SupabaseStore(url={str(getattr(self._client, 'supabase_url', '?'))!r})"

    def close(self) -> None:
        if self._http is not None:
            self._http.close()

    # -- plumbing ----------------------------------------------------------------------------------

    def _send(self, fn: str, params: dict[str, Any]) -> Any:
        """One HTTP call: POST /rest/v1/rpc/<fn> with the arguments as a JSON object."""
        self._last_status.code = None
        return self._client.rpc(fn, params).execute().data

    def _call(self, fn: str, *, attempts: int | None = None, **args: Any) -> Any:
        """Call a store function, retrying transient failures; raise our typed errors."""
        expected = RPC_SIGNATURES.get(fn)
        if expected is None or set(args) != set(expected):
            raise TypeError(f"{fn}({', '.join(sorted(args))}) is not a store function of RPC_SIGNATURES")
        params = {name: _json_arg(value) for name, value in args.items()}
        attempts = attempts or self._attempts
        for attempt in range(1, attempts + 1):
            try:
                return self._send(fn, params)
            except Exception as exc:
                error = _translate(fn, exc, self._last_status.code)
                if error is None:
                    raise
                if not isinstance(error, StoreUnavailable) or attempt == attempts:
                    if isinstance(error, StoreMisconfigured):
                        log.error("store misconfigured: %s", error.message, extra={"rpc": fn, "code": error.details.get("code")})
                    else:
                        level = logging.INFO if isinstance(error, (JobConflict, InsufficientTokens)) else logging.ERROR
                        log.log(level, "store call failed", extra={"rpc": fn, "code": error.details.get("code"), "attempts": attempt, "error": error.message})
                    raise error from exc
                delay = min(self._retry_max, self._retry_base * 2 ** (attempt - 1)) * self._rng.uniform(0.5, 1.0)
                log.warning(
                    "store call failed; retrying",
                    extra={"rpc": fn, "code": error.details.get("code"), "attempt": attempt, "delay_s": round(delay, 3)},
                )
                self._sleep(delay)
        raise AssertionError("unreachable")

    # -- jobs --------------------------------------------------------------------------------------

    def ping(self) -> None:
        self._call("ping", attempts=1)  # readiness: answer now; the prober asks again anyway

    def create_job(self, request: JobRequest, *, lease_owner: str | None, lease_seconds: float) -> tuple[Job, bool]:
        data = self._call(
            "create_job",
            p_job_id=request.job_id,
            p_user_id=request.user_id,
            p_ticker=request.ticker,
            p_callback_url=request.callback_url,
            p_fingerprint=request.fingerprint(),
            p_lease_owner=lease_owner,
            p_lease_seconds=lease_seconds,
            p_call_id=str(uuid.uuid4()),
        )
        return _job(data["job"], _parse_ts), bool(data["created"])

    def get_job(self, job_id: str) -> Job | None:
        data = self._call("get_job", p_job_id=job_id)
        return _job(data, _parse_ts) if data else None

    def claim_job(self, job_id: str, *, owner: str, lease_seconds: float) -> Job | None:
        data = self._call("claim_job", p_job_id=job_id, p_owner=owner, p_lease_seconds=lease_seconds, p_call_id=str(uuid.uuid4()))
        return _job(data, _parse_ts) if data else None

    def adopt_job(self, job_id: str, *, owner: str, lease_seconds: float) -> Job | None:
        data = self._call("adopt_job", p_job_id=job_id, p_owner=owner, p_lease_seconds=lease_seconds)
        return _job(data, _parse_ts) if data else None

    def record_progress(self, job_id: str, *, owner: str, stage: Stage, progress: int) -> bool:
        return bool(self._call("record_progress", p_job_id=job_id, p_owner=owner, p_stage=stage.value, p_progress=progress))

    def heartbeat(self, job_id: str, *, owner: str, lease_seconds: float) -> bool:
        return bool(self._call("heartbeat", p_job_id=job_id, p_owner=owner, p_lease_seconds=lease_seconds))

    def complete_job(
        self, job_id: str, *, owner: str | None, report: ReportRecord, refund: bool, refund_reason: str | None
    ) -> JobOutcome:
        data = self._call(
            "complete_job",
            p_job_id=job_id,
            p_owner=owner,
            p_report_id=report.report_id,
            p_ticker=report.ticker,
            p_company_name=report.company_name,
            p_report=_plain_json(report.body),
            p_is_valid=report.is_valid,
            p_ai_cost_usd=report.ai_cost_usd,
            p_total_tokens=report.total_tokens,
            p_refund=refund,
            p_refund_reason=refund_reason,
            p_html=report.html,
        )
        return JobOutcome(_job(data["job"], _parse_ts), changed=bool(data["changed"]))

    def fail_job(
        self, job_id: str, *, failure: FailureRecord, owner: str | None = None, only_if_lease_expired: bool = False
    ) -> JobOutcome:
        data = self._call(
            "fail_job",
            p_job_id=job_id,
            p_error_log_id=str(uuid.uuid4()),  # once per call, so a retry is recognised as a replay
            p_code=failure.code,
            p_message=failure.message,
            p_stage=failure.stage,
            p_details=_plain_json(failure.details),
            p_owner=owner,
            p_only_if_lease_expired=only_if_lease_expired,
        )
        return JobOutcome(_job(data["job"], _parse_ts), changed=bool(data["changed"]))

    def expired_jobs(self, *, limit: int = 100) -> list[Job]:
        return [_job(row, _parse_ts) for row in self._call("expired_jobs", p_limit=limit)]

    # -- the token ledger --------------------------------------------------------------------------

    def credit_tokens(self, user_id: str, amount: int, reference: str) -> CreditOutcome:
        data = self._call("credit_tokens", p_user_id=user_id, p_amount=amount, p_reference=reference)
        return CreditOutcome(credited=bool(data["credited"]), balance=int(data["balance"]))

    def spend_token_for_job(self, request: JobRequest) -> SpendOutcome:
        data = self._call(
            "spend_token_for_job",
            p_user_id=request.user_id,
            p_job_id=request.job_id,
            p_ticker=request.ticker,
            p_callback_url=request.callback_url,
        )
        return SpendOutcome(_job(data["job"], _parse_ts), replayed=bool(data["replayed"]), balance=int(data["balance"]))

    def refund_unaccepted_job(self, job_id: str, *, failure: FailureRecord) -> JobOutcome:
        data = self._call(
            "refund_unaccepted_job",
            p_job_id=job_id,
            p_error_log_id=str(uuid.uuid4()),  # once per call, so a retry is recognised as a replay
            p_code=failure.code,
            p_message=failure.message,
        )
        return JobOutcome(_job(data["job"], _parse_ts), changed=bool(data["changed"]))

    def ledger(self, user_id: str) -> list[dict[str, Any]]:
        return [{**row, "created_at": _parse_ts(row["created_at"])} for row in self._call("token_ledger", p_user_id=user_id)]

    def ledger_mismatches(self) -> list[dict[str, Any]]:
        return list(self._call("ledger_mismatches"))

    # -- reads for operators and tests -------------------------------------------------------------

    def get_report(self, report_id: str) -> dict[str, Any] | None:
        return self._call("get_report", p_report_id=report_id)

    def get_report_html(self, report_id: str) -> str | None:
        html = self._call("get_report_html", p_report_id=report_id)
        return html if isinstance(html, str) and html else None  # SQL null arrives as null, or as no body

    def token_balance(self, user_id: str) -> int:
        return int(self._call("token_balance", p_user_id=user_id))

    def refund_count(self, job_id: str) -> int:
        return int(self._call("refund_count", p_job_id=job_id))

    def error_logs(self, job_id: str) -> list[dict[str, Any]]:
        return list(self._call("error_logs", p_job_id=job_id))

    # -- callbacks ---------------------------------------------------------------------------------

    def claim_due_callbacks(self, *, limit: int, claim_seconds: float) -> list[CallbackDelivery]:
        rows = self._call("claim_due_callbacks", p_limit=limit, p_claim_seconds=claim_seconds, p_call_id=str(uuid.uuid4()))
        return [_delivery(row, _parse_ts) for row in rows]

    def record_callback_attempt(
        self,
        delivery_id: str,
        *,
        attempt: int,
        started_at: datetime,
        status_code: int | None,
        error: str | None,
        duration_ms: int,
        status: str,
        next_attempt_at: datetime | None,
    ) -> None:
        self._call(
            "record_callback_attempt",
            p_delivery_id=delivery_id,
            p_attempt=attempt,
            p_started_at=started_at,
            p_status_code=status_code,
            p_error=error,
            p_duration_ms=duration_ms,
            p_status=status,
            p_next_attempt_at=next_attempt_at,
        )

    def callback_delivery(self, job_id: str) -> CallbackDelivery | None:
        data = self._call("callback_delivery", p_job_id=job_id)
        return _delivery(data, _parse_ts) if data else None

    def callback_attempts(self, delivery_id: str) -> list[CallbackAttempt]:
        return [
            CallbackAttempt(
                delivery_id=row["delivery_id"],
                attempt=row["attempt"],
                started_at=_parse_ts(row["started_at"]),
                status_code=row["status_code"],
                error=row["error"],
                duration_ms=row["duration_ms"],
            )
            for row in self._call("callback_attempts", p_delivery_id=delivery_id)
        ]


class _LastStatus(threading.local):
    """The HTTP status of this thread's last store call (an httpx response hook records it)."""

    code: int | None = None

    def remember(self, response: httpx.Response) -> None:
        self.code = response.status_code


def _translate(fn: str, exc: Exception, status: int | None = None) -> ReportWorkerError | None:
    """Our typed error for a failed RPC, or None for an exception that is not the store's (a bug)."""
    from postgrest.exceptions import APIError

    if isinstance(exc, APIError):
        return rpc_error(fn, exc.code, exc.message, exc.details, exc.hint, status)
    if isinstance(exc, httpx.TransportError):  # connect/read errors, timeouts, a dropped connection
        name = type(exc).__name__
        return StoreUnavailable(f"supabase rpc {fn} failed ({name}): {_clip(str(exc)) or 'no message'}", details={"rpc": fn, "code": name})
    return None


def _json_arg(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).isoformat()
    return value


def _plain_json(value: Any) -> Any:
    """JSON as both stores keep it: non-JSON types become strings, NaN and Infinity become null
    (jsonb and the HTTP client refuse them; SQLite would store them as non-standard JSON)."""
    return json.loads(json.dumps(value, default=str), parse_constant=lambda _: None)


def _parse_ts(value: str | None) -> datetime | None:
    """PostgREST sends timestamptz as ISO 8601 with an offset; we use aware UTC datetimes."""
    if value is None:
        return None
    moment = datetime.fromisoformat(value)
    return (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).astimezone(timezone.utc)
