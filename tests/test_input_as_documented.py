"""POST /generate-report input: the code, README.md and openapi.json say the same thing.

Found as a newcomer would (issue 16): a ticker with whitespace around it ("KO\\n", " KO ") was
accepted while the OpenAPI pattern and README said otherwise; `"callback_url": null` was accepted
while the OpenAPI said string; an https callback could name any port of an allowed host
(`https://x.supabase.co:6379/`). And the answers gunicorn gives before the app sees a request are
not JSON: README lists them.
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from app import create_app, services_of
from config import Settings
from conftest import CALLBACK_SECRET, ROOT, USER_AGENT, WORKER_SECRET, auth_headers, new_payload, wait_for
from exceptions import ConfigError, InvalidField
from job import parse_job_request

OPENAPI = json.loads((ROOT / "openapi.json").read_text())
JOB_REQUEST = OPENAPI["components"]["schemas"]["JobRequest"]["properties"]
README = (ROOT / "README.md").read_text()
JOB = "123e4567-e89b-12d3-a456-426614174000"
USER = "00000000-0000-4000-8000-000000000001"


def parse(allowed=("abc.supabase.co", "hooks.example.com:8443", "*.hooks.example.com"), **changes):
    return parse_job_request({"job_id": JOB, "user_id": USER, "ticker": "AAPL", **changes}, allowed_callback_hosts=allowed)


def code_accepts(**changes) -> bool:
    try:
        parse(**changes)
        return True
    except InvalidField:
        return False


@pytest.fixture
def client(settings_factory, edgar):
    app = create_app(settings_factory(SEC_WWW_BASE_URL=edgar.base_url, SEC_DATA_BASE_URL=edgar.base_url,
                                      CALLBACK_ALLOWED_HOSTS="hooks.example.com,api.example.com:8443"))
    yield app.test_client(), services_of(app).store
    services_of(app).close()


# -- the ticker ------------------------------------------------------------------------------------

TICKERS = ["KO", "ko", "BRK.B", "BRK-B", "A", "ABCDEFGHIJ", "ABCDEFGHIJK", "KO\n", " KO ", "KO ", "\tKO", "K O", "",
           ".KO", "-KO", "KO!", "\u00df", "KO\r\n", "\nKO"]


@pytest.mark.parametrize("ticker", TICKERS)
def test_the_openapi_ticker_pattern_is_the_codes_rule(ticker):
    # JSON Schema patterns are ECMA-262 regular expressions: `$` is the end of the input, Python's `\Z`
    pattern = JOB_REQUEST["ticker"]["pattern"]
    documented = re.search(pattern[:-1] + r"\Z" if pattern.endswith("$") else pattern, ticker) is not None
    assert documented == code_accepts(ticker=ticker)


@pytest.mark.parametrize("ticker", ["KO\n", " KO ", "KO ", "\tKO", "KO\r\n"])
def test_a_ticker_with_whitespace_is_400_and_nothing_is_recorded(client, ticker):
    client, store = client
    payload = new_payload(ticker=ticker)
    response = client.post("/generate-report", json=payload, headers=auth_headers())
    assert response.status_code == 400
    assert response.get_json()["error"]["field"] == "ticker" and "spaces" in response.get_json()["error"]["message"]
    assert store.get_job(payload["job_id"]) is None


# -- callback_url ----------------------------------------------------------------------------------


def test_a_null_callback_url_is_documented_and_means_no_callback(client):
    assert "null" in JOB_REQUEST["callback_url"]["type"]
    assert "null" in JOB_REQUEST["callback_url"]["description"] and "no callback" in JOB_REQUEST["callback_url"]["description"]
    assert re.search(r"`callback_url`[^\n]*`null`[^\n]*no callback", README)
    client, store = client
    payload = new_payload(callback_url=None)
    payload["callback_url"] = None
    response = client.post("/generate-report", json=payload, headers=auth_headers())
    assert response.status_code == 202
    assert store.get_job(payload["job_id"]).callback_url is None


@pytest.mark.parametrize(
    "url, ok",
    [
        ("https://abc.supabase.co/cb", True),
        ("https://abc.supabase.co:443/cb", True),  # https's own port, written out
        ("https://abc.supabase.co:6379/cb", False),  # found as a newcomer: any port of an allowed host
        ("https://abc.supabase.co:8443/cb", False),
        ("https://x.hooks.example.com:22/cb", False),
        ("https://hooks.example.com:8443/cb", True),  # the entry names this port
        ("https://hooks.example.com:8444/cb", False),
        ("https://hooks.example.com/cb", False),  # the entry allows 8443 only
    ],
)
def test_https_callbacks_use_443_unless_the_allowed_entry_names_a_port(url, ok):
    assert code_accepts(callback_url=url) == ok


@pytest.mark.parametrize("url", ["https://hooks.example.com:6379/cb", "https://api.example.com:8444/cb", "https://api.example.com/cb"])
def test_a_callback_to_another_port_is_400_and_nothing_is_recorded(client, url):
    client, store = client
    payload = new_payload(callback_url=url)
    response = client.post("/generate-report", json=payload, headers=auth_headers())
    assert response.status_code == 400 and response.get_json()["error"]["field"] == "callback_url"
    assert store.get_job(payload["job_id"]) is None
    accepted = new_payload(callback_url="https://api.example.com:8443/cb")
    assert client.post("/generate-report", json=accepted, headers=auth_headers()).status_code == 202


def test_allowed_hosts_may_name_a_port_and_nothing_else():
    base = {"APP_ENV": "development"}
    assert Settings.from_env({**base, "CALLBACK_ALLOWED_HOSTS": "a.example.com:8443, *.b.example.com"}).callback_allowed_hosts == (
        "a.example.com:8443", "*.b.example.com")
    for bad in ("a.example.com:0", "a.example.com:http", "https://a.example.com", "a.example.com/cb", ":8443"):
        with pytest.raises(ConfigError, match="CALLBACK_ALLOWED_HOSTS"):
            Settings.from_env({**base, "CALLBACK_ALLOWED_HOSTS": bad})


def test_readme_states_the_rules():
    assert "without spaces" in README and "host:port" in README


# -- answers gunicorn gives before the app -----------------------------------------------------------


@pytest.fixture
def gunicorn(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {"PATH": "/usr/bin:/bin", "APP_ENV": "production", "PORT": str(port), "WEB_CONCURRENCY": "1", "WORKER_SECRET": WORKER_SECRET,
           "CALLBACK_SECRET": CALLBACK_SECRET, "CALLBACK_ALLOWED_HOSTS": "hooks.example.com", "SEC_USER_AGENT": USER_AGENT,
           "SQLITE_PATH": str(tmp_path / "store.db"), "EDGAR_CACHE_DIR": str(tmp_path / "cache"), "LOG_LEVEL": "WARNING"}
    proc = subprocess.Popen([str(Path(sys.executable).parent / "gunicorn"), "-c", "gunicorn.conf.py", "app:app"],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for(lambda: _raw(port, b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").startswith(b"HTTP/1.1 200"),
             timeout=30, message="gunicorn to answer")
    yield port
    proc.terminate()
    proc.wait(30)


def _raw(port: int, request: bytes) -> bytes:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(request)
            chunks = []
            while chunk := s.recv(65536):
                chunks.append(chunk)
            return b"".join(chunks)
    except OSError:
        return b""


def _body(length: int = 2) -> bytes:
    return b"{}"[:length]


PRE_APP = {
    # what README lists -> a request that gets it
    "414": b"GET /" + b"a" * 5000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    "400": b"POST /generate-report HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
    "431": b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n",
}


@pytest.mark.slow
@pytest.mark.parametrize("status", sorted(PRE_APP))
def test_gunicorns_own_answers_are_listed_in_the_readme(gunicorn, status):
    answer = _raw(gunicorn, PRE_APP[status])
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.split()[1] == status.encode(), head
    assert b"Content-Type: text/html" in head and not body.lstrip().startswith(b"{")  # gunicorn's page, not our JSON
    section = README.split("Answers gunicorn gives before the app", 1)[1].split("\n#", 1)[0]
    assert f"`{status}`" in section
