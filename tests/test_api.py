"""Every status code of the HTTP API, through the Flask test client."""

from __future__ import annotations

import io
import json
import uuid

import pytest

import defaults
from app import create_app, services_of
from conftest import WORKER_SECRET, auth_headers, new_payload, pay_for, wait_terminal
from store_sqlite import SQLiteStore
from edgar_standin import Fault
from exceptions import ConfigError
from worker import Services


@pytest.fixture
def api(settings_factory, edgar):
    """An app whose jobs hang in EDGAR (slow stand-in) so their state stays observable."""
    edgar.add_fault(Fault(pattern=r"company_tickers", kind="slow", delay=3.0, times=None))
    app = create_app(
        settings_factory(
            SEC_WWW_BASE_URL=edgar.base_url,
            SEC_DATA_BASE_URL=edgar.base_url,
            MAX_CONCURRENT_JOBS="1",
            MAX_QUEUED_JOBS="1",
        )
    )
    yield app
    services_of(app).close()


@pytest.fixture
def client(api):
    return api.test_client()


def post(client, payload, headers=None, **kw):
    return client.post("/generate-report", json=payload, headers=headers or auth_headers(), **kw)


def error_of(response):
    assert response.is_json, response.data
    return response.get_json()["error"]


# -- health and readiness -------------------------------------------------------------------------


def test_health_needs_no_auth(client):
    response = client.get("/health")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "ok" and body["service"] == "10k-report-worker" and body["version"]


def test_ready_when_store_answers(client):
    response = client.get("/ready")
    assert response.status_code == 200 and response.get_json()["store"] == "sqlite"


def test_not_ready_when_store_fails(api, tmp_path):
    services = services_of(api)
    services.store.close()
    services.store.path = str(tmp_path / "missing-dir" / "sub" / "x.db")  # cannot be opened: parent is missing
    response = api.test_client().get("/ready")
    assert response.status_code == 503 and response.get_json()["status"] == "unavailable"


# -- accepting jobs --------------------------------------------------------------------------------


def test_accepts_a_job(client, api):
    payload = new_payload("aapl", callback_url="https://hooks.example.com/functions/v1/cb")
    response = post(client, payload)
    assert response.status_code == 202
    assert response.get_json() == {"job_id": payload["job_id"], "status": "queued"}
    job = services_of(api).store.get_job(payload["job_id"])
    assert job.ticker == "AAPL" and job.user_id == payload["user_id"]


def test_ticker_class_separator_is_normalised(client, api):
    payload = new_payload("brk.b")
    assert post(client, payload).status_code == 202
    assert services_of(api).store.get_job(payload["job_id"]).ticker == "BRK-B"


def test_duplicate_job_returns_existing(client):
    payload = new_payload("MSFT")
    assert post(client, payload).status_code == 202
    again = post(client, payload)
    assert again.status_code == 200 and again.get_json()["job_id"] == payload["job_id"]


def test_duplicate_with_equivalent_ticker_spelling_is_the_same_job(client):
    payload = new_payload("BRK.B")
    assert post(client, payload).status_code == 202
    assert post(client, {**payload, "ticker": "brk-b"}).status_code == 200


def test_conflicting_job_id(client):
    payload = new_payload("MSFT")
    assert post(client, payload).status_code == 202
    response = post(client, {**payload, "ticker": "AAPL"})
    assert response.status_code == 409 and error_of(response)["code"] == "JOB_CONFLICT"


# -- authentication --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": WORKER_SECRET}, {"Authorization": f"Basic {WORKER_SECRET}"}],
)
def test_rejects_missing_or_wrong_token(client, api, headers):
    payload = new_payload()
    response = client.post("/generate-report", json=payload, headers=headers)
    assert response.status_code == 401 and error_of(response)["code"] == "UNAUTHORIZED"
    assert services_of(api).store.get_job(payload["job_id"]) is None


def test_status_needs_auth(client):
    assert client.get(f"/jobs/{uuid.uuid4()}/status").status_code == 401


# -- validation: 400, and nothing recorded ---------------------------------------------------------


