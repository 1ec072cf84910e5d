"""The token ledger under a randomized fault run through the Edge Function.

At least 500 requests go through generate-report (Deno) on the whole stack of tests/saas_stack.py
(real PostgREST 12 and PostgreSQL, the worker as a gunicorn process), while a proxy before the worker
makes it refuse (429 with or without Retry-After, 503), die before or after taking a job, or answer
late, another proxy before report-callback makes callbacks slow or fail, and clients retry: the
same request again, double clicks, impatient clients that time out and retry, all with the same
Idempotency-Key. Users start with a few tokens, so some requests find none (402).

It prints what happened (requests, answers, spends, refunds, faults, callbacks, final balances)
and asserts the invariants: balance = ledger for every user; one spend per job; no job refunded
twice; every failed or refused job refunded once and no completed one; every 402 recorded nothing;
every job ended and its outcome recorded once for the user.

    python -m bench saas_faults [--requests 500] [--users 40] [--clients 12] [--seed N]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import requests

from bench.common import corpus_dir, table
from saas_stack import saas_stack
from supabase_stack import Answer, Drop, Pass

REAL_TICKERS = ["AAPL", "ADBE", "AMZN", "BA", "GOOGL", "IBM", "JNJ", "MA", "NVDA", "PG", "TSLA", "WMT"]  # the corpus


class Plan:
    """Seeded, thread-safe random faults for one proxy."""

    def __init__(self, rng: random.Random, table: list[tuple[float, object]]):
        self.rng, self.table, self.lock = rng, table, threading.Lock()

    def __call__(self, n: int):
        with self.lock:
            r = self.rng.random()
            for threshold, make in self.table:
                if r < threshold:
                    return make(self.rng) if callable(make) else make
            return Pass()


def worker_faults(rng: random.Random) -> Plan:
    return Plan(rng, [
        (0.58, Pass()),
        (0.66, lambda r: Answer(429, "QUEUE_FULL", retry_after=r.choice([0, 1, 30]))),  # 30 s: past the budget
        (0.73, Answer(503, "SHUTTING_DOWN")),
        (0.80, Drop()),  # dies before taking the job
        (0.87, Pass(lose_answer=True)),  # takes the job, dies before answering
        (0.93, Pass(after=2.0)),  # answers after the function's timeout (1.5 s)
        (1.00, Pass(before=2.0)),  # gets the request after the function gave up
    ])


def callback_faults(rng: random.Random) -> Plan:
    return Plan(rng, [
        (0.60, Pass()),
        (0.80, lambda r: Pass(before=r.uniform(0.5, 3.0))),  # slow receiver
        (0.92, Answer(503, "UNAVAILABLE")),
        (1.00, Drop()),
    ])


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bench_saas_faults")
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--users", type=int, default=40)
    parser.add_argument("--clients", type=int, default=12)
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args(argv)
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    print(f"seed {seed}: {args.requests} requests, {args.users} users, {args.clients} clients at once", flush=True)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="bench-saas-") as tmp, saas_stack(
        Path(tmp), corpus_dir(),
        worker_env={"MAX_CONCURRENT_JOBS": "4", "MAX_QUEUED_JOBS": "20", "CALLBACK_MAX_ATTEMPTS": "25"},
        function_env={"WORKER_TIMEOUT_MS": "1500", "WORKER_RETRY_BUDGET_MS": "2500", "WORKER_MAX_ATTEMPTS": "4"},
    ) as saas:
        run = Run(saas, random.Random(seed), args)
        run.go()
        run.settle()
        ok = run.report(time.monotonic() - started)
    return 0 if ok else 1


class Run:
    def __init__(self, saas, rng: random.Random, args):
        self.saas, self.rng, self.args = saas, rng, args
        self.lock = threading.Lock()
        self.sent = 0
        self.answers: list[tuple[str, int, dict]] = []  # (key, status, body)
        self.behaviours: Counter[str] = Counter()
        self.users = [saas.new_user(tokens=0) for _ in range(args.users)]
        self.purchased: dict[str, int] = {}
        for user_id, _ in self.users:
            tokens = rng.randint(2, 14)
            reference = f"pi_{uuid.uuid4().hex}"
            saas.store.credit_tokens(user_id, tokens, reference)
            assert not saas.store.credit_tokens(user_id, tokens, reference).credited  # a webhook delivered twice
            self.purchased[user_id] = tokens
        saas.worker_proxy.plan = worker_faults(random.Random(rng.random()))
        saas.callback_proxy.plan = callback_faults(random.Random(rng.random()))

    def _post(self, token: str, ticker: str, key: str, timeout: float = 60) -> None:
        with self.lock:
            self.sent += 1
        try:
            response = self.saas.ask(token, ticker, key=key, timeout=timeout)
            status, body = response.status_code, (response.json() if response.content else {})
        except requests.Timeout:
            status, body = 0, {"client": "timed out"}
        with self.lock:
            self.answers.append((key, status, body))

    def scenario(self, _) -> None:
        with self.lock:
            if self.sent >= self.args.requests:
                return
            user_id, token = self.rng.choice(self.users)
            ticker = self.rng.choice(REAL_TICKERS) if self.rng.random() < 0.15 else f"ZZ{self.rng.randrange(10**6):06d}"[:8]
            behaviour = self.rng.choices(["once", "retry", "double click", "impatient"], [55, 20, 15, 10])[0]
            self.behaviours[behaviour] += 1
        key = str(uuid.uuid4())
        if behaviour == "once":
            self._post(token, ticker, key)
        elif behaviour == "retry":
            self._post(token, ticker, key)
            self._post(token, ticker, key)
        elif behaviour == "double click":
            with ThreadPoolExecutor(2) as pair:
                list(pair.map(lambda _: self._post(token, ticker, key), range(2)))
        else:
            self._post(token, ticker, key, timeout=1.0)
            time.sleep(0.5)
            self._post(token, ticker, key)

    def go(self) -> None:
        with ThreadPoolExecutor(self.args.clients) as pool:
            while self.sent < self.args.requests:
                list(pool.map(self.scenario, range(self.args.clients * 4)))
        print(f"{self.sent} requests sent; waiting for every job and callback to end", flush=True)

    def settle(self, timeout: float = 600) -> None:
        deadline = time.monotonic() + timeout
        with psycopg.connect(self.saas.dsn, autocommit=True) as conn:
            while time.monotonic() < deadline:
                live, pending = conn.execute(
                    """SELECT (SELECT count(*) FROM public.report_jobs WHERE status IN ('queued', 'running')),
                              (SELECT count(*) FROM public.callback_deliveries WHERE status = 'pending')"""
                ).fetchone()
                if live == 0 and pending == 0:
                    return
                time.sleep(1)
        print(f"not settled after {timeout} s: {live} jobs live, {pending} callbacks pending", flush=True)

    def report(self, seconds: float) -> bool:
        with psycopg.connect(self.saas.dsn, autocommit=True) as conn:
            jobs = {str(r[0]): r[1:] for r in conn.execute(
                "SELECT job_id, user_id::text, status, refunded, accepted_at IS NOT NULL, error_code, attempts FROM public.report_jobs")}
            ledger = conn.execute("SELECT user_id::text, job_id::text, kind, amount FROM public.token_transactions").fetchall()
            balances = dict(conn.execute("SELECT user_id::text, balance FROM public.token_balances").fetchall())
            mismatches = conn.execute("SELECT public.ledger_mismatches()").fetchone()[0]
            notified = Counter(str(r[0]) for r in conn.execute("SELECT job_id FROM public.report_notifications"))
            deliveries = Counter(r[0] for r in conn.execute("SELECT status FROM public.callback_deliveries"))
            attempts = Counter(r[0] for r in conn.execute("SELECT coalesce(status_code::text, 'error') FROM public.callback_attempts"))

        spends = Counter(j for _, j, k, _ in ledger if k == "spend")
        refunds = Counter(j for _, j, k, _ in ledger if k == "refund")
        by_key = defaultdict(list)
        for key, status, body in self.answers:
            by_key[key].append((status, body))
        answers = Counter(status for _, status, _ in self.answers)
        outcome = Counter()
        for status, refunded, accepted, error_code in ((j[1], j[2], j[3], j[4]) for j in jobs.values()):
            outcome[status if accepted else f"{status} (no worker took it)"] += 1

        checks = {
            "balance = ledger for every user (ledger_mismatches() is empty)": mismatches == [],
            "one spend per job, none without a job": set(spends) == set(jobs) and max(spends.values(), default=1) == 1,
            "no job refunded twice": max(refunds.values(), default=0) <= 1,
            "every failed or refused job refunded once": all(refunds[j] == 1 for j, r in jobs.items() if r[1] in ("failed", "completed_refunded")),
            "no completed job refunded": all(refunds[j] == 0 for j, r in jobs.items() if r[1] == "completed"),
            "every job ended": all(r[1] not in ("queued", "running") for r in jobs.values()),
            "every job ran at most once": all(r[5] <= 1 for r in jobs.values()),
            "a 402 recorded nothing": all(k in jobs or all(s == 402 for s, _ in v) for k, v in by_key.items() if any(s == 402 for s, _ in v)),
            "every 202 is a job a worker took": all(jobs[k][3] for k, v in by_key.items() if any(s == 202 for s, _ in v)),
            "every 'refunded' answer has its refund": all(refunds[k] == 1 for k, v in by_key.items() if any(b.get("refunded") for _, b in v)),
            "each outcome recorded once for its user": all(notified[j] == 1 for j in jobs) and deliveries.get("failed", 0) == 0,
            "final balance = bought - spent + refunded": all(
                balances.get(u, 0) == self.purchased[u] - sum(1 for uu, _, k, _ in ledger if uu == u and k == "spend")
                + sum(a for uu, _, k, a in ledger if uu == u and k == "refund") for u, _ in self.users),
        }

        table(
            ["what", "count"],
            [
                ["requests through generate-report", self.sent],
                *[[f"  answered {s or 'nothing (client timeout)'}", n] for s, n in sorted(answers.items())],
                *[[f"  client behaviour: {b}", n] for b, n in sorted(self.behaviours.items())],
                ["jobs recorded = spends", sum(spends.values())],
                *[[f"  {o}", n] for o, n in sorted(outcome.items())],
                ["refunds", sum(refunds.values())],
                ["worker proxy: requests", self.saas.worker_proxy.count],
                *[[f"  {b}", n] for b, n in sorted(self.saas.worker_proxy.outcomes.items())],
                ["callback proxy: requests", self.saas.callback_proxy.count],
                *[[f"  {b}", n] for b, n in sorted(self.saas.callback_proxy.outcomes.items())],
                ["callback deliveries", sum(deliveries.values())],
                *[[f"  {s}", n] for s, n in sorted(deliveries.items())],
                ["callback attempts", sum(attempts.values())],
                *[[f"  answered {s}", n] for s, n in sorted(attempts.items())],
                ["notifications recorded", sum(notified.values())],
                ["users", len(self.users)],
                ["tokens bought", sum(self.purchased.values())],
                ["tokens spent", sum(spends.values())],
                ["tokens refunded", sum(refunds.values())],
                ["final balances (sum)", sum(balances.get(u, 0) for u, _ in self.users)],
                ["wall time (s)", round(seconds, 1)],
            ],
        )
        rows = []
        for user_id, _ in self.users:
            spent = sum(1 for u, _, k, _ in ledger if u == user_id and k == "spend")
            given = sum(a for u, _, k, a in ledger if u == user_id and k == "refund")
            rows.append([user_id[:8], self.purchased[user_id], spent, given, balances.get(user_id, 0)])
        table(["user", "bought", "spent", "refunded", "final balance"], rows)
        table(["invariant", "holds"], [[name, "yes" if held else "NO"] for name, held in checks.items()])
        return all(checks.values())


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
