"""GET /reports/<report_id>: the page for a browser, the JSON for everyone else, errors as JSON."""

from __future__ import annotations

import uuid
from dataclasses import replace

import pytest

from app import create_app, services_of
from conftest import auth_headers
from render import CONTENT_SECURITY_POLICY, render_html
from store_contract import OWNER, report_record, request

BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"


@pytest.fixture
def app(settings_factory):
    application = create_app(settings_factory())
    yield application
    services_of(application).close()


@pytest.fixture
def client(app):
    return app.test_client()


def stored(app, *, html: str | None = "<!DOCTYPE html><p>the stored page</p>") -> str:
    """A completed job's report, written through the store as the worker writes it; its id."""
    store = services_of(app).store
    req = request()
    store.create_job(req, lease_owner=OWNER, lease_seconds=30)
    store.claim_job(req.job_id, owner=OWNER, lease_seconds=30)
    record = replace(report_record(), html=html)
    store.complete_job(req.job_id, owner=OWNER, report=record, refund=False, refund_reason=None)
    return record.report_id


def get(client, report_id, accept=None, headers=None):
    headers = {**(auth_headers() if headers is None else headers), **({"Accept": accept} if accept else {})}
    return client.get(f"/reports/{report_id}", headers=headers)


@pytest.mark.parametrize("accept", [None, "*/*", "application/json", "text/html, application/json", "application/json, text/html;q=0.9"])
def test_the_report_object_is_the_default_answer(app, client, accept):
    report_id = stored(app)
    response = get(client, report_id, accept)
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert response.get_json() == report_record().body  # the body as stored
    assert response.headers["Vary"] == "Accept" and response.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("accept", [BROWSER_ACCEPT, "text/html", "application/json;q=0.5, text/html"])
def test_a_browser_gets_the_stored_page(app, client, accept):
    report_id = stored(app)
    response = get(client, report_id, accept)
    assert response.status_code == 200 and response.mimetype == "text/html" and response.mimetype_params["charset"] == "utf-8"
    assert response.get_data(as_text=True) == "<!DOCTYPE html><p>the stored page</p>"
    assert response.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert response.headers["X-Content-Type-Options"] == "nosniff" and response.headers["Vary"] == "Accept"


def test_a_report_stored_without_a_page_is_rendered_on_request(app, client):
    report_id = stored(app, html=None)
    response = get(client, report_id, BROWSER_ACCEPT)
    assert response.status_code == 200 and response.mimetype == "text/html"
    assert response.get_data(as_text=True) == render_html(report_record().body)


def test_an_upper_case_id_finds_the_report(app, client):
    report_id = stored(app)
    assert get(client, report_id.upper()).status_code == 200


@pytest.mark.parametrize("accept", [None, BROWSER_ACCEPT])
def test_an_unknown_report_is_a_json_404(client, accept):
    response = get(client, uuid.uuid4(), accept)
    assert response.status_code == 404 and response.is_json
    assert response.get_json()["error"]["code"] == "REPORT_NOT_FOUND"


@pytest.mark.parametrize("report_id", ["not-a-uuid", "1234", f"{uuid.UUID(int=7)}%0A"])
def test_a_malformed_id_is_a_json_400(client, report_id):
    response = get(client, report_id, BROWSER_ACCEPT)
    assert response.status_code == 400 and response.get_json()["error"] == {
        "code": "INVALID_FIELD", "message": "report_id must be a UUID", "field": "report_id"}


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong-secret-0123456789"}, {"Authorization": "Basic x"}])
def test_reports_need_the_operator_token(app, client, headers):
    report_id = stored(app)
    for accept in (None, BROWSER_ACCEPT):
        response = get(client, report_id, accept, headers=headers)
        assert response.status_code == 401 and response.get_json()["error"]["code"] == "UNAUTHORIZED"
        assert b"stored page" not in response.data
