"""The SaaS half end to end, from real parts (tests/saas_stack.py): Deno serving both Edge Functions,
real PostgREST 12 behind our thin gateway on PostgreSQL with the migrations, and the report worker as
a real gunicorn process on the Supabase store (offline summarizer, EDGAR stand-in serving the corpus).

A user with two tokens asks for three reports: two are accepted and the third is refused with 402;
one completes, one fails and is refunded; both callbacks are verified and recorded for the user; the
balance equals the ledger. Then the faults: the worker down after the spend (refunded once), a client
retrying with the same Idempotency-Key (one spend), the worker's and the function's refunds racing
in both orders (one refund).
"""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from standardwebhooks import Webhook

from conftest import CALLBACK_SECRET, wait_for
from job import JobStatus
from saas_stack import ledger_rows, saas_stack
from supabase_stack import Drop, Pass

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def saas(tmp_path_factory, corpus):
    with saas_stack(tmp_path_factory.mktemp("saas"), corpus) as stack:
        yield stack


@pytest.fixture(autouse=True)
def healthy_network(saas):
    saas.worker_proxy.plan = lambda n: Pass()
    saas.worker_proxy.upstream.clear()
    yield
    saas.worker_proxy.plan = lambda n: Pass()


def terminal(saas, job_id: str, timeout: float = 120):
    return wait_for(lambda: (lambda j: j if j and j.status.is_terminal else None)(saas.store.get_job(job_id)),
                    timeout=timeout, message=f"job {job_id} to end")


def notifications(saas, token: str) -> dict[str, dict]:
    rows = saas.as_user(token).table("report_notifications").select("*").execute().data
    return {r["job_id"]: r for r in rows}


def wait_notified(saas, token: str, job_ids: list[str]) -> dict[str, dict]:
    return wait_for(lambda: (lambda n: n if set(job_ids) <= set(n) else None)(notifications(saas, token)),
                    timeout=60, message=f"notifications of {job_ids}")


def test_two_tokens_buy_two_reports_one_completes_one_fails_and_is_refunded(saas):
    user, token = saas.new_user(tokens=2)
    first = saas.ask(token, "AAPL")
    # The failing job is refunded within milliseconds of reaching the worker, which gave the third ask
    # its token back (202, not 402) in 2 of 3 runs: its forward to the worker is held until the third
    # ask, sent once the second spend is on the books, has been refused.
    saas.worker_proxy.plan = lambda n: Pass(before=3.0)
    with ThreadPoolExecutor(1) as pool:
        asked = pool.submit(saas.ask, token, "ZZZZZZ")
        wait_for(lambda: saas.store.token_balance(user) == 0, timeout=10, message="the second spend")
        third = saas.ask(token, "NVDA")
        second = asked.result()
    saas.worker_proxy.plan = lambda n: Pass()
    assert first.status_code == 202 and second.status_code == 202, (first.text, second.text)
    assert third.status_code == 402 and third.json()["error"]["code"] == "INSUFFICIENT_TOKENS"
    assert third.headers["access-control-allow-origin"] == "*"
    good, bad = first.json()["job_id"], second.json()["job_id"]

    completed, failed = terminal(saas, good), terminal(saas, bad)
    assert completed.status is JobStatus.COMPLETED and not completed.refunded and completed.attempts == 1
    assert failed.status is JobStatus.FAILED and failed.refunded and failed.error.code == "TICKER_NOT_FOUND"

    # the worker's signed callbacks, verified by report-callback, recorded for the user (RLS)
    seen = wait_notified(saas, token, [good, bad])
    assert set(seen) == {good, bad}
    assert (seen[good]["status"], seen[good]["report_id"], seen[good]["refunded"]) == ("completed", completed.report_id, False)
    assert (seen[bad]["status"], seen[bad]["error_code"], seen[bad]["refunded"]) == ("failed", "TICKER_NOT_FOUND", True)
    for job_id in (good, bad):
        delivery = saas.store.callback_delivery(job_id)
        assert delivery.status == "delivered"
        assert [a.status_code for a in saas.store.callback_attempts(delivery.delivery_id)] == [200]

    # what the front end reads of its jobs (also what Realtime delivers: the same RLS and columns)
    user_db = saas.as_user(token)
    jobs = user_db.table("report_jobs").select("job_id, status, stage, progress").execute().data
    assert sorted((j["status"], j["progress"]) for j in jobs) == [("completed", 100), ("failed", 5)]
    report = user_db.table("reports").select("ticker, report").eq("job_id", good).execute().data
    assert report[0]["ticker"] == "AAPL" and report[0]["report"]["ai_provider"] == "offline"

    # the books: bought 2, spent 2, one refunded
    assert sorted(ledger_rows(saas.dsn, user)) == sorted([("purchase", 2, None), ("spend", -1, good), ("spend", -1, bad), ("refund", 1, bad)])
    assert saas.store.token_balance(user) == 1 and saas.store.ledger_mismatches() == []
    assert user_db.table("token_balances").select("balance").execute().data == [{"balance": 1}]


