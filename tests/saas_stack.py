"""Test-only: the whole product on one machine, from real parts, for tests/test_saas_e2e.py and
bench/bench_saas_faults.py.

    client --POST /functions/v1/generate-report--> gateway --> Deno: generate-report
        --rpc spend_token_for_job--> gateway --> PostgREST 12 --> PostgreSQL (the migrations)
        --POST /generate-report--> FaultProxy --> gunicorn: the report worker (Supabase store, offline
                                                  summarizer, EDGAR stand-in serving the corpus)
    worker --signed callback--> gateway --> FaultProxy --> Deno: report-callback --rpc--> ... PostgreSQL

Both proxies pass everything through until a test gives them a plan of faults.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import requests
from supabase import ClientOptions, create_client

from conftest import CALLBACK_SECRET, ROOT, USER_AGENT, WORKER_SECRET, wait_for
from store_supabase import SupabaseStore
from edgar_standin import EdgarStandIn
from pg_support import migrated_database
from supabase_stack import EdgeFunction, FaultProxy, Keys, PostgrestServer, SupabaseGateway, free_port, require_tools


@dataclass
class Saas:
    dsn: str
    keys: Keys
    gateway: SupabaseGateway
    worker_url: str
    worker_proxy: FaultProxy  # between generate-report and the worker
    callback_proxy: FaultProxy  # between the gateway and report-callback
    functions: dict[str, EdgeFunction]
    store: SupabaseStore  # the service role's view, for setting up and checking
    worker_log: Path
    session: requests.Session = field(default_factory=requests.Session)

    # -- what a product does around the user ---------------------------------------------------------

    def new_user(self, tokens: int) -> tuple[str, str]:
        """A signed-in user who bought `tokens` tokens: (user_id, access token)."""
        user_id = str(uuid.uuid4())
        if tokens:
            self.store.credit_tokens(user_id, tokens, f"pi_{uuid.uuid4().hex}")
        return user_id, self.keys.user_token(user_id)

    def ask(self, token: str, ticker: str, *, key: str | None = None, timeout: float = 60) -> requests.Response:
        """What the front end does: POST /functions/v1/generate-report with the user's session."""
        headers = {"Authorization": f"Bearer {token}", "apikey": self.keys.publishable_key}
        if key:
            headers["Idempotency-Key"] = key
        return self.session.post(f"{self.gateway.url}/functions/v1/generate-report", json={"ticker": ticker}, headers=headers, timeout=timeout)

    def as_user(self, token: str):
        """supabase-py as the front end's supabase-js would be: publishable key + the user's session."""
        options = ClientOptions(auto_refresh_token=False, persist_session=False, headers={"Authorization": f"Bearer {token}"})
        return create_client(self.gateway.url, self.keys.publishable_key, options=options)


