"""JSON logs carry job_id and never secrets; Sentry events are scrubbed before they leave."""

from __future__ import annotations

import gzip
import io
import json
import logging
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from observability import JsonFormatter, Scrubber, configure_logging, init_sentry, job_context, scrub_event

SECRET = "sk-ant-api03-very-secret-value"


def _capture(level="INFO", secrets=()):
    stream = io.StringIO()
    configure_logging(level, secrets, stream=stream)
    return stream


def test_one_json_object_per_line_with_job_id():
    stream = _capture()
    log = logging.getLogger("worker")
    with job_context("job-123"):
        log.info("stage finished", extra={"stage": "diffing", "duration_ms": 12})
        logging.getLogger("some.library").warning("library line")
    log.info("outside")
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert lines[0]["job_id"] == "job-123" and lines[0]["stage"] == "diffing" and lines[0]["msg"] == "stage finished"
    assert lines[1]["job_id"] == "job-123" and lines[1]["logger"] == "some.library"
    assert "job_id" not in lines[2]
    assert all({"ts", "level", "logger", "msg"} <= set(line) for line in lines)


def test_job_id_follows_the_job_into_helper_threads():
    import contextvars

    stream = _capture()
    with job_context("job-t"):
        ctx = contextvars.copy_context()
    thread = threading.Thread(target=ctx.run, args=(logging.getLogger("x").info, "from a thread"))
    thread.start()
    thread.join()
    assert json.loads(stream.getvalue().splitlines()[-1])["job_id"] == "job-t"


def test_secrets_are_masked_in_logs():
    stream = _capture(secrets=[SECRET])
    log = logging.getLogger("worker")
    log.warning(f"calling with key {SECRET}", extra={"headers": {"Authorization": "Bearer abcdefghijkl", "x": 1}})
    try:
        raise ValueError(f"failed using {SECRET}")
    except ValueError:
        log.exception("boom")
    text = stream.getvalue()
    assert SECRET not in text and "abcdefghijkl" not in text and "[redacted]" in text


def test_scrubber_drops_credentials_by_key_and_value():
    scrubber = Scrubber([SECRET])
    data = {"api_key": "x1", "nested": [{"password": "p", "note": f"k={SECRET}"}], "plain": "Bearer token12345678"}
    assert scrubber.data(data) == {
        "api_key": "[redacted]",
        "nested": [{"password": "[redacted]", "note": "k=[redacted]"}],
        "plain": "Bearer [redacted]",
    }


def test_sentry_event_scrubbed():
    event = {
        "request": {"headers": {"Authorization": "Bearer abc", "Content-Type": "application/json"}, "data": {"x": 1}, "cookies": "c"},
        "extra": {"msg": f"token {SECRET}"},
        "exception": {"values": [{"value": f"error with {SECRET}"}]},
    }
    cleaned = scrub_event(event, Scrubber([SECRET]))
    assert cleaned["request"]["headers"]["Authorization"] == "[redacted]"
    assert cleaned["request"]["data"] == "[redacted]" and "cookies" not in cleaned["request"]
    assert SECRET not in json.dumps(cleaned)


def test_sentry_events_reaching_a_server_carry_no_secret():
    """A real sentry-sdk client sends to a local endpoint; what arrives must be clean."""
    received = []

    class Sink(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            received.append(body)
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *a):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Sink)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    import sentry_sdk

    dsn = f"http://publickey@127.0.0.1:{server.server_address[1]}/1"
    assert init_sentry(dsn, environment="test", release="t@1", traces_sample_rate=0.0, secrets=[SECRET])
    collection = sentry_sdk.get_client().options["data_collection"]
    assert collection["user_info"] is False and collection["stack_frame_variables"] is False
    with job_context("job-s"):
        try:
            raise RuntimeError(f"upstream said {SECRET}")
        except RuntimeError:
            sentry_sdk.capture_exception()
    sentry_sdk.flush(5)
    deadline = time.monotonic() + 5
    while not received and time.monotonic() < deadline:
        time.sleep(0.05)
    sentry_sdk.get_client().close()
    sentry_sdk.init()  # back to a disabled client for the other tests
    server.shutdown()
    assert received, "no event reached the local Sentry endpoint"
    payload = b"".join(received).decode("utf-8", "replace")
    assert "RuntimeError" in payload and "job-s" in payload and SECRET not in payload


def test_formatter_is_valid_json_for_odd_values():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "value %s", (object(),), None)
    record.weird = {1, 2}
    assert json.loads(JsonFormatter().format(record))["msg"].startswith("value <object")
