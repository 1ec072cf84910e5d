"""Callback delivery: Standard Webhooks signatures, the retry schedule, and what stops retries."""

from __future__ import annotations

import random
import uuid
from datetime import datetime, timezone

import pytest
from standardwebhooks import Webhook, WebhookVerificationError

import defaults
from callbacks import CallbackDispatcher, callback_body, encode_body, signed_headers
from conftest import CALLBACK_SECRET
from database import CALLBACK_DELIVERED, CALLBACK_FAILED, CALLBACK_PENDING, FailureRecord
from job import JobRequest
from receiver import CallbackReceiver
from store_sqlite import SQLiteStore


def test_signature_verifies_with_the_reference_library():
    body = encode_body({"job_id": "j", "status": "completed"})
    headers = signed_headers(CALLBACK_SECRET, "msg_1", body, datetime.now(timezone.utc))
    assert Webhook(CALLBACK_SECRET).verify(body, headers) == {"job_id": "j", "status": "completed"}
    with pytest.raises(WebhookVerificationError):
        Webhook(CALLBACK_SECRET).verify(body.replace("completed", "failed"), headers)
    other = "whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo="
    with pytest.raises(WebhookVerificationError):
        Webhook(other).verify(body, headers)


def _default_backoff(settings_factory, store):
    """The dispatcher's schedule with the shipped defaults (the test settings shorten it)."""
    settings = settings_factory(
        CALLBACK_RETRY_BASE_SECONDS=str(defaults.CALLBACK_RETRY_BASE_SECONDS),
        CALLBACK_RETRY_MAX_DELAY_SECONDS=str(defaults.CALLBACK_RETRY_MAX_DELAY_SECONDS),
    )
    return CallbackDispatcher(settings, store).backoff


def test_default_schedule_is_about_six_attempts_over_fifteen_minutes(settings_factory, store):
    backoff = _default_backoff(settings_factory, store)
    rng = random.Random(1)
    delays = [backoff.delay(n, rng) for n in range(1, defaults.CALLBACK_MAX_ATTEMPTS)]
    assert defaults.CALLBACK_MAX_ATTEMPTS == 6
    assert (backoff.base, backoff.factor, backoff.cap) == (10, 3, 480)
    assert all(b >= a * 0.9 for a, b in zip(delays, delays[1:]))  # growing
    assert 10 * 60 <= sum(delays) <= 20 * 60


def test_jitter_spreads_retries(settings_factory, store):
    backoff = _default_backoff(settings_factory, store)
    rng = random.Random(7)
    values = {round(backoff.delay(3, rng), 3) for _ in range(20)}
    assert len(values) > 10 and all(72 <= v <= 90 for v in values)


@pytest.fixture
def store(tmp_path):
    s = SQLiteStore(str(tmp_path / "store.db"))
    yield s
    s.close()


def _failed_job(store, url):
    req = JobRequest(job_id=str(uuid.uuid4()), user_id=str(uuid.uuid4()), ticker="AAPL", callback_url=url)
    store.create_job(req, lease_owner="o", lease_seconds=30)
    store.fail_job(req.job_id, failure=FailureRecord(code="TICKER_NOT_FOUND", message="no such ticker"))
    return req.job_id


def _dispatcher(settings_factory, store, **env):
    return CallbackDispatcher(settings_factory(**env), store, rng=random.Random(3))


def _drain(dispatcher, store, job_id, rounds=20):
    import time

    for _ in range(rounds):
        dispatcher.deliver_due()
        if store.callback_delivery(job_id).status != CALLBACK_PENDING:
            return
        time.sleep(0.06)


def test_retries_until_delivered(settings_factory, store):
    receiver = CallbackReceiver(fail_first=2, fail_status=503).start()
    job_id = _failed_job(store, receiver.url)
    dispatcher = _dispatcher(settings_factory, store)
    _drain(dispatcher, store, job_id)
    delivery = store.callback_delivery(job_id)
    assert delivery.status == CALLBACK_DELIVERED and delivery.attempts == 3
    assert [d.answered for d in receiver.received()] == [503, 503, 200]
    for d in receiver.received():
        assert Webhook(CALLBACK_SECRET).verify(d.body, d.headers)["job_id"] == job_id
    receiver.stop()


