"""The real service for benchmarks: gunicorn started with given settings, its processes measured.

`StandIns` runs `bench.standins` in a child process; `Service` runs `gunicorn -c gunicorn.conf.py
app:app` with production settings against them and reads each of its processes from /proc (CPU
seconds, resident and peak memory). Jobs are read from the SQLite store directly, so that watching
them costs the service nothing.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import requests

from bench.common import ROOT

WORKER_SECRET = "bench-worker-secret-0123456789"
CALLBACK_SECRET = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()
TERMINAL = ("completed", "completed_refunded", "failed")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class StandIns:
    """EDGAR (and, with `claude_latency`, Anthropic) stand-ins in a child process."""

    def __init__(self, *, claude_latency: float | None = None, edgar_latency: float = 0.0):
        command = [sys.executable, "-m", "bench.standins", "--edgar-latency", str(edgar_latency)]
        if claude_latency is not None:
            command += ["--claude-latency", str(claude_latency)]
        self.proc = subprocess.Popen(command, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        urls = json.loads(self.proc.stdout.readline())
        self.edgar, self.anthropic = urls["edgar"], urls["anthropic"]

    def stop(self) -> None:
        self.proc.stdin.close()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()

    def __enter__(self) -> "StandIns":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


@dataclass
class ProcessSample:
    cpu_seconds: float
    rss_mb: float
    peak_mb: float


def sample(pid: int) -> ProcessSample | None:
    """CPU seconds (user + system), resident and peak resident memory of one process, or None if gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        status = Path(f"/proc/{pid}/status").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = stat.rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime
    memory = {line.split(":")[0]: int(line.split()[1]) for line in status.splitlines() if line.startswith(("VmRSS", "VmHWM"))}
    return ProcessSample(cpu, memory.get("VmRSS", 0) / 1024, memory.get("VmHWM", 0) / 1024)


class Service:
    """gunicorn serving app:app with production settings; `env` overrides them."""

    def __init__(self, standins: StandIns, *, env: dict[str, str], cache_dir: str, workdir: str | None = None):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="bench-service-"))
        self.db = self.workdir / "store.db"
        full = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "SUPABASE_", "STORE_BACKEND", "REDIS_"))},
            "APP_ENV": "production",
            "PORT": str(self.port),
            "WORKER_SECRET": WORKER_SECRET,
            "CALLBACK_SECRET": CALLBACK_SECRET,
            "CALLBACK_ALLOWED_HOSTS": "hooks.example.com",
            "SEC_USER_AGENT": "Report Worker Benchmark bench@example.com",
            "SEC_WWW_BASE_URL": standins.edgar,
            "SEC_DATA_BASE_URL": standins.edgar,
            "SQLITE_PATH": str(self.db),
            "EDGAR_CACHE_DIR": cache_dir,
            "LOG_LEVEL": "ERROR",
        }
        if standins.anthropic:
            full.update({"ANTHROPIC_API_KEY": "bench", "ANTHROPIC_BASE_URL": standins.anthropic})
        full.update(env)
        self.log = open(self.workdir / "gunicorn.log", "w")
        self.proc = subprocess.Popen(
            [str(Path(sys.executable).parent / "gunicorn"), "-c", "gunicorn.conf.py", "app:app"],
            cwd=ROOT, env=full, stdout=self.log, stderr=subprocess.STDOUT,
        )
        self.headers = {"Authorization": f"Bearer {WORKER_SECRET}"}
        self._wait_ready(int(full.get("WEB_CONCURRENCY", "1")))

    def _wait_ready(self, workers: int, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited: see {self.workdir / 'gunicorn.log'}")
            try:
                if requests.get(f"{self.base}/ready", timeout=1).status_code == 200 and len(self.worker_pids()) >= workers:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise RuntimeError("gunicorn did not become ready")

    def worker_pids(self) -> list[int]:
        out = subprocess.run(["pgrep", "-P", str(self.proc.pid)], capture_output=True, text=True).stdout
        return [int(p) for p in out.split()]

    def pids(self) -> list[int]:
        return [self.proc.pid, *self.worker_pids()]

    def samples(self) -> dict[int, ProcessSample]:
        return {pid: s for pid in self.pids() if (s := sample(pid)) is not None}

    def post(self, ticker: str, session: requests.Session | None = None) -> tuple[str, int, float]:
        """(job_id, HTTP status, seconds to answer) of one POST /generate-report."""
        job_id = str(uuid.uuid4())
        started = time.perf_counter()
        r = (session or requests).post(
            f"{self.base}/generate-report", headers=self.headers, timeout=60,
            json={"job_id": job_id, "user_id": str(uuid.uuid4()), "ticker": ticker},
        )
        return job_id, r.status_code, time.perf_counter() - started

    def post_all(self, tickers: list[str]) -> list[tuple[str, int, float]]:
        """All at once: one thread and one connection per POST, as concurrent Edge Function calls come."""
        with ThreadPoolExecutor(max_workers=len(tickers)) as pool:
            return list(pool.map(self.post, tickers))

    def jobs(self, job_ids: list[str]) -> dict[str, tuple[str, datetime | None]]:
        """job_id -> (status, finished_at), read from the store file."""
        conn = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=10)
        try:
            marks = ",".join("?" * len(job_ids))
            rows = conn.execute(f"SELECT job_id, status, finished_at FROM report_jobs WHERE job_id IN ({marks})", job_ids).fetchall()
        finally:
            conn.close()
        return {j: (s, datetime.fromisoformat(f) if f else None) for j, s, f in rows}

    def wait_done(self, job_ids: list[str], timeout: float = 600, on_tick=None) -> dict[str, tuple[str, datetime | None]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if on_tick:
                on_tick()
            jobs = self.jobs(job_ids)
            if len(jobs) == len(job_ids) and all(s in TERMINAL for s, _ in jobs.values()):
                return jobs
            time.sleep(0.1)
        raise RuntimeError(f"jobs did not finish within {timeout} s")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(90)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()

    def __enter__(self) -> "Service":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
