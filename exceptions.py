"""Every error type of the service, each with a stable code.

An error carries what the HTTP layer needs (`http_status`), what the job record and the callback
need (`code`, a safe `message`) and whether a failed job hands the token back (`refund`). The
mapping to HTTP answers lives in `app.py`, the mapping to job failures in `failure.py`; both read
these attributes, so each error is described exactly once, here.

Messages must never contain secrets: they are stored in error rows, sent in callbacks and shown
to operators.
"""

from __future__ import annotations

import defaults


class ReportWorkerError(Exception):
    """Base class. Subclasses set `code`, `http_status` and a default message."""

    code = "INTERNAL_ERROR"
    http_status = 500
    default_message = "internal error"

    def __init__(self, message: str | None = None, *, field: str | None = None, details: dict | None = None):
        self.message = message or self.default_message
        self.field = field
        self.details = details or {}
        super().__init__(self.message)

    def to_dict(self) -> dict:
        body = {"code": self.code, "message": self.message}
        if self.field:
            body["field"] = self.field
        return body


# --- Configuration ----------------------------------------------------------------------------------


class ConfigError(ReportWorkerError):
    """A setting is missing or malformed; raised at start-up, before serving anything."""

    code = "CONFIG_ERROR"


# --- Request errors (the caller must change the request) --------------------------------------------


class RequestRejected(ReportWorkerError):
    http_status = 400
    code = "INVALID_REQUEST"


class InvalidField(RequestRejected):
    code = "INVALID_FIELD"


class InvalidJSON(RequestRejected):
    code = "INVALID_JSON"
    default_message = "the request body is not valid JSON"


class UnsupportedMediaType(RequestRejected):
    http_status = 415
    code = "UNSUPPORTED_MEDIA_TYPE"
    default_message = "the request body must be JSON (Content-Type: application/json)"


class Unauthorized(RequestRejected):
    http_status = 401
    code = "UNAUTHORIZED"
    default_message = "missing or invalid bearer token"


class JobNotFound(RequestRejected):
    http_status = 404
    code = "JOB_NOT_FOUND"
    default_message = "no job with this id"


class ReportNotFound(RequestRejected):
    http_status = 404
    code = "REPORT_NOT_FOUND"
    default_message = "no report with this id"


class JobConflict(RequestRejected):
    http_status = 409
    code = "JOB_CONFLICT"
    default_message = "a job with this job_id exists with a different payload"


class InsufficientTokens(RequestRejected):
    """The user's balance cannot pay for the job (spend_token_for_job); nothing was recorded."""

    http_status = 402
    code = "INSUFFICIENT_TOKENS"
    default_message = "the balance has no token left for this report"


class CreditConflict(RequestRejected):
    """credit_tokens: the reference (a payment id) was already credited with another user or amount."""

    http_status = 409
    code = "CREDIT_CONFLICT"
    default_message = "this reference was already credited with another user or amount"


class QueueFull(RequestRejected):
    http_status = 429
    code = "QUEUE_FULL"
    default_message = "too many jobs in progress; retry later"
    retry_after = defaults.QUEUE_FULL_RETRY_AFTER_SECONDS  # the 429's Retry-After


class ShuttingDown(RequestRejected):
    http_status = 503
    code = "SHUTTING_DOWN"
    default_message = "this instance is shutting down; retry on another"


# --- Job failures (the job fails and the token is refunded) -----------------------------------------


class JobFailure(ReportWorkerError):
    """A reason a job produced no usable report. Every subclass refunds."""

    refund = True


class TickerNotFound(JobFailure):
    code = "TICKER_NOT_FOUND"
    http_status = 404
    default_message = "the ticker is not in the SEC's company list"


class UnsupportedFiler(JobFailure):
    code = "UNSUPPORTED_FILER"
    http_status = 422
    default_message = "the company files no 10-K annual reports (foreign private issuers file 20-F or 40-F)"


class FilingsUnavailable(JobFailure):
    code = "FILINGS_UNAVAILABLE"
    http_status = 422
    default_message = "fewer than two annual reports are available"


