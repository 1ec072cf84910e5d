"""Test-only: 50 concurrent terminal calls for one job, on any PostgreSQL-backed store.

Shared by the psycopg path and the PostgREST path, so both are held to the same numbers.
"""

from __future__ import annotations

import threading
import time

import psycopg

from job import JobStatus
from store_contract import FAILURE, OWNER, report_record, running

CALLS = 50


def _race(store, calls) -> tuple[list, float]:
    """Start `calls` (callables) at the same instant from as many threads; return results and wall time."""
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)

    def run(n):
        barrier.wait()
        try:
            results[n] = calls[n]()
        except Exception as exc:  # surfaced by the assertions below
            results[n] = exc

    threads = [threading.Thread(target=run, args=(n,)) for n in range(len(calls))]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results, time.perf_counter() - started


def row_counts(dsn: str, job_id: str) -> dict[str, int]:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            """SELECT (SELECT count(*) FROM public.reports WHERE job_id = %(j)s),
                      (SELECT count(*) FROM public.token_transactions WHERE job_id = %(j)s AND kind = 'refund'),
                      (SELECT count(*) FROM public.error_logs WHERE job_id = %(j)s),
                      (SELECT count(*) FROM public.callback_deliveries WHERE job_id = %(j)s)""",
            {"j": job_id},
        ).fetchone()
    return dict(zip(("reports", "refunds", "error_logs", "callbacks"), row))


def _running(store):
    return running(store)  # paid for: one token bought and spent, so a refund has something to give back


def assert_complete_race(store, dsn: str, *, label: str) -> None:
    """50 complete_job calls (each with its own report, asking for a refund): one report, one refund."""
    req = _running(store)
    calls = [
        (lambda: store.complete_job(req.job_id, owner=OWNER, report=report_record(), refund=True, refund_reason="race"))
        for _ in range(CALLS)
    ]
    results, elapsed = _race(store, calls)
    print(f"\n[{label}] {CALLS} concurrent complete_job calls: {elapsed * 1000:.0f} ms")
    assert not [r for r in results if isinstance(r, Exception)], results
    winners = [r for r in results if r.changed]
    assert len(winners) == 1
    job = store.get_job(req.job_id)
    assert job.status is JobStatus.COMPLETED_REFUNDED and job.report_id == winners[0].job.report_id
    assert row_counts(dsn, req.job_id) == {"reports": 1, "refunds": 1, "error_logs": 0, "callbacks": 1}
    assert store.token_balance(req.user_id) == 1 and store.ledger_mismatches() == []


def assert_mixed_race(store, dsn: str, *, label: str, rounds: int = 3) -> None:
    """25 complete_job + 25 fail_job calls per round: one winner; at most one report and one refund."""
    for round_ in range(rounds):
        req = _running(store)
        calls = [
            (lambda: store.fail_job(req.job_id, failure=FAILURE))
            if n % 2
            else (lambda n=n: store.complete_job(req.job_id, owner=OWNER, report=report_record(), refund=n % 4 == 0, refund_reason="race"))
            for n in range(CALLS)
        ]
        results, elapsed = _race(store, calls)
        print(f"[{label}] round {round_ + 1}: {CALLS} concurrent complete_job/fail_job calls: {elapsed * 1000:.0f} ms")
        assert not [r for r in results if isinstance(r, Exception)], results
        winners = [r for r in results if r.changed]
        assert len(winners) == 1
        job = store.get_job(req.job_id)
        counts = row_counts(dsn, req.job_id)
        assert counts["reports"] <= 1 and counts["refunds"] <= 1 and counts["callbacks"] == 1
        if job.status is JobStatus.FAILED:
            assert counts == {"reports": 0, "refunds": 1, "error_logs": 1, "callbacks": 1}
        elif job.status is JobStatus.COMPLETED_REFUNDED:
            assert counts == {"reports": 1, "refunds": 1, "error_logs": 0, "callbacks": 1}
        else:
            assert job.status is JobStatus.COMPLETED and counts == {"reports": 1, "refunds": 0, "error_logs": 0, "callbacks": 1}
        assert store.token_balance(req.user_id) == counts["refunds"] and store.ledger_mismatches() == []