def test_gives_up_after_max_attempts(settings_factory, store):
    receiver = CallbackReceiver(fail_first=100, fail_status=500).start()
    job_id = _failed_job(store, receiver.url)
    dispatcher = _dispatcher(settings_factory, store, CALLBACK_MAX_ATTEMPTS="3")
    _drain(dispatcher, store, job_id)
    assert store.callback_delivery(job_id).status == CALLBACK_FAILED
    assert len(receiver.received()) == 3
    assert len(store.callback_attempts(store.callback_delivery(job_id).delivery_id)) == 3
    receiver.stop()


def test_410_gone_stops_at_once(settings_factory, store):
    receiver = CallbackReceiver(fail_first=100, fail_status=410).start()
    job_id = _failed_job(store, receiver.url)
    _drain(_dispatcher(settings_factory, store), store, job_id)
    assert store.callback_delivery(job_id).status == CALLBACK_FAILED and len(receiver.received()) == 1
    receiver.stop()


def test_retry_after_is_honoured_within_the_cap(settings_factory, store):
    receiver = CallbackReceiver(fail_first=1, fail_status=429, retry_after="120").start()
    job_id = _failed_job(store, receiver.url)
    dispatcher = _dispatcher(settings_factory, store, CALLBACK_RETRY_MAX_DELAY_SECONDS="30")
    dispatcher.deliver_due()
    delivery = store.callback_delivery(job_id)
    wait = (delivery.next_attempt_at - datetime.now(timezone.utc)).total_seconds()
    assert delivery.status == CALLBACK_PENDING and 25 <= wait <= 30.5
    receiver.stop()


def test_unreachable_receiver_is_recorded(settings_factory, store):
    job_id = _failed_job(store, "http://127.0.0.1:9/unreachable")
    _dispatcher(settings_factory, store).deliver_due()
    attempt = store.callback_attempts(store.callback_delivery(job_id).delivery_id)[0]
    assert attempt.status_code is None and "ConnectionError" in attempt.error


def test_body_is_the_job_outcome(store):
    job_id = _failed_job(store, "https://hooks.example.com/cb")
    job = store.get_job(job_id)
    assert callback_body(job) == {
        "job_id": job_id,
        "status": "failed",
        "report_id": None,
        "refunded": True,
        "error": {"code": "TICKER_NOT_FOUND", "message": "no such ticker"},
        "error_log_id": job.error_log_id,
    }


def test_redirects_are_not_followed(settings_factory, store):
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    import threading

    hits = []

    class Redirect(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            hits.append(self.path)
            self.send_response(307)
            self.send_header("Location", "http://127.0.0.1:9/internal")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *a):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Redirect)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    job_id = _failed_job(store, f"http://127.0.0.1:{server.server_address[1]}/cb")
    _dispatcher(settings_factory, store).deliver_due()
    attempt = store.callback_attempts(store.callback_delivery(job_id).delivery_id)[0]
    assert attempt.status_code == 307 and hits == ["/cb"]
    server.shutdown()


def test_an_unusable_url_fails_alone_and_never_blocks_the_others(settings_factory, store):
    """A URL requests cannot even send (a stored row from before validation was strict) is failed at
    once; the deliveries claimed after it still go out."""
    receiver = CallbackReceiver().start()
    bad = _failed_job(store, "https://a..hooks.example.com/cb")
    good = _failed_job(store, receiver.url)
    _dispatcher(settings_factory, store).deliver_due()
    assert store.callback_delivery(bad).status == CALLBACK_FAILED
    assert "invalid callback URL" in store.callback_attempts(store.callback_delivery(bad).delivery_id)[0].error
    assert store.callback_delivery(good).status == CALLBACK_DELIVERED and len(receiver.received()) == 1
    receiver.stop()


def test_deliveries_are_claimed_one_at_a_time(settings_factory, store):
    """A dispatcher holds the claim of the delivery it is sending only, so a slow receiver cannot make
    a batch's later claims lapse and be sent twice by another dispatcher."""
    receiver = CallbackReceiver().start()
    ids = [_failed_job(store, receiver.url) for _ in range(3)]
    first = store.claim_due_callbacks(limit=1, claim_seconds=60)
    assert len(first) == 1
    assert _dispatcher(settings_factory, store).deliver_due() == 2  # the other two; the claimed one waits
    assert sum(store.callback_delivery(i).status == CALLBACK_DELIVERED for i in ids) == 2
    receiver.stop()
