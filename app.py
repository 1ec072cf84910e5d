"""HTTP API: accept report jobs from the Edge Function, answer status polls, report health.

    GET  /health               liveness; no auth, no I/O
    GET  /ready                200 when the store answers, else 503
    POST /generate-report      202 {job_id, status: "queued"}   (Bearer WORKER_SECRET)
    GET  /jobs/<id>/status     the job's state from the store     (Bearer WORKER_SECRET)
    GET  /reports/<id>         the report: its page for a browser, else the JSON (Bearer WORKER_SECRET)
    GET  /metrics              Prometheus metrics                  (Bearer WORKER_SECRET)
    GET  /openapi.json         this API, described in OpenAPI 3.1

`create_app(settings)` is the factory; `gunicorn app:app` gets a fresh app per worker process
through the module `__getattr__` below, so importing this module starts nothing. Every answer is
JSON (but a report's page), errors included: `{"error": {"code", "message", "field"?}}`, mapped
once from the error types of `exceptions.py`.
"""

from __future__ import annotations

import hmac
import json
import logging
import sys
from pathlib import Path

from flask import Flask, Response, current_app, jsonify, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

import defaults
import observability
from config import Settings
from exceptions import (
    ConfigError,
    InvalidField,
    InvalidJSON,
    JobConflict,
    JobNotFound,
    QueueFull,
    QueueUnavailable,
    ReportNotFound,
    ReportWorkerError,
    ShuttingDown,
    StoreMisconfigured,
    StoreUnavailable,
    Unauthorized,
    UnsupportedMediaType,
)
from job import is_uuid, parse_job_request
from render import CONTENT_SECURITY_POLICY, render_html
from worker import Services, fail_unqueued_job

log = logging.getLogger("app")
EXTENSION = "report_worker"
OPENAPI_PATH = Path(__file__).with_name("openapi.json")


def create_app(settings: Settings | None = None, *, services: Services | None = None) -> Flask:
    settings = settings or Settings.from_env()
    observability.setup(settings, release=f"{defaults.SERVICE_NAME}@{defaults.VERSION}")
    for warning in settings.warnings():
        log.warning(warning)

    app = Flask("report_worker")
    app.config["MAX_CONTENT_LENGTH"] = defaults.MAX_REQUEST_BYTES
    app.json.sort_keys = False
    app.extensions[EXTENSION] = services or Services.build(settings).start()
    app.register_error_handler(ReportWorkerError, _error_response)
    app.register_error_handler(HTTPException, _http_error_response)
    app.register_error_handler(Exception, _unexpected_error_response)
    _register_routes(app)
    log.info("service started", extra={"env": settings.app_env, "store": settings.store_backend, "queue": settings.queue_backend})
    return app


def services_of(app: Flask) -> Services:
    return app.extensions[EXTENSION]


def _register_routes(app: Flask) -> None:
    @app.get("/health")
    def health():
        return jsonify(status="ok", service=defaults.SERVICE_NAME, version=defaults.VERSION)

    @app.get("/ready")
    def ready():
        services = services_of(current_app)
        if not services.runner.accepting:
            return jsonify(status="shutting_down", store=services.settings.store_backend), 503
        if not services.runner.healthy():
            return jsonify(status="stuck", store=services.settings.store_backend), 503
        try:
            services.store.ping()
        except StoreMisconfigured as exc:  # the store logged why, once per probe; retrying cannot cure it
            return jsonify(status="misconfigured", store=services.settings.store_backend, error=exc.to_dict()), 503
        except StoreUnavailable as exc:
            return jsonify(status="unavailable", store=services.settings.store_backend, error=exc.to_dict()), 503
        return jsonify(status="ready", store=services.settings.store_backend)

    @app.post("/generate-report")
    def generate_report():
        services = services_of(current_app)
        settings = services.settings
        _authorize(settings)
        payload = _json_body()
        job_request = parse_job_request(
            payload, allowed_callback_hosts=settings.callback_allowed_hosts, allow_local_http=settings.is_development
        )
        existing = _recorded(services, job_request)
        if existing is not None:
            return jsonify(existing.status_document()), 200
        try:
            with services.runner.reserve():  # the only source of QueueFull, QueueUnavailable, ShuttingDown here
                lease_owner, lease_seconds = services.runner.queued_lease()
                job, created = services.store.create_job(job_request, lease_owner=lease_owner, lease_seconds=lease_seconds)
                if not created:  # a concurrent duplicate won the race
                    return jsonify(job.status_document()), 200
                try:
                    services.runner.submit(job.job_id)
                except QueueUnavailable as exc:
                    # recorded, so its token is ours to give back: no worker will ever see it, end it now
                    job = fail_unqueued_job(job.job_id, exc, services) or job
                    log.error("job recorded but not queued", extra={"job_id": job.job_id, "status": job.status.value})
        except (QueueFull, QueueUnavailable, ShuttingDown):
            # these answers promise "nothing recorded": a concurrent duplicate may have recorded it meanwhile
            existing = _recorded(services, job_request)
            if existing is not None:
                return jsonify(existing.status_document()), 200
            raise
        services.metrics.jobs_accepted.inc()
        log.info("job accepted", extra={"job_id": job.job_id, "ticker": job.ticker})
        return jsonify(job_id=job.job_id, status=job.status.value), 202

    @app.get("/openapi.json")
    def openapi():
        return current_app.response_class(OPENAPI_PATH.read_bytes(), content_type="application/json")

    @app.get("/metrics")
    def metrics():
        services = services_of(current_app)
        _authorize(services.settings)
        try:
            services.runner.report_depth()  # the RQ work horses do not keep the queue gauge current
        except Exception:  # Redis down: the gauge keeps its last value, the rest of the answer stands
            log.warning("queue depth not refreshed", exc_info=True)
        body, content_type = services.metrics.render(services.runner.shared_metrics())
        return Response(body, content_type=content_type)

    @app.get("/jobs/<job_id>/status")
    def job_status(job_id: str):
        services = services_of(current_app)
        _authorize(services.settings)
        job = services.store.get_job(_path_uuid(job_id, "job_id"))
        if job is None:
            raise JobNotFound()
        return jsonify(job.status_document())

    @app.get("/reports/<report_id>")
    def report(report_id: str):
        """The stored report: its page when the client prefers HTML (a browser), else the JSON."""
        services = services_of(current_app)
        _authorize(services.settings)
        report_id = _path_uuid(report_id, "report_id")
        if request.accept_mimetypes.best_match(("application/json", "text/html")) == "text/html":
            page = services.store.get_report_html(report_id)
            if page is None:  # an unknown report, or one stored before pages were: render it now
                body = services.store.get_report(report_id)
                if body is None:
                    raise ReportNotFound()
                page = render_html(body)
            response = current_app.response_class(page, content_type="text/html; charset=utf-8")
            response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
            response.headers["X-Content-Type-Options"] = "nosniff"
        else:
            body = services.store.get_report(report_id)
            if body is None:
                raise ReportNotFound()
            response = jsonify(body)
        response.headers["Vary"] = "Accept"
        response.headers["Cache-Control"] = "no-store"
        return response


