"""The store contract: every backend runs these tests unchanged.

A backend's test module subclasses `StoreContract` and provides a `store` fixture returning a
fresh, empty store. Nothing here may depend on the backend.
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from exceptions import CreditConflict, InsufficientTokens, InvalidField, JobConflict
from job import JobRequest, JobStatus, Stage
from store import (
    CALLBACK_DELIVERED,
    CALLBACK_FAILED,
    CALLBACK_PENDING,
    CallbackAttempt,
    CallbackAttemptRecord,
    FailureRecord,
    ReportRecord,
)


def request(ticker="AAPL", callback_url="https://hooks.example.com/cb", **kw) -> JobRequest:
    return JobRequest(
        job_id=kw.get("job_id", str(uuid.uuid4())),
        user_id=kw.get("user_id", str(uuid.uuid4())),
        ticker=ticker,
        callback_url=callback_url,
    )


def report_record(ticker="AAPL") -> ReportRecord:
    return ReportRecord(
        report_id=str(uuid.uuid4()),
        ticker=ticker,
        company_name="Apple Inc.",
        body={"ticker": ticker, "quality": {"is_valid": True}, "items": {"newer": {"1": {"word_count": 10}}}},
        is_valid=True,
        ai_cost_usd=0.0123,
        total_tokens=4567,
    )


FAILURE = FailureRecord(code="TICKER_NOT_FOUND", message="no such ticker", stage="fetching", details={"ticker": "ZZZZ"})
REFUSED = FailureRecord(code="WORKER_UNAVAILABLE", message="the worker did not take the job", stage="queued")
OWNER = "host:1:abcd"


def paid_request(store, **kw) -> JobRequest:
    """A job as production records it: one token bought, then spent for the job by the Edge Function."""
    req = request(**kw)
    store.credit_tokens(req.user_id, 1, f"pay_{req.job_id}")
    store.spend_token_for_job(req)
    return req


def running(store, *, paid: bool = True, **kw) -> JobRequest:
    """A running job: paid for (or posted to the worker directly), accepted, claimed by OWNER."""
    req = paid_request(store, **kw) if paid else request(**kw)
    store.create_job(req, lease_owner=OWNER, lease_seconds=30)
    store.claim_job(req.job_id, owner=OWNER, lease_seconds=30)
    return req


def kinds(store, user_id: str) -> list[tuple[str, int]]:
    return [(row["kind"], row["amount"]) for row in store.ledger(user_id)]


def run_at_once(*calls) -> list:
    """Start the calls at the same instant from as many threads; their results (or exceptions) in order."""
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)

    def run(n):
        barrier.wait()
        try:
            results[n] = calls[n]()
        except Exception as exc:
            results[n] = exc

    threads = [threading.Thread(target=run, args=(n,)) for n in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


class StoreContract:
    # -- creating and reading jobs -----------------------------------------------------------------

    def test_ping(self, store):
        store.ping()

    def test_create_then_get(self, store):
        req = request()
        job, created = store.create_job(req, lease_owner=OWNER, lease_seconds=30)
        assert created
        assert (job.job_id, job.user_id, job.ticker, job.callback_url) == (req.job_id, req.user_id, "AAPL", req.callback_url)
        assert job.status is JobStatus.QUEUED and job.stage is Stage.QUEUED and job.progress == 0
        assert not job.refunded and job.report_id is None and job.error is None
        assert job.lease_owner == OWNER and job.lease_expires_at > datetime.now(timezone.utc)
        again = store.get_job(req.job_id)
        assert again.status is JobStatus.QUEUED and again.fingerprint == req.fingerprint()
        assert again.created_at.tzinfo is not None

    def test_unknown_job_is_none(self, store):
        assert store.get_job(str(uuid.uuid4())) is None

    def test_same_payload_returns_existing_job(self, store):
        req = request()
        store.create_job(req, lease_owner=OWNER, lease_seconds=30)
        job, created = store.create_job(req, lease_owner="other", lease_seconds=30)
        assert not created and job.job_id == req.job_id and job.lease_owner == OWNER

    def test_different_payload_conflicts(self, store):
        req = request()
        store.create_job(req, lease_owner=OWNER, lease_seconds=30)
        with pytest.raises(JobConflict):
            store.create_job(request(ticker="MSFT", job_id=req.job_id, user_id=req.user_id), lease_owner=OWNER, lease_seconds=30)

    # -- running ------------------------------------------------------------------------------------

    def test_claim_once(self, store):
        req = request()
        store.create_job(req, lease_owner=OWNER, lease_seconds=30)
        first = store.claim_job(req.job_id, owner=OWNER, lease_seconds=30)
        assert first.status is JobStatus.RUNNING and first.attempts == 1 and first.lease_owner == OWNER
        assert store.claim_job(req.job_id, owner="someone-else", lease_seconds=30) is None

    def test_concurrent_claims_have_one_winner(self, store):
        req = request()
        store.create_job(req, lease_owner=None, lease_seconds=30)
        winners = []

        def claim(n):
            if store.claim_job(req.job_id, owner=f"w{n}", lease_seconds=30) is not None:
                winners.append(n)

        threads = [threading.Thread(target=claim, args=(n,)) for n in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(winners) == 1

    def test_progress_only_by_owner(self, store):
        req = request()
        store.create_job(req, lease_owner=OWNER, lease_seconds=30)
        store.claim_job(req.job_id, owner=OWNER, lease_seconds=30)
        assert store.record_progress(req.job_id, owner=OWNER, stage=Stage.DIFFING, progress=45)
        assert not store.record_progress(req.job_id, owner="intruder", stage=Stage.SAVING, progress=90)
        job = store.get_job(req.job_id)
        assert job.stage is Stage.DIFFING and job.progress == 45

    def test_progress_never_goes_back(self, store):
        req = request()
        store.create_job(req, lease_owner=OWNER, lease_seconds=30)
        store.claim_job(req.job_id, owner=OWNER, lease_seconds=30)
        store.record_progress(req.job_id, owner=OWNER, stage=Stage.SUMMARIZING, progress=55)
        store.record_progress(req.job_id, owner=OWNER, stage=Stage.DIFFING, progress=45)
        assert store.get_job(req.job_id).progress == 55

    def test_heartbeat_extends_lease(self, store):
        req = request()
        store.create_job(req, lease_owner=OWNER, lease_seconds=1)
        before = store.get_job(req.job_id).lease_expires_at
        assert store.heartbeat(req.job_id, owner=OWNER, lease_seconds=60)
        assert store.get_job(req.job_id).lease_expires_at > before
        assert not store.heartbeat(req.job_id, owner="intruder", lease_seconds=60)

    def test_expired_leases_are_listed(self, store):
        expired, alive = request(), request()
        store.create_job(expired, lease_owner=OWNER, lease_seconds=0.2)
        store.create_job(alive, lease_owner=OWNER, lease_seconds=60)
        time.sleep(0.4)
        ids = {j.job_id for j in store.expired_jobs()}
        assert expired.job_id in ids and alive.job_id not in ids

    def test_adopt_a_queued_job_whose_lease_lapsed(self, store):
        lapsed, alive = request(), request()
        store.create_job(lapsed, lease_owner="dead", lease_seconds=0.2)
        store.create_job(alive, lease_owner=OWNER, lease_seconds=60)
        time.sleep(0.4)
        adopted = store.adopt_job(lapsed.job_id, owner="heir", lease_seconds=60)
        assert adopted.lease_owner == "heir" and adopted.status is JobStatus.QUEUED
        assert adopted.lease_expires_at > datetime.now(timezone.utc)
        assert store.adopt_job(lapsed.job_id, owner="other-heir", lease_seconds=60) is None  # now alive again
        assert store.adopt_job(alive.job_id, owner="heir", lease_seconds=60) is None

    def test_running_jobs_are_never_adopted(self, store):
        req = request()
        store.create_job(req, lease_owner=OWNER, lease_seconds=30)
        store.claim_job(req.job_id, owner=OWNER, lease_seconds=0.2)
        time.sleep(0.4)
        assert store.adopt_job(req.job_id, owner="heir", lease_seconds=60) is None

    def test_concurrent_adopters_have_one_winner(self, store):
        req = request()
        store.create_job(req, lease_owner="dead", lease_seconds=0.2)
        time.sleep(0.4)
        winners = []

        def adopt(n):
            if store.adopt_job(req.job_id, owner=f"heir{n}", lease_seconds=60) is not None:
                winners.append(n)

        threads = [threading.Thread(target=adopt, args=(n,)) for n in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(winners) == 1 and store.get_job(req.job_id).lease_owner == f"heir{winners[0]}"

    # -- completing ---------------------------------------------------------------------------------

    def _running(self, store, **kw):
        return running(store, **kw)

    def test_complete_saves_report_without_refund(self, store):
        req = self._running(store)
        record = report_record()
        outcome = store.complete_job(req.job_id, owner=OWNER, report=record, refund=False, refund_reason=None)
        assert outcome.changed
        job = store.get_job(req.job_id)
        assert job.status is JobStatus.COMPLETED and job.report_id == record.report_id and not job.refunded
        assert job.progress == 100 and job.stage is Stage.DONE and job.lease_owner is None
        assert store.get_report(record.report_id) == record.body
        assert store.refund_count(req.job_id) == 0 and store.token_balance(req.user_id) == 0

    def test_non_finite_numbers_in_a_report_are_stored_as_null(self, store):
        """Found in review: SQLite kept NaN/Infinity as non-standard JSON and completed the job, while
        the Supabase client refused to send them and the job failed with INTERNAL_ERROR and a refund."""
        req = self._running(store)
        record = report_record()
        record = replace(record, body={**record.body, "numbers": [float("inf"), float("nan"), -float("inf"), 1.5]})
        outcome = store.complete_job(req.job_id, owner=OWNER, report=record, refund=False, refund_reason=None)
        assert outcome.changed and outcome.job.status is JobStatus.COMPLETED
        assert store.get_report(record.report_id)["numbers"] == [None, None, None, 1.5]

    def test_complete_with_refund_refunds_once(self, store):
        req = self._running(store)
        outcome = store.complete_job(req.job_id, owner=OWNER, report=report_record(), refund=True, refund_reason="ITEM_MISSING")
        assert outcome.job.status is JobStatus.COMPLETED_REFUNDED and outcome.job.refunded
        again = store.complete_job(req.job_id, owner=OWNER, report=report_record(), refund=True, refund_reason="again")
        assert not again.changed and again.job.report_id == outcome.job.report_id
        assert store.refund_count(req.job_id) == 1 and store.token_balance(req.user_id) == 1

    def test_complete_by_a_stranger_does_nothing(self, store):
        req = self._running(store)
        outcome = store.complete_job(req.job_id, owner="intruder", report=report_record(), refund=False, refund_reason=None)
        assert not outcome.changed and store.get_job(req.job_id).status is JobStatus.RUNNING

    # -- the rendered page (render.py) kept with the report -----------------------------------------

    def test_the_rendered_page_is_kept_with_the_report(self, store):
        req = self._running(store)
        page = "<!DOCTYPE html><title>AT&amp;T \u201c10-K\u201d</title><p>\u2212 5.7% <del>a</del> <ins>b</ins> \u00e9\u00e8</p>" + "<p>x</p>" * 60_000
        record = replace(report_record(), html=page)
        outcome = store.complete_job(req.job_id, owner=OWNER, report=record, refund=False, refund_reason=None)
        assert outcome.changed
        assert store.get_report_html(record.report_id) == page
        assert store.get_report(record.report_id) == record.body  # the JSON is untouched

    def test_a_report_stored_without_a_page_has_none(self, store):
        req = self._running(store)
        record = report_record()
        store.complete_job(req.job_id, owner=OWNER, report=record, refund=True, refund_reason="ITEM_MISSING")
        assert store.get_report_html(record.report_id) is None and store.get_report(record.report_id) == record.body

    def test_an_unknown_report_has_no_page(self, store):
        assert store.get_report_html(str(uuid.uuid4())) is None

    def test_a_second_completion_never_changes_the_page(self, store):
        req = self._running(store)
        first = replace(report_record(), html="<p>first</p>")
        store.complete_job(req.job_id, owner=OWNER, report=first, refund=False, refund_reason=None)
        store.complete_job(req.job_id, owner=OWNER, report=replace(first, html="<p>replayed</p>"), refund=False, refund_reason=None)
        late = replace(report_record(), html="<p>late</p>")
        assert not store.complete_job(req.job_id, owner=OWNER, report=late, refund=False, refund_reason=None).changed
        assert store.get_report_html(first.report_id) == "<p>first</p>"
        assert store.get_report_html(late.report_id) is None

    # -- failing ------------------------------------------------------------------------------------

    def test_fail_logs_error_and_refunds_once(self, store):
        req = self._running(store)
        outcome = store.fail_job(req.job_id, failure=FAILURE, owner=OWNER)
        job = outcome.job
        assert outcome.changed and job.status is JobStatus.FAILED and job.refunded
        assert job.error.code == "TICKER_NOT_FOUND" and job.error.message == "no such ticker"
        logs = store.error_logs(req.job_id)
        assert len(logs) == 1 and logs[0]["id"] == job.error_log_id and logs[0]["details"] == {"ticker": "ZZZZ"}
        assert logs[0]["stage"] == "fetching"
        assert not store.fail_job(req.job_id, failure=FAILURE, owner=None).changed
        assert store.refund_count(req.job_id) == 1 and store.token_balance(req.user_id) == 1
        assert len(store.error_logs(req.job_id)) == 1

    def test_fail_after_complete_does_nothing(self, store):
        req = self._running(store)
        store.complete_job(req.job_id, owner=OWNER, report=report_record(), refund=False, refund_reason=None)
        assert not store.fail_job(req.job_id, failure=FAILURE).changed
        job = store.get_job(req.job_id)
        assert job.status is JobStatus.COMPLETED and not job.refunded and store.refund_count(req.job_id) == 0

    def test_fail_a_queued_job(self, store):
        req = request()
        store.create_job(req, lease_owner=OWNER, lease_seconds=30)
        assert store.fail_job(req.job_id, failure=FAILURE).job.status is JobStatus.FAILED

    def test_fail_only_if_lease_expired(self, store):
        req = self._running(store)
        assert not store.fail_job(req.job_id, failure=FAILURE, only_if_lease_expired=True).changed
        short = request()
        store.create_job(short, lease_owner=OWNER, lease_seconds=30)
        store.claim_job(short.job_id, owner=OWNER, lease_seconds=0.2)
        time.sleep(0.4)
        assert store.fail_job(short.job_id, failure=FAILURE, only_if_lease_expired=True).changed

    def test_concurrent_complete_and_fail_end_once(self, store):
        req = self._running(store)
        results = []

        def finish(n):
            if n % 2:
                results.append(store.fail_job(req.job_id, failure=FAILURE).changed)
            else:
                results.append(store.complete_job(req.job_id, owner=OWNER, report=report_record(), refund=True, refund_reason="x").changed)

        threads = [threading.Thread(target=finish, args=(n,)) for n in range(10)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert results.count(True) == 1
        assert store.refund_count(req.job_id) == 1 and store.token_balance(req.user_id) == 1

    def test_balances_are_per_user(self, store):
        user = str(uuid.uuid4())
        for _ in range(3):
            req = self._running(store, user_id=user)
            store.fail_job(req.job_id, failure=FAILURE)
        assert store.token_balance(user) == 3

    # -- callbacks ----------------------------------------------------------------------------------

    def test_terminal_job_queues_one_callback(self, store):
        req = self._running(store)
        store.fail_job(req.job_id, failure=FAILURE)
        store.fail_job(req.job_id, failure=FAILURE)
        delivery = store.callback_delivery(req.job_id)
        assert delivery.status == CALLBACK_PENDING and delivery.url == req.callback_url and delivery.attempts == 0

    def test_no_callback_without_url(self, store):
        req = self._running(store, callback_url=None)
        store.complete_job(req.job_id, owner=OWNER, report=report_record(), refund=False, refund_reason=None)
        assert store.callback_delivery(req.job_id) is None

    def test_claimed_callbacks_are_hidden_from_other_dispatchers(self, store):
        req = self._running(store)
        store.fail_job(req.job_id, failure=FAILURE)
        first = store.claim_due_callbacks(limit=10, claim_seconds=30)
        assert [d.job_id for d in first] == [req.job_id]
        assert store.claim_due_callbacks(limit=10, claim_seconds=30) == []

    def test_callback_attempts_are_recorded(self, store):
        req = self._running(store)
        store.fail_job(req.job_id, failure=FAILURE)
        delivery = store.claim_due_callbacks(limit=10, claim_seconds=30)[0]
        now = datetime.now(timezone.utc)
        store.record_callback_attempt(CallbackAttemptRecord(
            delivery_id=delivery.delivery_id, attempt=1, started_at=now, status_code=503, error="HTTP 503", duration_ms=12,
            status=CALLBACK_PENDING, next_attempt_at=now,
        ))
        again = store.claim_due_callbacks(limit=10, claim_seconds=30)
        assert len(again) == 1 and again[0].attempts == 1 and again[0].last_status_code == 503
        store.record_callback_attempt(CallbackAttemptRecord(
            delivery_id=delivery.delivery_id, attempt=2, started_at=now, status_code=200, error=None, duration_ms=8,
            status=CALLBACK_DELIVERED, next_attempt_at=None,
        ))
        final = store.callback_delivery(req.job_id)
        assert final.status == CALLBACK_DELIVERED and final.attempts == 2 and final.delivered_at is not None
        assert [(a.attempt, a.status_code) for a in store.callback_attempts(delivery.delivery_id)] == [(1, 503), (2, 200)]
        assert store.claim_due_callbacks(limit=10, claim_seconds=30) == []

    def test_an_attempt_record_is_kept_field_by_field(self, store):
        """record_callback_attempt takes one CallbackAttemptRecord: each of its fields lands where it is read."""
        req = self._running(store)
        store.fail_job(req.job_id, failure=FAILURE)
        delivery = store.claim_due_callbacks(limit=10, claim_seconds=30)[0]
        started = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=timezone.utc)
        retry_at = datetime.now(timezone.utc).replace(microsecond=123456) + timedelta(hours=1)
        store.record_callback_attempt(CallbackAttemptRecord(
            delivery_id=delivery.delivery_id, attempt=1, started_at=started, status_code=None,
            error="ConnectTimeout: no answer", duration_ms=5001, status=CALLBACK_PENDING, next_attempt_at=retry_at,
        ))
        assert store.callback_attempts(delivery.delivery_id) == [
            CallbackAttempt(delivery.delivery_id, 1, started, None, "ConnectTimeout: no answer", 5001)
        ]
        after = store.callback_delivery(req.job_id)
        assert (after.status, after.attempts, after.next_attempt_at, after.last_status_code, after.last_error) == (
            CALLBACK_PENDING, 1, retry_at, None, "ConnectTimeout: no answer"
        )
        assert after.delivered_at is None and store.claim_due_callbacks(limit=10, claim_seconds=0) == []  # due in an hour

    def test_a_stale_attempt_never_reopens_a_delivered_callback(self, store):
        """Two dispatchers sent attempt 1 (one claim expired mid-POST): the later 503 must not win."""
        req = self._running(store)
        store.fail_job(req.job_id, failure=FAILURE)
        delivery = store.claim_due_callbacks(limit=10, claim_seconds=30)[0]
        now = datetime.now(timezone.utc)
        store.record_callback_attempt(CallbackAttemptRecord(
            delivery_id=delivery.delivery_id, attempt=1, started_at=now, status_code=200, error=None, duration_ms=5,
            status=CALLBACK_DELIVERED, next_attempt_at=None,
        ))
        store.record_callback_attempt(CallbackAttemptRecord(
            delivery_id=delivery.delivery_id, attempt=1, started_at=now, status_code=503, error="HTTP 503", duration_ms=9000,
            status=CALLBACK_PENDING, next_attempt_at=now,
        ))
        final = store.callback_delivery(req.job_id)
        assert final.status == CALLBACK_DELIVERED and final.attempts == 1 and final.last_status_code == 200
        assert store.claim_due_callbacks(limit=10, claim_seconds=0) == []
        # one row per attempt, the first record's (SQLite once logged both, PostgreSQL one)
        assert [(a.attempt, a.status_code) for a in store.callback_attempts(delivery.delivery_id)] == [(1, 200)]

    def test_failed_callback_is_not_retried(self, store):
        req = self._running(store)
        store.fail_job(req.job_id, failure=FAILURE)
        delivery = store.claim_due_callbacks(limit=10, claim_seconds=30)[0]
        store.record_callback_attempt(CallbackAttemptRecord(
            delivery_id=delivery.delivery_id, attempt=1, started_at=datetime.now(timezone.utc), status_code=410, error="HTTP 410",
            duration_ms=5, status=CALLBACK_FAILED, next_attempt_at=None,
        ))
        assert store.claim_due_callbacks(limit=10, claim_seconds=0) == []
        assert store.callback_delivery(req.job_id).status == CALLBACK_FAILED

    # -- the token ledger ---------------------------------------------------------------------------

    def test_a_purchase_is_credited_once_per_reference(self, store):
        user = str(uuid.uuid4())
        first = store.credit_tokens(user, 5, "pi_123")
        again = store.credit_tokens(user, 5, "pi_123")
        assert (first.credited, first.balance) == (True, 5) and (again.credited, again.balance) == (False, 5)
        assert kinds(store, user) == [("purchase", 5)] and store.ledger(user)[0]["reference"] == "pi_123"
        with pytest.raises(CreditConflict):
            store.credit_tokens(str(uuid.uuid4()), 5, "pi_123")
        with pytest.raises(CreditConflict):
            store.credit_tokens(user, 6, "pi_123")
        for amount, reference in ((0, "pi_0"), (-1, "pi_neg"), (1, "")):
            with pytest.raises(InvalidField):
                store.credit_tokens(user, amount, reference)
        assert store.token_balance(user) == 5 and store.ledger_mismatches() == []

    def test_a_spend_records_the_job_waiting_for_a_worker(self, store):
        req = request(ticker="brk.b")
        store.credit_tokens(req.user_id, 2, "pi_1")
        spent = store.spend_token_for_job(req)
        assert not spent.replayed and spent.balance == 1
        job = store.get_job(req.job_id)
        assert job.status is JobStatus.QUEUED and job.ticker == "BRK-B" and job.awaiting_worker and not job.accepted
        assert job.fingerprint == request(ticker="BRK-B", job_id=req.job_id, user_id=req.user_id).fingerprint()
        assert kinds(store, req.user_id) == [("purchase", 2), ("spend", -1)]
        assert store.ledger(req.user_id)[1]["job_id"] == req.job_id

    def test_the_same_job_again_spends_nothing(self, store):
        req = paid_request(store)
        again = store.spend_token_for_job(req)
        assert again.replayed and again.balance == 0 and again.job.job_id == req.job_id
        assert kinds(store, req.user_id) == [("purchase", 1), ("spend", -1)]

    def test_concurrent_spends_of_one_job_spend_once(self, store):
        req = request()
        store.credit_tokens(req.user_id, 5, "pi_1")
        results = run_at_once(*[lambda: store.spend_token_for_job(req) for _ in range(8)])
        assert sorted(r.replayed for r in results) == [False] + [True] * 7, results
        assert store.token_balance(req.user_id) == 4 and store.ledger_mismatches() == []

    def test_a_short_balance_refuses_the_spend_and_records_nothing(self, store):
        req = request()
        with pytest.raises(InsufficientTokens):
            store.spend_token_for_job(req)
        assert store.get_job(req.job_id) is None and store.ledger(req.user_id) == [] and store.token_balance(req.user_id) == 0
        store.credit_tokens(req.user_id, 1, "pi_1")
        assert not store.spend_token_for_job(req).replayed  # the same job_id, now paid for

    def test_concurrent_spends_never_overdraw(self, store):
        user = str(uuid.uuid4())
        store.credit_tokens(user, 3, "pi_1")
        results = run_at_once(*[lambda: store.spend_token_for_job(request(user_id=user)) for _ in range(10)])
        assert sum(isinstance(r, InsufficientTokens) for r in results) == 7, results
        assert store.token_balance(user) == 0 and store.ledger_mismatches() == []

    def test_a_spend_conflicts_with_another_payload_or_an_unpaid_job(self, store):
        req = paid_request(store)
        with pytest.raises(JobConflict):
            store.spend_token_for_job(request(ticker="MSFT", job_id=req.job_id, user_id=req.user_id))
        direct = request()
        store.create_job(direct, lease_owner=OWNER, lease_seconds=30)
        store.credit_tokens(direct.user_id, 1, "pi_2")
        with pytest.raises(JobConflict):
            store.spend_token_for_job(direct)
        with pytest.raises(InvalidField):
            store.spend_token_for_job(request(ticker="no spaces"))
        assert store.token_balance(direct.user_id) == 1

    def test_the_worker_accepts_the_spends_job_once(self, store):
        req = paid_request(store)
        job, created = store.create_job(req, lease_owner=OWNER, lease_seconds=30)
        assert created and job.accepted and not job.awaiting_worker and job.lease_owner == OWNER
        again, created_again = store.create_job(req, lease_owner="other", lease_seconds=30)
        assert not created_again and again.lease_owner == OWNER
        assert kinds(store, req.user_id) == [("purchase", 1), ("spend", -1)]

    def test_a_refund_gives_back_exactly_the_spend_once(self, store):
        req = running(store)
        store.fail_job(req.job_id, failure=FAILURE, owner=OWNER)
        store.fail_job(req.job_id, failure=FAILURE)
        assert kinds(store, req.user_id) == [("purchase", 1), ("spend", -1), ("refund", 1)]
        assert store.ledger_mismatches() == []

    @pytest.mark.parametrize("ending", ["fail", "complete_refunded"])
    def test_a_job_posted_directly_records_its_refund_decision_and_credits_nothing(self, store, ending):
        req = running(store, paid=False)
        if ending == "fail":
            outcome = store.fail_job(req.job_id, failure=FAILURE, owner=OWNER)
        else:
            outcome = store.complete_job(req.job_id, owner=OWNER, report=report_record(), refund=True, refund_reason="ITEM_MISSING")
        assert outcome.changed and outcome.job.refunded and store.get_job(req.job_id).status_document()["refunded"]
        assert store.refund_count(req.job_id) == 0 and store.token_balance(req.user_id) == 0
        assert store.ledger(req.user_id) == [] and store.ledger_mismatches() == []

    def test_the_function_refunds_a_job_no_worker_accepted_once(self, store):
        req = paid_request(store)
        outcome = store.refund_unaccepted_job(req.job_id, failure=REFUSED)
        assert outcome.changed and outcome.job.status is JobStatus.FAILED and outcome.job.refunded
        assert outcome.job.error.code == "WORKER_UNAVAILABLE" and not outcome.job.accepted
        assert not store.refund_unaccepted_job(req.job_id, failure=REFUSED).changed
        # a worker that gets the POST afterwards does not run it
        job, created = store.create_job(req, lease_owner=OWNER, lease_seconds=30)
        assert not created and job.status is JobStatus.FAILED
        assert kinds(store, req.user_id) == [("purchase", 1), ("spend", -1), ("refund", 1)]
        assert len(store.error_logs(req.job_id)) == 1 and store.callback_delivery(req.job_id) is not None
        log = store.error_logs(req.job_id)[0]
        assert log["id"] == outcome.job.error_log_id and log["stage"] == "queued"
        assert log["details"]["by"] == "edge-function"

    def test_the_function_leaves_an_accepted_job_to_the_worker(self, store):
        req = running(store)
        outcome = store.refund_unaccepted_job(req.job_id, failure=REFUSED)
        assert not outcome.changed and outcome.job.status is JobStatus.RUNNING and outcome.job.accepted
        assert store.refund_count(req.job_id) == 0
        store.fail_job(req.job_id, failure=FAILURE, owner=OWNER)
        assert store.refund_count(req.job_id) == 1 and store.token_balance(req.user_id) == 1

    def test_accepting_and_the_functions_refund_racing_do_one_or_the_other(self, store):
        for _ in range(3):
            req = paid_request(store)
            accepted, refunded = run_at_once(
                lambda: store.create_job(req, lease_owner=OWNER, lease_seconds=30),
                lambda: store.refund_unaccepted_job(req.job_id, failure=REFUSED),
            )
            assert accepted[1] != refunded.changed, (accepted, refunded)
            assert store.refund_count(req.job_id) == (1 if refunded.changed else 0)
        assert store.ledger_mismatches() == []

    def test_the_workers_and_the_functions_refunds_racing_refund_once(self, store):
        req = running(store)
        results = run_at_once(
            *[lambda: store.fail_job(req.job_id, failure=FAILURE) for _ in range(4)],
            *[lambda: store.refund_unaccepted_job(req.job_id, failure=REFUSED) for _ in range(4)],
        )
        assert not [r for r in results if isinstance(r, Exception)], results
        assert store.refund_count(req.job_id) == 1 and store.token_balance(req.user_id) == 1
        assert store.get_job(req.job_id).error.code == "TICKER_NOT_FOUND" and store.ledger_mismatches() == []