@contextmanager
def saas_stack(
    tmp: Path, corpus: Path, *, worker_env: dict[str, str] | None = None, function_env: dict[str, str] | None = None
) -> Iterator[Saas]:
    require_tools()
    keys = Keys()
    with ExitStack() as stack, migrated_database("saas") as dsn:
        postgrest = PostgrestServer(dsn, keys, pool=10).start(tmp)
        stack.callback(postgrest.stop)
        gateway = SupabaseGateway(postgrest.url, keys.gateway_keys()).start()
        stack.callback(gateway.stop)
        keys.issuer = f"{gateway.url}/auth/v1"  # Supabase Auth's issuer: <SUPABASE_URL>/auth/v1
        edgar = EdgarStandIn(corpus, as_of="2025-12-31").start()
        stack.callback(edgar.stop)

        worker_port = free_port()
        worker_url = f"http://127.0.0.1:{worker_port}"
        callback_url = f"{gateway.url}/functions/v1/report-callback"
        env = {
            **os.environ,
            "APP_ENV": "development",  # callbacks to http://127.0.0.1; the secrets are still required below
            "PORT": str(worker_port),
            "WEB_CONCURRENCY": "1",
            "WEB_THREADS": "16",
            "WORKER_SECRET": WORKER_SECRET,
            "CALLBACK_SECRET": CALLBACK_SECRET,
            "CALLBACK_ALLOWED_HOSTS": "127.0.0.1",
            "CALLBACK_RETRY_BASE_SECONDS": "0.2",
            "CALLBACK_RETRY_MAX_DELAY_SECONDS": "1",
            "CALLBACK_POLL_INTERVAL_SECONDS": "0.2",
            "CALLBACK_TIMEOUT_SECONDS": "5",
            "STORE_BACKEND": "supabase",
            "SUPABASE_URL": gateway.url,
            "SUPABASE_SERVICE_KEY": keys.secret_key,
            "SEC_USER_AGENT": USER_AGENT,
            "SEC_WWW_BASE_URL": edgar.base_url,
            "SEC_DATA_BASE_URL": edgar.base_url,
            "SEC_MAX_REQUESTS_PER_SECOND": "10",
            "EDGAR_CACHE_DIR": str(tmp / "edgar-cache"),
            "SQLITE_PATH": str(tmp / "unused.db"),
            "LOG_LEVEL": "WARNING",
            **(worker_env or {}),
        }
        env.pop("ANTHROPIC_API_KEY", None)  # the offline summarizer
        env.pop("REDIS_URL", None)
        worker_log = tmp / "worker.log"
        with open(worker_log, "w") as log:
            worker = subprocess.Popen(
                [str(Path(sys.executable).parent / "gunicorn"), "-c", "gunicorn.conf.py", "app:app"],
                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
            )
        stack.callback(_stop, worker)
        wait_for(lambda: _ready(worker, worker_url, worker_log), timeout=60, message="the worker to be ready")

        worker_proxy = FaultProxy(worker_url).start()
        stack.callback(worker_proxy.stop)
        secrets = {"SUPABASE_URL": gateway.url, "SUPABASE_SECRET_KEYS": json.dumps({"default": keys.secret_key})}
        functions = {
            "generate-report": EdgeFunction("generate-report", {
                **secrets,
                "SUPABASE_JWKS": json.dumps(keys.jwks()),
                "WORKER_URL": worker_proxy.url,
                "WORKER_SECRET": WORKER_SECRET,
                "REPORT_CALLBACK_URL": callback_url,
                "WORKER_TIMEOUT_MS": "5000",
                "WORKER_RETRY_BUDGET_MS": "4000",
                "WORKER_MAX_ATTEMPTS": "4",
                **(function_env or {}),
            }).start(tmp),
            "report-callback": EdgeFunction("report-callback", {**secrets, "CALLBACK_SECRET": CALLBACK_SECRET}).start(tmp),
        }
        for function in functions.values():
            stack.callback(function.stop)
        callback_proxy = FaultProxy(functions["report-callback"].url).start()
        stack.callback(callback_proxy.stop)
        gateway.route_function("generate-report", functions["generate-report"].url)
        gateway.route_function("report-callback", callback_proxy.url)

        store = SupabaseStore.connect(gateway.url, keys.secret_key)
        stack.callback(store.close)
        yield Saas(dsn=dsn, keys=keys, gateway=gateway, worker_url=worker_url, worker_proxy=worker_proxy,
                   callback_proxy=callback_proxy, functions=functions, store=store, worker_log=worker_log)


def _ready(proc: subprocess.Popen, url: str, log: Path) -> bool:
    if proc.poll() is not None:
        raise AssertionError(f"the worker exited: {log.read_text()[-3000:]}")
    try:
        return requests.get(f"{url}/ready", timeout=2).status_code == 200
    except requests.RequestException:
        return False


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(40)
        except subprocess.TimeoutExpired:
            proc.kill()


def ledger_rows(dsn: str, user_id: str) -> list[tuple[str, int, Any]]:
    """(kind, amount, job_id) of a user's ledger, oldest first, straight from PostgreSQL."""
    import psycopg

    with psycopg.connect(dsn) as conn:
        return [(k, a, str(j) if j else None) for k, a, j in conn.execute(
            "SELECT kind, amount, job_id FROM public.token_transactions WHERE user_id = %s ORDER BY created_at, id", (user_id,))]