class SecUserAgentMissing(JobFailure):
    code = "SEC_USER_AGENT_MISSING"
    default_message = "SEC_USER_AGENT is not set; the SEC requires a declared user agent with a contact"


class SecRateLimited(JobFailure):
    code = "SEC_RATE_LIMITED"
    http_status = 503
    default_message = "the SEC is throttling this service; requests are paused"


class SecUnavailable(JobFailure):
    code = "SEC_UNAVAILABLE"
    http_status = 502
    default_message = "SEC EDGAR did not answer correctly after retries"


class SecBadResponse(SecUnavailable):
    code = "SEC_BAD_RESPONSE"
    default_message = "SEC EDGAR answered with something that is not what was asked for"


class ExtractionFailed(JobFailure):
    code = "EXTRACTION_FAILED"
    http_status = 422
    default_message = "the items of the annual report could not be extracted"


class StoreUnavailable(JobFailure):
    code = "STORE_UNAVAILABLE"
    http_status = 503
    default_message = "the store did not answer"


class QueueUnavailable(JobFailure):
    """QUEUE_BACKEND=rq and Redis refused the job (down, or full under `noeviction`). Before the job is
    recorded: 503, nothing recorded. After: the job fails at once, refunded, with its callback."""

    code = "QUEUE_UNAVAILABLE"
    http_status = 503
    default_message = "the job queue (Redis) did not take the job"
    retry_after = defaults.QUEUE_FULL_RETRY_AFTER_SECONDS  # the 503's Retry-After, as for QUEUE_FULL


class StoreRejected(JobFailure):
    """The store refused a call for a reason that retrying will not fix (constraint, bad argument)."""

    code = "STORE_REJECTED"
    default_message = "the store rejected the call"


class StoreMisconfigured(StoreRejected):
    """The store refuses our credentials: a wrong or revoked key (the API gateway's codeless 401/403
    "Invalid API key", PostgREST's PGRST301) or a key without the service role's rights (42501).
    Retrying cannot help, so it is never retried; `/ready` says `misconfigured` and `POST` answers
    503 with nothing recorded, until an operator fixes SUPABASE_SERVICE_KEY."""

    code = "STORE_MISCONFIGURED"
    http_status = 503
    default_message = "the store refuses this service's credentials (check SUPABASE_SERVICE_KEY)"


class WorkerUnavailable(JobFailure):
    """Recorded by the generate-report Edge Function (refund_unaccepted_job), never raised here: no
    worker took the job (it answered 429/503 past the retry bound, or could not be reached), so the
    function failed it and gave its token back. Named here so that every job error code is ours."""

    code = "WORKER_UNAVAILABLE"
    http_status = 503
    default_message = "no worker took the job; the token was refunded"


class WorkerRejected(JobFailure):
    """As WorkerUnavailable, for a worker that refused the job for good (a 4xx answer)."""

    code = "WORKER_REJECTED"
    http_status = 502
    default_message = "the worker refused the job; the token was refunded"


class JobTimeout(JobFailure):
    code = "JOB_TIMEOUT"
    http_status = 504
    default_message = "the job did not finish within its time limit"


class JobAbandoned(JobFailure):
    code = "JOB_ABANDONED"
    default_message = "the process running the job stopped before it finished"


class JobQueueTimeout(JobFailure):
    code = "JOB_QUEUE_TIMEOUT"
    default_message = "the job waited too long for a free worker and never started"


class InternalError(JobFailure):
    code = "INTERNAL_ERROR"
    default_message = "internal error"


class LeaseLost(ReportWorkerError):
    """This process no longer owns the job (it timed out or was recovered elsewhere): stop quietly."""

    code = "LEASE_LOST"
    default_message = "the job is no longer owned by this worker"


def as_job_failure(exc: BaseException) -> JobFailure:
    """Map any exception to the typed failure that is stored, sent and refunded."""
    if isinstance(exc, JobFailure):
        return exc
    if isinstance(exc, ReportWorkerError):
        failure = InternalError(exc.message)
        failure.code = exc.code
        return failure
    return InternalError()