@pytest.mark.parametrize(
    "change, field",
    [
        ({"job_id": "not-a-uuid"}, "job_id"),
        ({"job_id": None}, "job_id"),
        ({"job_id": 12345}, "job_id"),
        ({"user_id": "123"}, "user_id"),
        ({"ticker": ""}, "ticker"),
        ({"ticker": "TOOLONGTICKER"}, "ticker"),
        ({"ticker": "AA PL"}, "ticker"),
        ({"ticker": "AAPL;DROP"}, "ticker"),
        ({"ticker": 42}, "ticker"),
        ({"callback_url": "http://hooks.example.com/cb"}, "callback_url"),
        ({"callback_url": "https://evil.example.net/cb"}, "callback_url"),
        ({"callback_url": "https://user:pw@hooks.example.com/cb"}, "callback_url"),
        ({"callback_url": "http://localhost:9/cb"}, "callback_url"),
        ({"callback_url": "https://hooks.example.com:99999/cb"}, "callback_url"),
        ({"callback_url": 7}, "callback_url"),
        # found in review: each once got past validation
        ({"job_id": "123e4567-e89b-12d3-a456-426614174000\n"}, "job_id"),  # `$` matched before "\n": a 500
        ({"user_id": "00000000-0000-4000-8000-000000000001\n"}, "user_id"),
        ({"ticker": "\u00df"}, "ticker"),  # "ß".upper() == "SS": a job for another company
        ({"ticker": "aap\u0131"}, "ticker"),  # dotless ı upper-cases to I
        ({"callback_url": "ht\ttps://hooks.example.com/cb"}, "callback_url"),  # urlsplit drops the tab; requests would not
        ({"callback_url": "https://hooks.example.com/c\nb"}, "callback_url"),
    ],
)
def test_bad_fields(client, api, change, field):
    payload = {**new_payload(), **change}
    response = post(client, payload)
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "INVALID_FIELD" and error["field"] == field and error["message"]
    if isinstance(payload.get("job_id"), str) and field != "job_id":
        assert services_of(api).store.get_job(payload["job_id"]) is None


def test_missing_field(client):
    payload = new_payload()
    del payload["user_id"]
    response = post(client, payload)
    assert response.status_code == 400 and error_of(response)["field"] == "user_id"


def test_body_must_be_an_object(client):
    response = post(client, ["AAPL"])
    assert response.status_code == 400 and error_of(response)["code"] == "INVALID_FIELD"


def test_malformed_json(client):
    response = client.post("/generate-report", data=b'{"job_id": ', headers={**auth_headers(), "Content-Type": "application/json"})
    assert response.status_code == 400 and error_of(response)["code"] == "INVALID_JSON"


def test_absurdly_nested_json_is_400(client):
    body = b"[" * 5000 + b"]" * 5000
    response = client.post("/generate-report", data=body, headers={**auth_headers(), "Content-Type": "application/json"})
    assert response.status_code == 400 and error_of(response)["code"] == "INVALID_JSON"


