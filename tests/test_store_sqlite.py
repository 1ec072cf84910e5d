"""The store contract on the embedded SQLite backend, plus what only SQLite promises."""

import multiprocessing
import uuid

import pytest

from store_sqlite import SQLiteStore
from job import JobStatus
from store_contract import OWNER, StoreContract, report_record, request


@pytest.fixture
def store(tmp_path):
    s = SQLiteStore(str(tmp_path / "store.db"))
    yield s
    s.close()


class TestSQLiteStore(StoreContract):
    pass


def _claim_in_process(path, job_id, queue):
    store = SQLiteStore(path)
    queue.put(store.claim_job(job_id, owner=f"proc-{multiprocessing.current_process().pid}", lease_seconds=30) is not None)


def test_claims_across_processes_have_one_winner(tmp_path):
    path = str(tmp_path / "store.db")
    store = SQLiteStore(path)
    req = request()
    store.create_job(req, lease_owner=None, lease_seconds=30)
    queue = multiprocessing.get_context("spawn").Queue()
    procs = [multiprocessing.get_context("spawn").Process(target=_claim_in_process, args=(path, req.job_id, queue)) for _ in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(30)
    assert sorted(queue.get(timeout=5) for _ in procs) == [False, False, False, True]


def test_state_survives_reopening(tmp_path):
    path = str(tmp_path / "store.db")
    store = SQLiteStore(path)
    req = request()
    store.create_job(req, lease_owner=OWNER, lease_seconds=30)
    store.claim_job(req.job_id, owner=OWNER, lease_seconds=30)
    record = report_record()
    store.complete_job(req.job_id, owner=OWNER, report=record, refund=False, refund_reason=None)
    store.close()
    reopened = SQLiteStore(path)
    assert reopened.get_job(req.job_id).status is JobStatus.COMPLETED
    assert reopened.get_report(record.report_id)["ticker"] == "AAPL"


def test_a_second_refund_row_is_impossible(tmp_path):
    """The unique index, not just the code path, forbids two refunds for one job."""
    import sqlite3

    store = SQLiteStore(str(tmp_path / "store.db"))
    req = request()
    store.create_job(req, lease_owner=OWNER, lease_seconds=30)
    conn = sqlite3.connect(str(tmp_path / "store.db"))
    insert = "INSERT INTO token_transactions (id, user_id, job_id, amount, kind, created_at) VALUES (?, ?, ?, 1, 'refund', 'now')"
    conn.execute(insert, (str(uuid.uuid4()), req.user_id, req.job_id))
    with pytest.raises(sqlite3.IntegrityError):
        conn.execute(insert, (str(uuid.uuid4()), req.user_id, req.job_id))


def test_a_job_the_spend_recorded_is_adopted_by_recovery_when_no_worker_accepted_it(tmp_path):
    """The Edge Function died between the spend and its POST: once its lease lapses, a sweeper runs the job."""
    import sqlite3

    from store_contract import REFUSED, paid_request

    path = str(tmp_path / "store.db")
    store = SQLiteStore(path)
    req = paid_request(store)
    assert store.get_job(req.job_id).lease_owner == "edge-function" and store.expired_jobs() == []
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE report_jobs SET lease_expires_at = '2000-01-01T00:00:00.000000Z' WHERE job_id = ?", (req.job_id,))
    assert [j.job_id for j in store.expired_jobs()] == [req.job_id]
    adopted = store.adopt_job(req.job_id, owner=OWNER, lease_seconds=30)
    assert adopted.accepted and adopted.lease_owner == OWNER
    assert not store.refund_unaccepted_job(req.job_id, failure=REFUSED).changed  # the worker has it now


def test_a_file_written_before_the_ledger_is_upgraded(tmp_path):
    """Found in review of the ledger: CREATE TABLE IF NOT EXISTS adds no column to an existing file."""
    import sqlite3

    path = str(tmp_path / "old.db")
    with sqlite3.connect(path) as conn:
        conn.execute("""CREATE TABLE report_jobs (job_id TEXT PRIMARY KEY, user_id TEXT NOT NULL, ticker TEXT NOT NULL,
            callback_url TEXT, fingerprint TEXT NOT NULL, status TEXT NOT NULL, stage TEXT NOT NULL, progress INTEGER NOT NULL DEFAULT 0,
            error_code TEXT, error_message TEXT, error_log_id TEXT, report_id TEXT, refunded INTEGER NOT NULL DEFAULT 0,
            attempts INTEGER NOT NULL DEFAULT 0, lease_owner TEXT, lease_expires_at TEXT, heartbeat_at TEXT,
            created_at TEXT NOT NULL, updated_at TEXT NOT NULL, started_at TEXT, finished_at TEXT)""")
        conn.execute("""CREATE TABLE token_transactions (id TEXT PRIMARY KEY, user_id TEXT NOT NULL, job_id TEXT, amount INTEGER NOT NULL,
            kind TEXT NOT NULL, reason TEXT, created_at TEXT NOT NULL)""")
        conn.execute("""INSERT INTO report_jobs (job_id, user_id, ticker, fingerprint, status, stage, created_at, updated_at)
            VALUES ('j1', 'u1', 'AAPL', 'fp', 'queued', 'queued', '2026-01-01T00:00:00.000000Z', '2026-01-01T00:00:00.000000Z')""")
    store = SQLiteStore(path)
    job = store.get_job("j1")
    assert job.accepted and not job.awaiting_worker  # recorded before the ledger: accepted when recorded
    assert store.credit_tokens("u1", 2, "pi_1").balance == 2 and store.ledger("u1")[0]["reference"] == "pi_1"


def test_a_store_file_from_before_the_html_column_gains_it(tmp_path):
    """`make run` keeps var/report-worker.db across upgrades: its reports table gets the html column,
    old reports read as before (no page), new ones keep theirs."""
    import sqlite3
    from dataclasses import replace

    import store_sqlite

    path = str(tmp_path / "old.db")
    old_schema = store_sqlite._SCHEMA.replace(",\n    html          TEXT\n);", "\n);", 1)
    assert "html" not in old_schema.split("CREATE TABLE IF NOT EXISTS token_balances")[0]
    conn = sqlite3.connect(path)
    conn.executescript(old_schema)
    conn.execute("INSERT INTO report_jobs (job_id, user_id, ticker, fingerprint, status, stage, created_at, updated_at) "
                 "VALUES ('j1', 'u1', 'AAPL', 'f', 'completed', 'done', 'now', 'now')")
    conn.execute("INSERT INTO reports (id, job_id, user_id, ticker, report, is_valid, created_at) VALUES ('r1', 'j1', 'u1', 'AAPL', '{\"ticker\": \"AAPL\"}', 1, 'now')")
    conn.commit()
    conn.close()

    store = SQLiteStore(path)
    assert store.get_report("r1") == {"ticker": "AAPL"} and store.get_report_html("r1") is None
    req = request()
    store.create_job(req, lease_owner=OWNER, lease_seconds=30)
    store.claim_job(req.job_id, owner=OWNER, lease_seconds=30)
    record = replace(report_record(), html="<p>page</p>")
    store.complete_job(req.job_id, owner=OWNER, report=record, refund=False, refund_reason=None)
    assert store.get_report_html(record.report_id) == "<p>page</p>"
    assert SQLiteStore(path).get_report_html(record.report_id) == "<p>page</p>"  # opening it again changes nothing