def test_a_forged_or_replayed_callback_records_nothing(saas):
    user, token = saas.new_user(tokens=1)
    job_id = saas.ask(token, "ZZZZZZ").json()["job_id"]
    terminal(saas, job_id)
    wait_notified(saas, token, [job_id])
    url = f"{saas.gateway.url}/functions/v1/report-callback"
    body = '{"error":null,"error_log_id":null,"job_id":"%s","refunded":false,"report_id":null,"status":"completed"}' % job_id
    forged = Webhook("whsec_" + "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE=")
    from datetime import datetime, timezone

    msg_id = f"msg_{uuid.uuid4().hex}"
    headers = {"webhook-id": msg_id, "webhook-timestamp": str(int(datetime.now(timezone.utc).timestamp())),
               "webhook-signature": forged.sign(msg_id, datetime.now(timezone.utc), body), "Content-Type": "application/json"}
    assert saas.session.post(url, data=body, headers=headers, timeout=10).status_code == 401
    # a genuine delivery captured and replayed: the same webhook-id records nothing more
    genuine = Webhook(CALLBACK_SECRET)
    same_id = f"msg_{job_id.replace('-', '')}"
    now = datetime.now(timezone.utc)
    headers = {"webhook-id": same_id, "webhook-timestamp": str(int(now.timestamp())),
               "webhook-signature": genuine.sign(same_id, now, body), "Content-Type": "application/json"}
    replay = saas.session.post(url, data=body, headers=headers, timeout=10)
    assert replay.status_code == 200 and replay.json() == {"ok": True, "duplicate": True}
    assert notifications(saas, token)[job_id]["status"] == "failed"
    assert len(saas.as_user(token).table("report_notifications").select("id").execute().data) == 1


def test_the_worker_down_after_the_spend_is_refunded_once(saas):
    user, token = saas.new_user(tokens=1)
    saas.worker_proxy.plan = lambda n: Drop()  # every POST to the worker dies without an answer
    key = str(uuid.uuid4())
    response = saas.ask(token, "AAPL", key=key)
    assert response.status_code == 503, response.text
    body = response.json()
    assert body["error"]["code"] == "WORKER_UNAVAILABLE" and body["refunded"] is True and body["job_id"] == key
    job = saas.store.get_job(key)
    assert job.status is JobStatus.FAILED and job.error.code == "WORKER_UNAVAILABLE" and not job.accepted and job.attempts == 0
    assert sorted(ledger_rows(saas.dsn, user)) == sorted([("purchase", 1, None), ("spend", -1, key), ("refund", 1, key)])

    saas.worker_proxy.plan = lambda n: Pass()  # the worker is back; the client retries the same request
    again = saas.ask(token, "AAPL", key=key)
    assert again.status_code == 503 and again.json()["refunded"] is True
    assert len(ledger_rows(saas.dsn, user)) == 3 and saas.store.get_job(key).attempts == 0  # nothing more
    # the user hears of it like of any other outcome (the worker's outbox, report-callback)
    assert wait_notified(saas, token, [key])[key]["error_code"] == "WORKER_UNAVAILABLE"
    assert saas.store.token_balance(user) == 1 and saas.store.ledger_mismatches() == []


def test_a_client_retrying_with_the_same_idempotency_key_spends_once(saas):
    user, token = saas.new_user(tokens=3)
    key = str(uuid.uuid4())
    with ThreadPoolExecutor(6) as pool:
        responses = list(pool.map(lambda _: saas.ask(token, "ZZZZZZ", key=key), range(6)))
    assert [r.status_code for r in responses] == [202] * 6, [r.text for r in responses]
    assert {r.json()["job_id"] for r in responses} == {key}
    job = terminal(saas, key)
    later = saas.ask(token, "ZZZZZZ", key=key)  # after the end: still the same job, no new spend
    assert later.status_code == 202 and later.json() == {"job_id": key, "status": "failed"}
    assert job.attempts == 1  # run once
    assert sorted(ledger_rows(saas.dsn, user)) == sorted([("purchase", 3, None), ("spend", -1, key), ("refund", 1, key)])
    assert saas.ask(token, "MSFT", key=key).status_code == 409  # the key reused for another request
    assert saas.store.token_balance(user) == 3 and saas.store.ledger_mismatches() == []


@pytest.mark.parametrize("late", ["answer", "request"])
def test_the_workers_and_the_functions_refunds_racing_refund_once(saas, late):
    """The function gives up on the worker (its 4 s budget) and refunds through the guard while the
    worker handles the job and fails it (unknown ticker), which refunds too:
    - `answer`: the worker accepted at once but its answer is late; the guard finds the job accepted
      and leaves it to the worker, whose failure refunds it;
    - `request`: the request reaches the worker only after the guard refunded; the worker finds the
      job ended and does not run it."""
    user, token = saas.new_user(tokens=1)
    saas.worker_proxy.plan = (lambda n: Pass(after=6)) if late == "answer" else (lambda n: Pass(before=6))
    key = str(uuid.uuid4())
    response = saas.ask(token, "ZZZZZZ", key=key)
    job = terminal(saas, key)
    if late == "answer":
        assert response.status_code == 202, response.text
        assert saas.worker_proxy.upstream == {202: 1}  # the worker had accepted it
        assert job.error.code == "TICKER_NOT_FOUND" and job.attempts == 1
    else:
        assert response.status_code == 503 and response.json()["refunded"] is True
        wait_for(lambda: saas.worker_proxy.upstream, timeout=15, message="the late request to reach the worker")
        assert saas.worker_proxy.upstream == {200: 1}  # "already ended", not 202: the worker did not run it
        assert saas.store.get_job(key).error.code == "WORKER_UNAVAILABLE" and saas.store.get_job(key).attempts == 0
    assert sorted(ledger_rows(saas.dsn, user)) == sorted([("purchase", 1, None), ("spend", -1, key), ("refund", 1, key)])
    assert saas.store.refund_count(key) == 1 and saas.store.ledger_mismatches() == []
