"""The store interface: the state changes of a job, and the records they read and write.

`Store` is the small interface every backend implements; each method is one state change, done
atomically and idempotently on `job_id`, so a retried call never doubles anything. The contract is
pinned by `tests/store_contract.py`, which every backend runs unchanged. The backends:
`store_sqlite.SQLiteStore` (embedded) and `store_supabase.SupabaseStore` (production);
`database.open_store` picks one.

Both backends keep the same columns, so a row of either becomes a `Job` or a `CallbackDelivery`
through the same decoder here; only the time format differs.
"""

from __future__ import annotations

import abc
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Mapping

from config import Settings
from job import Job, JobError, JobRequest, JobStatus, Stage

CALLBACK_PENDING = "pending"
CALLBACK_DELIVERED = "delivered"
CALLBACK_FAILED = "failed"  # every attempt used up, or the receiver answered 410 Gone


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


@dataclass(frozen=True)
class CallbackAttemptRecord:
    """One POST of a callback and the state it leaves its delivery in: written by `record_callback_attempt`."""

    delivery_id: str
    attempt: int  # 1 for the first POST; at most one row per attempt number
    started_at: datetime
    status_code: int | None  # None: no answer (a network error, an unusable URL)
    error: str | None
    duration_ms: int
    status: str  # the delivery's next state: CALLBACK_PENDING (retried at next_attempt_at), _DELIVERED or _FAILED
    next_attempt_at: datetime | None


class Store(abc.ABC):
    """The state changes of a job. Every method is atomic; the write methods are idempotent."""

    @classmethod
    @abc.abstractmethod
    def from_settings(cls, settings: Settings) -> Store:
        """The backend built from its own settings (`database.open_store` calls it)."""

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
    def record_callback_attempt(self, record: CallbackAttemptRecord) -> None:
        """Log the attempt (a replayed one is a no-op) and move its delivery forward, never back."""

    @abc.abstractmethod
    def callback_delivery(self, job_id: str) -> CallbackDelivery | None: ...

    @abc.abstractmethod
    def callback_attempts(self, delivery_id: str) -> list[CallbackAttempt]: ...

    def close(self) -> None:
        """Release connections."""


# -- shared by the backends -----------------------------------------------------------------------


def job_from_row(row: Mapping[str, Any], parse_time: Callable[[Any], datetime | None]) -> Job:
    """A job from a store row: a sqlite3.Row or a PostgREST JSON object, with that backend's time parser."""
    return Job(
        job_id=row["job_id"],
        user_id=row["user_id"],
        ticker=row["ticker"],
        callback_url=row["callback_url"],
        fingerprint=row["fingerprint"],
        status=JobStatus(row["status"]),
        stage=Stage(row["stage"]),
        progress=row["progress"],
        created_at=parse_time(row["created_at"]),
        updated_at=parse_time(row["updated_at"]),
        error=JobError(row["error_code"], row["error_message"]) if row["error_code"] else None,
        error_log_id=row["error_log_id"],
        report_id=row["report_id"],
        refunded=bool(row["refunded"]),
        attempts=row["attempts"],
        lease_owner=row["lease_owner"],
        lease_expires_at=parse_time(row["lease_expires_at"]),
        accepted=row["accepted_at"] is not None,
    )


def delivery_from_row(row: Mapping[str, Any], parse_time: Callable[[Any], datetime | None]) -> CallbackDelivery:
    return CallbackDelivery(
        delivery_id=row["id"],
        job_id=row["job_id"],
        url=row["url"],
        status=row["status"],
        attempts=row["attempts"],
        next_attempt_at=parse_time(row["next_attempt_at"]),
        last_status_code=row["last_status_code"],
        last_error=row["last_error"],
        delivered_at=parse_time(row["delivered_at"]),
    )


def attempt_from_row(row: Mapping[str, Any], parse_time: Callable[[Any], datetime | None]) -> CallbackAttempt:
    return CallbackAttempt(
        delivery_id=row["delivery_id"],
        attempt=row["attempt"],
        started_at=parse_time(row["started_at"]),
        status_code=row["status_code"],
        error=row["error"],
        duration_ms=row["duration_ms"],
    )


def plain_json(value: Any) -> Any:
    """JSON as both stores keep it: non-JSON types become strings, NaN and Infinity become null
    (jsonb and the HTTP client refuse them; SQLite would store them as non-standard JSON)."""
    return json.loads(json.dumps(value, default=str), parse_constant=lambda _: None)
