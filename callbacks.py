"""Signed job callbacks (Standard Webhooks), delivered from a durable outbox with retries.

The store writes one delivery row in the same transaction that makes a job terminal. A
`CallbackDispatcher` in every process claims due rows, POSTs them and records every attempt;
failures are retried with exponential backoff and jitter (about 6 attempts over 15 minutes by
default). The body is rebuilt from the job's terminal state on each attempt, which never changes,
so retries send the same body under the same `webhook-id`. A callback never changes a job's outcome.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import requests
from standardwebhooks import Webhook

import defaults
from config import Settings
from database import CALLBACK_DELIVERED, CALLBACK_FAILED, CALLBACK_PENDING, CallbackAttemptRecord, CallbackDelivery, Store
from job import Job
from observability import job_context
from retry import Backoff, retry_after_seconds

log = logging.getLogger("callbacks")


def callback_body(job: Job) -> dict:
    """What the Edge Function receives: the job's outcome, never report content."""
    return {
        "job_id": job.job_id,
        "status": job.status.value,
        "report_id": job.report_id,
        "refunded": job.refunded,
        "error": {"code": job.error.code, "message": job.error.message} if job.error else None,
        "error_log_id": job.error_log_id,
    }


def encode_body(body: dict) -> str:
    return json.dumps(body, separators=(",", ":"), sort_keys=True)


def signed_headers(secret: str | None, message_id: str, body: str, at: datetime) -> dict[str, str]:
    """Standard Webhooks headers: webhook-id, webhook-timestamp and (with a secret) webhook-signature."""
    headers = {
        "content-type": "application/json",
        "user-agent": f"{defaults.SERVICE_NAME}/{defaults.VERSION}",
        "webhook-id": message_id,
        "webhook-timestamp": str(int(at.timestamp())),
    }
    if secret:
        headers["webhook-signature"] = Webhook(secret).sign(message_id, at, body)
    return headers


@dataclass(frozen=True)
class AttemptResult:
    status_code: int | None
    error: str | None
    retry_after: float | None
    permanent: bool = False  # retrying cannot help (an unusable URL)

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300

    @property
    def gone(self) -> bool:
        return self.status_code == 410  # the receiver asks us to stop


class CallbackDispatcher:
    """Sends due callback deliveries; one per process, woken after each job and by a poll timer."""

    def __init__(self, settings: Settings, store: Store, *, session: requests.Session | None = None, rng: random.Random | None = None, metrics=None):
        self.settings = settings
        self.metrics = metrics
        self.store = store
        self.session = session or requests.Session()
        self.rng = rng or random.Random()
        self.backoff = Backoff(  # defaults: 10 s, 30 s, 90 s, 270 s, 480 s, each less up to 20%
            base=settings.callback_retry_base_seconds,
            factor=defaults.CALLBACK_RETRY_FACTOR,
            cap=settings.callback_retry_max_delay_seconds,
            jitter=defaults.CALLBACK_RETRY_JITTER,
        )
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="callback-dispatcher", daemon=True)
            self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.deliver_due()
            except Exception:  # the dispatcher must outlive any one bad delivery or store blip
                log.exception("callback dispatch pass failed")
            self._wake.wait(self.settings.callback_poll_interval_seconds)
            self._wake.clear()

    # -- delivery ----------------------------------------------------------------------------------

    def deliver_due(self, limit: int = 20) -> int:
        """Send up to `limit` due deliveries, once each; return how many were attempted.

        Each is claimed just before it is sent, one at a time: a claim (CALLBACK_CLAIM_SECONDS) outlasts
        one POST (connect + read timeouts), so no other dispatcher can take it over mid-send.
        """
        sent = 0
        while sent < limit and not self._stop.is_set():
            claimed = self.store.claim_due_callbacks(limit=1, claim_seconds=defaults.CALLBACK_CLAIM_SECONDS)
            if not claimed:
                break
            delivery = claimed[0]
            sent += 1
            with job_context(delivery.job_id):
                try:
                    self._attempt(delivery)
                except Exception:  # one bad delivery must not hold up the others; its claim lapses
                    log.exception("callback attempt crashed", extra={"delivery_id": delivery.delivery_id})
        return sent

    def _attempt(self, delivery: CallbackDelivery) -> None:
        job = self.store.get_job(delivery.job_id)
        if job is None:
            log.error("callback for an unknown job", extra={"delivery_id": delivery.delivery_id})
            return
        attempt = delivery.attempts + 1
        started = datetime.now(timezone.utc)
        clock = time.monotonic()
        result = self._post(delivery, job, started)
        duration_ms = int((time.monotonic() - clock) * 1000)

        if result.delivered:
            status, next_at = CALLBACK_DELIVERED, None
        elif result.gone or result.permanent or attempt >= self.settings.callback_max_attempts:
            status, next_at = CALLBACK_FAILED, None
        else:
            delay = self.backoff.delay(attempt, self.rng)
            if result.retry_after is not None:
                delay = max(delay, min(result.retry_after, self.backoff.cap))
            status, next_at = CALLBACK_PENDING, datetime.now(timezone.utc) + timedelta(seconds=delay)

        self.store.record_callback_attempt(
            CallbackAttemptRecord(
                delivery_id=delivery.delivery_id,
                attempt=attempt,
                started_at=started,
                status_code=result.status_code,
                error=result.error,
                duration_ms=duration_ms,
                status=status,
                next_attempt_at=next_at,
            )
        )
        if self.metrics is not None:
            self.metrics.callback_attempts.labels({CALLBACK_PENDING: "retry"}.get(status, status)).inc()
        fields = {"attempt": attempt, "status_code": result.status_code, "delivery_status": status, "duration_ms": duration_ms}
        if status == CALLBACK_DELIVERED:
            log.info("callback delivered", extra=fields)
        elif status == CALLBACK_FAILED:
            log.error("callback abandoned", extra={**fields, "error": result.error})
        else:
            log.warning("callback attempt failed; will retry", extra={**fields, "error": result.error, "next_attempt_at": next_at.isoformat()})

    def _post(self, delivery: CallbackDelivery, job: Job, at: datetime) -> AttemptResult:
        body = encode_body(callback_body(job))
        headers = signed_headers(self.settings.callback_secret, delivery.delivery_id, body, at)
        try:
            response = self.session.post(
                delivery.url,
                data=body.encode(),
                headers=headers,
                timeout=(5.0, self.settings.callback_timeout_seconds),
                allow_redirects=False,  # a redirect could lead anywhere; treat it as a failure
            )
        except (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema, requests.exceptions.InvalidSchema,
                ValueError) as exc:  # the URL itself is unusable (urllib3's LocationParseError is a ValueError)
            return AttemptResult(None, f"invalid callback URL: {type(exc).__name__}", None, permanent=True)
        except requests.RequestException as exc:
            return AttemptResult(None, f"{type(exc).__name__}: {str(exc)[:200]}", None)
        error = None if 200 <= response.status_code < 300 else f"HTTP {response.status_code}"
        return AttemptResult(response.status_code, error, retry_after_seconds(response.headers))