def test_non_json_is_415(client):
    response = client.post("/generate-report", data="ticker=AAPL", headers={**auth_headers(), "Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code == 415 and error_of(response)["code"] == "UNSUPPORTED_MEDIA_TYPE"


def test_body_over_16_kib_is_413(client, api):
    payload = new_payload(padding="x" * 17000)
    response = client.post("/generate-report", data=json.dumps(payload), headers={**auth_headers(), "Content-Type": "application/json"})
    assert response.status_code == 413 and error_of(response)["code"] == "PAYLOAD_TOO_LARGE"
    assert services_of(api).store.get_job(payload["job_id"]) is None


def chunked_post(client, body: bytes):
    """A body sent without Content-Length (Transfer-Encoding: chunked), as gunicorn hands it to the app."""
    return client.post(
        "/generate-report",
        input_stream=io.BytesIO(body),
        headers={**auth_headers(), "Content-Type": "application/json", "Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )


def test_chunked_body_over_16_kib_is_413_even_when_its_first_16_kib_are_valid_json(client, api):
    """Found in review: werkzeug stopped reading a chunked body at the limit, so the JSON in its first
    16 KiB was accepted (202, a job) and the rest ignored."""
    payload = new_payload()
    head = json.dumps(payload).encode()
    response = chunked_post(client, head + b" " * (16384 - len(head)) + b"NOT JSON" * 2000)
    assert response.status_code == 413 and error_of(response)["code"] == "PAYLOAD_TOO_LARGE"
    assert services_of(api).store.get_job(payload["job_id"]) is None


def test_small_chunked_body_is_accepted(client):
    assert chunked_post(client, json.dumps(new_payload()).encode()).status_code == 202


# -- capacity --------------------------------------------------------------------------------------


def test_full_pool_is_429_and_records_nothing(client, api):
    first, second, third = new_payload(), new_payload(), new_payload()
    assert post(client, first).status_code == 202  # runs (stuck in the slow EDGAR)
    assert post(client, second).status_code == 202  # waits
    response = post(client, third)
    assert response.status_code == 429 and error_of(response)["code"] == "QUEUE_FULL"
    assert int(response.headers["Retry-After"]) > 0
    assert int(response.headers["Retry-After"]) == defaults.QUEUE_FULL_RETRY_AFTER_SECONDS
    assert services_of(api).store.get_job(third["job_id"]) is None
    assert post(client, first).status_code == 200  # a duplicate is still answered when full


# -- jobs the Edge Function's spend recorded ---------------------------------------------------------


def test_a_job_the_spend_recorded_runs_once_and_a_replay_answers_its_status(client, api):
    store = services_of(api).store
    payload = new_payload("brk.b")
    pay_for(store, payload)
    assert store.get_job(payload["job_id"]).awaiting_worker
    response = post(client, payload)
    assert response.status_code == 202 and response.get_json() == {"job_id": payload["job_id"], "status": "queued"}
    job = store.get_job(payload["job_id"])
    assert job.accepted and job.lease_owner == services_of(api).runner.queued_lease()[0]
    replay = post(client, payload)
    assert replay.status_code == 200 and replay.get_json()["job_id"] == payload["job_id"]
    assert sum(services_of(api).runner.counts()) == 1  # queued once (running already, or still waiting for a thread)
    assert [r["kind"] for r in store.ledger(payload["user_id"])] == ["purchase", "spend"]


def test_another_payload_for_a_job_the_spend_recorded_is_409(client, api):
    payload = new_payload("MSFT")
    pay_for(services_of(api).store, payload)
    response = post(client, {**payload, "ticker": "AAPL"})
    assert response.status_code == 409 and error_of(response)["code"] == "JOB_CONFLICT"
    assert services_of(api).store.get_job(payload["job_id"]).awaiting_worker


def test_concurrent_posts_of_a_job_the_spend_recorded_run_it_once(settings_factory, edgar):
    from concurrent.futures import ThreadPoolExecutor

    edgar.add_fault(Fault(pattern=r"company_tickers", kind="slow", delay=3.0, times=None))
    app = create_app(settings_factory(SEC_WWW_BASE_URL=edgar.base_url, SEC_DATA_BASE_URL=edgar.base_url))
    payload = new_payload()
    pay_for(services_of(app).store, payload)
    with ThreadPoolExecutor(8) as pool:
        statuses = sorted(pool.map(lambda _: post(app.test_client(), payload).status_code, range(8)))
    assert statuses == [200] * 7 + [202]
    services_of(app).close()


def test_a_full_pool_answers_429_for_a_job_the_spend_recorded(client, api):
    """Not 200 "already there": the job waits for a worker, and the Edge Function refunds on 429."""
    store = services_of(api).store
    assert post(client, new_payload()).status_code == 202 and post(client, new_payload()).status_code == 202
    payload = new_payload()
    pay_for(store, payload)
    response = post(client, payload)
    assert response.status_code == 429 and error_of(response)["code"] == "QUEUE_FULL"
    assert store.get_job(payload["job_id"]).awaiting_worker


def test_a_job_the_function_refunded_is_not_run_by_a_late_post(client, api):
    from database import FailureRecord

    store = services_of(api).store
    payload = new_payload()
    pay_for(store, payload)
    store.refund_unaccepted_job(payload["job_id"], failure=FailureRecord(code="WORKER_UNAVAILABLE", message="no worker"))
    response = post(client, payload)
    assert response.status_code == 200 and response.get_json()["status"] == "failed"
    assert services_of(api).runner.counts() == (0, 0) and store.refund_count(payload["job_id"]) == 1


class LookupBeforeCommitStore(SQLiteStore):
    """A lookup that misses once, as when a concurrent request with the same job_id commits the job
    just after this request looked."""

    miss_next: str | None = None

    def get_job(self, job_id):
        if job_id == self.miss_next:
            self.miss_next = None
            return None
        return super().get_job(job_id)


def test_a_duplicate_racing_the_first_request_is_not_told_nothing_was_recorded(settings_factory, edgar):
    """Found in review: the duplicate of a request in flight could get 429 QUEUE_FULL ("nothing
    recorded") while the first request recorded the job; a caller that refunds on 429 would then
    refund a job that runs. A rejection now re-reads the store first."""
    edgar.add_fault(Fault(pattern=r"company_tickers", kind="slow", delay=3.0, times=None))
    settings = settings_factory(SEC_WWW_BASE_URL=edgar.base_url, SEC_DATA_BASE_URL=edgar.base_url, MAX_CONCURRENT_JOBS="1", MAX_QUEUED_JOBS="1")
    store = LookupBeforeCommitStore(settings.sqlite_path)
    app = create_app(settings, services=Services.build(settings, store=store).start())
    client = app.test_client()
    first, filler = new_payload(), new_payload()
    assert post(client, first).status_code == 202 and post(client, filler).status_code == 202  # every slot taken
    store.miss_next = first["job_id"]
    response = post(client, first)  # the duplicate: its lookup missed, and the pool is full
    assert response.status_code == 200 and response.get_json()["job_id"] == first["job_id"]
    other = new_payload()
    response = post(client, other)  # not a duplicate: still 429, nothing recorded
    assert response.status_code == 429 and store.get_job(other["job_id"]) is None
    services_of(app).close()


# -- status ----------------------------------------------------------------------------------------


def test_status_document(client):
    payload = new_payload("NVDA")
    post(client, payload)
    response = client.get(f"/jobs/{payload['job_id']}/status", headers=auth_headers())
    assert response.status_code == 200
    body = response.get_json()
    assert set(body) == {"job_id", "status", "stage", "progress", "ticker", "error", "report_id", "refunded", "created_at", "updated_at"}
    assert body["job_id"] == payload["job_id"] and body["ticker"] == "NVDA" and body["status"] in ("queued", "running")
    assert body["created_at"].endswith("Z")


def test_status_of_unknown_job_is_404(client):
    response = client.get(f"/jobs/{uuid.uuid4()}/status", headers=auth_headers())
    assert response.status_code == 404 and error_of(response)["code"] == "JOB_NOT_FOUND"


@pytest.mark.parametrize("job_id", ["not-a-uuid", f"{uuid.UUID(int=7)}%0A"])
def test_status_of_malformed_id_is_400(client, job_id):
    response = client.get(f"/jobs/{job_id}/status", headers=auth_headers())
    assert response.status_code == 400 and error_of(response)["field"] == "job_id"
    assert error_of(response) == {"code": "INVALID_FIELD", "message": "job_id must be a UUID", "field": "job_id"}


# -- JSON for every error --------------------------------------------------------------------------


def test_unknown_route_is_json_404(client):
    response = client.get("/nope")
    assert response.status_code == 404 and error_of(response)["code"] == "NOT_FOUND"


def test_wrong_method_is_json_405(client):
    response = client.get("/generate-report")
    assert response.status_code == 405 and error_of(response)["code"] == "METHOD_NOT_ALLOWED"
    assert "POST" in response.headers["Allow"]


def test_unexpected_error_is_json_500(settings_factory, edgar):
    app = create_app(settings_factory(SEC_WWW_BASE_URL=edgar.base_url, SEC_DATA_BASE_URL=edgar.base_url))
    services = services_of(app)

    def broken(job_id):
        raise RuntimeError("boom with secret " + WORKER_SECRET)

    services.store.get_job = broken
    response = app.test_client().get(f"/jobs/{uuid.uuid4()}/status", headers=auth_headers())
    assert response.status_code == 500 and error_of(response) == {"code": "INTERNAL_ERROR", "message": "internal error"}
    assert WORKER_SECRET.encode() not in response.data
    services.close()


# -- start-up --------------------------------------------------------------------------------------


def test_production_refuses_to_start_without_secrets(tmp_path):
    from config import Settings

    with pytest.raises(ConfigError) as info:
        Settings.from_env({"APP_ENV": "production", "SQLITE_PATH": str(tmp_path / "x.db")})
    for name in ("WORKER_SECRET", "CALLBACK_SECRET", "CALLBACK_ALLOWED_HOSTS", "SEC_USER_AGENT"):
        assert name in info.value.message


def test_development_runs_without_worker_secret(settings_factory, edgar):
    app = create_app(
        settings_factory(APP_ENV="development", WORKER_SECRET="", SEC_WWW_BASE_URL=edgar.base_url, SEC_DATA_BASE_URL=edgar.base_url)
    )
    payload = new_payload("AAPL", callback_url="http://127.0.0.1:9/cb")
    response = app.test_client().post("/generate-report", json=payload)
    assert response.status_code == 202
    wait_terminal(services_of(app).store, payload["job_id"])
    services_of(app).close()
