"""The production store: Supabase's Postgres, through the functions of `supabase/migrations/`.

Each `Store` method is one call of a Postgres function over PostgREST (supabase-py `rpc()`), so each
change is one transaction on the server; the store retries transient failures itself, since every
function is idempotent and postgrest-py never retries a POST. `rpc_error` maps PostgREST's error
bodies to our typed errors.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from datetime import datetime, timezone
from types import MappingProxyType
from typing import Any, Callable, Mapping

import httpx

import defaults
from config import Settings
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
from job import Job, JobRequest, Stage
from retry import Backoff
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

log = logging.getLogger("database")  # the store's log lines keep the name they had before the split


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
        attempts: int = defaults.SUPABASE_RPC_ATTEMPTS,
        retry_base_seconds: float = defaults.SUPABASE_RETRY_BASE_SECONDS,
        retry_max_delay_seconds: float = defaults.SUPABASE_RETRY_MAX_DELAY_SECONDS,
        sleep: Callable[[float], None] = time.sleep,
        last_status: "_LastStatus | None" = None,
    ):
        self._client = client  # a supabase.Client (or anything with .rpc(fn, params).execute().data)
        self._http = http_client  # closed by close() when this store created it
        self._last_status = last_status or _LastStatus()  # postgrest-py's APIError does not keep it
        self._attempts = max(1, attempts)
        self._backoff = Backoff(base=retry_base_seconds, cap=retry_max_delay_seconds)
        self._sleep = sleep

    @classmethod
    def from_settings(cls, settings: Settings) -> "SupabaseStore":
        return cls.connect(settings.supabase_url, settings.supabase_service_key)

    @classmethod
    def connect(cls, url: str, key: str, **options) -> "SupabaseStore":
        """A client with our own timeouts (postgrest-py's default read timeout is 120 s), no redirects
        (the key must not follow one), and no session machinery (a service client never signs in)."""
        from supabase import ClientOptions, create_client  # imported here: SQLite-only runs skip its import cost

        last_status = _LastStatus()
        http = httpx.Client(
            timeout=httpx.Timeout(defaults.SUPABASE_READ_TIMEOUT_SECONDS, connect=defaults.SUPABASE_CONNECT_TIMEOUT_SECONDS),
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
                        log.log(level, "store call failed",
                                extra={"rpc": fn, "code": error.details.get("code"), "attempts": attempt, "error": error.message})
                    raise error from exc
                delay = self._backoff.delay(attempt)
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
        return _job(data["job"]), bool(data["created"])

    def get_job(self, job_id: str) -> Job | None:
        data = self._call("get_job", p_job_id=job_id)
        return _job(data) if data else None

    def claim_job(self, job_id: str, *, owner: str, lease_seconds: float) -> Job | None:
        data = self._call("claim_job", p_job_id=job_id, p_owner=owner, p_lease_seconds=lease_seconds, p_call_id=str(uuid.uuid4()))
        return _job(data) if data else None

    def adopt_job(self, job_id: str, *, owner: str, lease_seconds: float) -> Job | None:
        data = self._call("adopt_job", p_job_id=job_id, p_owner=owner, p_lease_seconds=lease_seconds)
        return _job(data) if data else None

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
            p_report=plain_json(report.body),
            p_is_valid=report.is_valid,
            p_ai_cost_usd=report.ai_cost_usd,
            p_total_tokens=report.total_tokens,
            p_refund=refund,
            p_refund_reason=refund_reason,
            p_html=report.html,
        )
        return _outcome(data)

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
            p_details=plain_json(failure.details),
            p_owner=owner,
            p_only_if_lease_expired=only_if_lease_expired,
        )
        return _outcome(data)

    def expired_jobs(self, *, limit: int = 100) -> list[Job]:
        return [_job(row) for row in self._call("expired_jobs", p_limit=limit)]

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
        return SpendOutcome(_job(data["job"]), replayed=bool(data["replayed"]), balance=int(data["balance"]))

    def refund_unaccepted_job(self, job_id: str, *, failure: FailureRecord) -> JobOutcome:
        data = self._call(
            "refund_unaccepted_job",
            p_job_id=job_id,
            p_error_log_id=str(uuid.uuid4()),  # once per call, so a retry is recognised as a replay
            p_code=failure.code,
            p_message=failure.message,
        )
        return _outcome(data)

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
        return [delivery_from_row(row, _parse_ts) for row in rows]

    def record_callback_attempt(self, record: CallbackAttemptRecord) -> None:
        self._call(
            "record_callback_attempt",
            p_delivery_id=record.delivery_id,
            p_attempt=record.attempt,
            p_started_at=record.started_at,
            p_status_code=record.status_code,
            p_error=record.error,
            p_duration_ms=record.duration_ms,
            p_status=record.status,
            p_next_attempt_at=record.next_attempt_at,
        )

    def callback_delivery(self, job_id: str) -> CallbackDelivery | None:
        data = self._call("callback_delivery", p_job_id=job_id)
        return delivery_from_row(data, _parse_ts) if data else None

    def callback_attempts(self, delivery_id: str) -> list[CallbackAttempt]:
        return [attempt_from_row(row, _parse_ts) for row in self._call("callback_attempts", p_delivery_id=delivery_id)]


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


def _job(row: Mapping[str, Any]) -> Job:
    return job_from_row(row, _parse_ts)


def _outcome(data: Mapping[str, Any]) -> JobOutcome:
    return JobOutcome(_job(data["job"]), changed=bool(data["changed"]))


def _parse_ts(value: str | None) -> datetime | None:
    """PostgREST sends timestamptz as ISO 8601 with an offset; we use aware UTC datetimes."""
    if value is None:
        return None
    moment = datetime.fromisoformat(value)
    return (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).astimezone(timezone.utc)