def _recorded(services: Services, job_request):
    """The job already accepted under this job_id, if any; a different payload is a conflict.

    A job the Edge Function's spend recorded and no worker has accepted yet does not count: this
    request accepts it (create_job) and runs it.
    """
    existing = services.store.get_job(job_request.job_id)
    if existing is not None and existing.fingerprint != job_request.fingerprint():
        raise JobConflict()
    return None if existing is not None and existing.awaiting_worker else existing


def _authorize(settings: Settings) -> None:
    """Bearer WORKER_SECRET, compared in constant time. Only development may run without a secret."""
    if not settings.worker_secret:
        return
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), settings.worker_secret.encode()):
        raise Unauthorized()


def _path_uuid(value: str, name: str) -> str:
    """A UUID path parameter as the store keys it (lower case), or `InvalidField`."""
    if not is_uuid(value):
        raise InvalidField(f"{name} must be a UUID", field=name)
    return value.lower()


def _json_body():
    if request.mimetype != "application/json" and not request.mimetype.endswith("+json"):
        raise UnsupportedMediaType()
    raw = request.get_data(cache=False)  # raises 413 past MAX_CONTENT_LENGTH, when a Content-Length says so
    if request.content_length is None and len(raw) >= defaults.MAX_REQUEST_BYTES and request.environ["wsgi.input"].read(1):
        raise RequestEntityTooLarge()  # a chunked body: werkzeug stops reading at the limit, it does not refuse
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: absurdly deep nesting
        raise InvalidJSON() from None


def _error_body(code: str, message: str, field: str | None = None) -> dict:
    error = {"code": code, "message": message}
    if field:
        error["field"] = field
    return {"error": error}


def _error_response(exc: ReportWorkerError) -> Response:
    if request.path == "/generate-report" and EXTENSION in current_app.extensions:
        services_of(current_app).metrics.jobs_rejected.labels(exc.code).inc()
    response = jsonify(_error_body(exc.code, exc.message, exc.field))
    response.status_code = exc.http_status
    retry_after = getattr(exc, "retry_after", None)  # QUEUE_FULL, QUEUE_UNAVAILABLE
    if retry_after is not None:
        response.headers["Retry-After"] = str(retry_after)
    if exc.http_status >= 500:
        log.error("request failed", extra={"code": exc.code, "path": request.path})
    return response


_HTTP_CODES = {
    400: "BAD_REQUEST",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
}


def _http_error_response(exc: HTTPException) -> Response:
    status = exc.code or 500
    message = {
        404: "no such endpoint",
        405: f"method {request.method} is not allowed here",
        413: f"the request body is larger than {defaults.MAX_REQUEST_BYTES} bytes",
    }.get(status, exc.description or exc.name)
    response = jsonify(_error_body(_HTTP_CODES.get(status, "HTTP_ERROR"), message))
    response.status_code = status
    original = exc.get_response()
    if "Allow" in original.headers:
        response.headers["Allow"] = original.headers["Allow"]
    return response


def _unexpected_error_response(exc: Exception) -> Response:
    log.exception("unhandled error", extra={"path": request.path})
    response = jsonify(_error_body("INTERNAL_ERROR", "internal error"))
    response.status_code = 500
    return response


def __getattr__(name: str):
    """`gunicorn app:app` asks for `app`: build it then, in the worker process, not at import."""
    if name == "app":
        try:
            return create_app()
        except ConfigError as exc:
            # Exit code 3 is gunicorn's "worker failed to boot": the master stops instead of looping.
            print(exc.message, file=sys.stderr, flush=True)
            raise SystemExit(3) from None
    raise AttributeError(f"module 'app' has no attribute {name!r}")
