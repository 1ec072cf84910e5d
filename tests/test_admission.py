"""429 means the instance is full (issue 16, item 2).

Found as an operator would: 60 POSTs at once got 23 answers 429 while 11 of the instance's 48 slots
were free, because each gunicorn process admitted against its own queue and connections spread
unevenly. The processes now share one `InstanceQueue`: admission counts the whole instance and any
free thread of any process takes the next job. Checked on the queue itself across forked processes,
and on the real gunicorn.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from conftest import CALLBACK_SECRET, ROOT, USER_AGENT, WORKER_SECRET, wait_for
from edgar_standin import Fault
from runner import InstanceQueue


def in_children(count: int, work) -> list[int]:
    """Run `work(read_fd_unused)` in `count` forked processes at once; their exit codes."""
    pids = []
    for _ in range(count):
        pid = os.fork()
        if pid == 0:  # the child: never return into pytest
            code = 1
            try:
                code = work()
            finally:
                os._exit(code)
        pids.append(pid)
    return [os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in pids]


def test_admission_counts_every_process_of_the_instance():
    shared = InstanceQueue(capacity=7)

    def admit_all():  # each process tries to take every slot; exit code: how many it got
        return sum(1 for _ in range(20) if shared.admit())

    got = in_children(4, admit_all)
    assert sum(got) == 7  # never more than the instance holds, whichever process asks
    assert not shared.admit()


def test_each_waiting_job_is_taken_once_by_any_process(tmp_path):
    shared = InstanceQueue(capacity=40)
    ids = [str(uuid.uuid4()) for _ in range(40)]
    for job_id in ids:
        assert shared.admit()
        shared.put(job_id, reserved=True)
    assert shared.waiting() == 40

    def take_some():
        taken = []
        while (job_id := shared.take(timeout=0.2)) is not None:
            taken.append(job_id)
        (tmp_path / f"{os.getpid()}.txt").write_text("\n".join(taken))
        return 0

    assert in_children(3, take_some) == [0, 0, 0]
    taken = [line for f in tmp_path.glob("*.txt") for line in f.read_text().split()]
    assert sorted(taken) == sorted(ids)  # every job once: none lost, none run twice
    assert shared.waiting() == 0
    # the children died holding 40 running slots: the master gives them back
    assert sum(running for _, running in shared.counts().values()) == 40 and not shared.admit()
    for pid in list(shared.counts()):
        shared.forget(pid)
    assert shared.counts() == {} and shared.admit()


def test_a_reservation_not_used_is_given_back():
    shared = InstanceQueue(capacity=1)
    assert shared.admit() and not shared.admit()
    shared.release()
    assert shared.admit()


# -- the real gunicorn ------------------------------------------------------------------------------


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_429_only_when_the_whole_instance_is_full(edgar, tmp_path):
    edgar.add_fault(Fault(pattern=r"company_tickers", kind="slow", delay=30.0, times=None))  # jobs hold their slots
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("ANTHROPIC_")}, "APP_ENV": "production", "PORT": str(port),
           "WEB_CONCURRENCY": "2", "WEB_THREADS": "8", "MAX_CONCURRENT_JOBS": "2", "MAX_QUEUED_JOBS": "6",
           "WORKER_SECRET": WORKER_SECRET, "CALLBACK_SECRET": CALLBACK_SECRET, "CALLBACK_ALLOWED_HOSTS": "hooks.example.com",
           "SEC_USER_AGENT": USER_AGENT, "SEC_WWW_BASE_URL": edgar.base_url, "SEC_DATA_BASE_URL": edgar.base_url,
           "SQLITE_PATH": str(tmp_path / "store.db"), "EDGAR_CACHE_DIR": str(tmp_path / "cache"),
           "GRACEFUL_TIMEOUT_SECONDS": "2", "LOG_LEVEL": "WARNING"}
    log = open(tmp_path / "gunicorn.log", "w")
    proc = subprocess.Popen([str(Path(sys.executable).parent / "gunicorn"), "-c", "gunicorn.conf.py", "app:app"],
                            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    headers = {"Authorization": f"Bearer {WORKER_SECRET}"}

    def post(_=None) -> int:
        body = {"job_id": str(uuid.uuid4()), "user_id": str(uuid.uuid4()), "ticker": "AAPL"}
        return requests.post(f"{base}/generate-report", headers=headers, json=body, timeout=30).status_code

    def up():
        try:
            return requests.get(f"{base}/ready", timeout=1).status_code == 200
        except requests.RequestException:
            return False

    try:
        wait_for(up, timeout=30, message="gunicorn to answer")
        with ThreadPoolExecutor(max_workers=30) as pool:
            statuses = list(pool.map(post, range(30)))  # 30 at once, one connection each
        capacity = 2 * 2 + 6  # processes x jobs each, plus the instance's waiting jobs
        assert statuses.count(202) == capacity and statuses.count(429) == 30 - capacity, statuses
        later = [post() for _ in range(10)]  # new connections, spread over both processes
        assert later == [429] * 10  # a 429 meant full: no slot was free anywhere
        running = wait_for(lambda: (lambda s: s if s.count("running") == 4 else None)(_statuses(tmp_path / "store.db")),
                           timeout=10, message="both processes to run two jobs each")
        assert running.count("queued") == 6
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def _statuses(db: Path) -> list[str]:
    import sqlite3

    conn = sqlite3.connect(db)
    try:
        return [row[0] for row in conn.execute("SELECT status FROM report_jobs")]
    finally:
        conn.close()
