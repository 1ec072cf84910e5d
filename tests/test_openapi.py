"""openapi.json describes every endpoint, method, answer and error code the service has."""

from __future__ import annotations

import json
import re

import pytest

import exceptions
from app import create_app, services_of
from conftest import ROOT

SPEC = json.loads((ROOT / "openapi.json").read_text())


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    from conftest import make_settings

    application = create_app(make_settings(tmp_path_factory.mktemp("openapi")))
    yield application
    services_of(application).close()


def _routes(app):
    found = {}
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule)
        found[path] = {m.lower() for m in rule.methods - {"HEAD", "OPTIONS"}}
    return found


def test_every_route_is_documented_and_nothing_else(app):
    documented = {path: set(ops) for path, ops in SPEC["paths"].items()}
    assert _routes(app) == documented


def test_spec_is_served(app):
    response = app.test_client().get("/openapi.json")
    assert response.status_code == 200 and response.get_json() == SPEC


def test_every_error_code_is_in_the_spec():
    codes = {c.code for c in vars(exceptions).values() if isinstance(c, type) and issubclass(c, exceptions.ReportWorkerError)}
    documented = set(SPEC["components"]["schemas"]["Error"]["properties"]["error"]["properties"]["code"]["enum"])
    assert codes - {"CONFIG_ERROR", "LEASE_LOST"} <= documented
    job_codes = {c.code for c in vars(exceptions).values() if isinstance(c, type) and issubclass(c, exceptions.JobFailure)}
    status_error = SPEC["components"]["schemas"]["JobStatus"]["properties"]["error"]["oneOf"][1]
    assert set(status_error["properties"]["code"]["enum"]) == job_codes


def test_documented_statuses_match_the_error_types():
    """Each HTTP status an error type maps to on /generate-report is documented there."""
    responses = SPEC["paths"]["/generate-report"]["post"]["responses"]
    for error in (exceptions.InvalidField, exceptions.InvalidJSON, exceptions.Unauthorized, exceptions.JobConflict,
                  exceptions.QueueFull, exceptions.UnsupportedMediaType, exceptions.ShuttingDown):
        assert str(error.http_status) in responses, error.__name__


def test_status_document_fields_match_the_code():
    from datetime import datetime, timezone

    from job import Job, JobStatus, Stage

    now = datetime.now(timezone.utc)
    job = Job("j", "u", "AAPL", None, "f", JobStatus.QUEUED, Stage.QUEUED, 0, now, now)
    schema = SPEC["components"]["schemas"]["JobStatus"]
    assert set(job.status_document()) == set(schema["properties"]) == set(schema["required"])
    assert [s.value for s in JobStatus] == schema["properties"]["status"]["enum"]
    assert [s.value for s in Stage] == schema["properties"]["stage"]["enum"]


def test_callback_schema_matches_the_body():
    from callbacks import callback_body
    from datetime import datetime, timezone

    from job import Job, JobStatus, Stage

    now = datetime.now(timezone.utc)
    body = callback_body(Job("j", "u", "AAPL", None, "f", JobStatus.FAILED, Stage.FETCHING, 5, now, now))
    assert set(body) == set(SPEC["components"]["schemas"]["Callback"]["required"])
