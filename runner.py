"""Job runners: who executes `worker.process_job`, and when.

`ThreadPoolRunner` (QUEUE_BACKEND=thread, the default) is a bounded in-process pool:
MAX_CONCURRENT_JOBS run, MAX_QUEUED_JOBS wait, and a full pool refuses new work (the API answers
429) before anything is recorded. One background thread renews the lease of every job this
process holds (queued or running) and enforces JOB_TIMEOUT_SECONDS: a job past its deadline is
asked to stop, and one that has not stopped after a grace period is failed and refunded by the
watchdog itself, so a stuck thread can never keep a user's token.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable, Iterator

import defaults
from database import FailureRecord, Store
from exceptions import JobTimeout, LeaseLost, QueueFull, ShuttingDown
from observability import job_context

log = logging.getLogger("runner")


@dataclass
class JobControl:
    """Shared between a running job and its runner: the deadline and the stop signal."""

    job_id: str
    timeout_seconds: float
    started: float = field(default_factory=time.monotonic)
    stop_reason: str | None = None  # "timeout" | "lease_lost"
    abandoned: bool = False  # the watchdog has failed the job; the thread's results no longer count
    _stop: threading.Event = field(default_factory=threading.Event)

    @property
    def deadline(self) -> float:
        return self.started + self.timeout_seconds

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    def stop(self, reason: str) -> None:
        self.stop_reason = self.stop_reason or reason
        self._stop.set()

    def check(self) -> None:
        """Raise if the job must stop; called between stages and inside long loops."""
        if self.remaining() <= 0:
            self.stop("timeout")
        if self._stop.is_set():
            if self.stop_reason == "lease_lost":
                raise LeaseLost()
            raise JobTimeout(f"the job did not finish within {self.timeout_seconds:.0f} s")


Execute = Callable[[str, JobControl], None]


class ThreadPoolRunner:
    def __init__(self, settings, store: Store, owner: str, execute: Execute, metrics=None):
        self.settings = settings
        self.store = store
        self.owner = owner
        self.execute = execute
        self.metrics = metrics
        self.capacity = settings.max_concurrent_jobs + settings.max_queued_jobs
        self._pool = ThreadPoolExecutor(max_workers=settings.max_concurrent_jobs, thread_name_prefix="job")
        self._lock = threading.Lock()
        self._held: dict[str, JobControl | None] = {}  # job_id -> control once running, None while queued
        self._reserved = 0
        self._stopping = threading.Event()
        self._accepting = True
        self._maintenance: threading.Thread | None = None
        self._last_heartbeat = 0.0

    # -- admission ---------------------------------------------------------------------------------

    @contextmanager
    def reserve(self) -> Iterator[None]:
        """Hold one slot while the job is recorded; raises `QueueFull` when every slot is taken."""
        with self._lock:
            if not self._accepting:
                raise ShuttingDown()
            if len(self._held) + self._reserved >= self.capacity:
                raise QueueFull(retry_after=defaults.QUEUE_FULL_RETRY_AFTER_SECONDS)
            self._reserved += 1
        try:
            yield
        finally:
            with self._lock:
                self._reserved -= 1

    def submit(self, job_id: str) -> None:
        """Queue a recorded job (call inside `reserve()`, which guarantees the slot)."""
        with self._lock:
            if job_id in self._held:
                return
            self._held[job_id] = None
        self._report_depth()
        self._pool.submit(self._run, job_id)

    def counts(self) -> tuple[int, int]:
        with self._lock:
            running = sum(1 for c in self._held.values() if c is not None)
            return running, len(self._held) - running

    def _run(self, job_id: str) -> None:
        control = JobControl(job_id=job_id, timeout_seconds=self.settings.job_timeout_seconds)
        with self._lock:
            self._held[job_id] = control
        self._report_depth()
        try:
            self.execute(job_id, control)
        except Exception:  # execute handles its own failures; this is the last line of defence
            with job_context(job_id):
                log.exception("job runner caught an unhandled error")
        finally:
            with self._lock:
                self._held.pop(job_id, None)
            self._report_depth()

    def _report_depth(self) -> None:
        if self.metrics is not None:
            running, queued = self.counts()
            self.metrics.queue_depth.labels("running").set(running)
            self.metrics.queue_depth.labels("queued").set(queued)

    # -- leases and timeouts -----------------------------------------------------------------------

    def start(self) -> None:
        if self._maintenance is None:
            self._maintenance = threading.Thread(target=self._maintain, name="job-heartbeat", daemon=True)
            self._maintenance.start()

    def _maintain(self) -> None:
        while not self._stopping.wait(self._tick()):
            try:
                self.maintain_once()
            except Exception:
                log.exception("heartbeat pass failed")

    def _tick(self) -> float:
        return min(self.settings.heartbeat_interval_seconds, 1.0)

    def maintain_once(self) -> None:
        now = time.monotonic()
        due_heartbeat = now - self._last_heartbeat >= self.settings.heartbeat_interval_seconds
        with self._lock:
            held = list(self._held.items())
        for job_id, control in held:
            with job_context(job_id):
                if control is not None and control.remaining() <= -self.settings.job_timeout_grace_seconds and not control.abandoned:
                    self._fail_stuck_job(job_id, control)
                elif control is not None and control.remaining() <= 0:
                    control.stop("timeout")
                if due_heartbeat and not self.store.heartbeat(job_id, owner=self.owner, lease_seconds=self.settings.job_lease_seconds):
                    self._lease_lost(job_id, control)
        if due_heartbeat:
            self._last_heartbeat = now

    def _lease_lost(self, job_id: str, control: JobControl | None) -> None:
        """The store says this process no longer holds the job: finished a moment ago, or taken over."""
        with self._lock:
            still_running = self._held.get(job_id) is not None
        if control is None or not still_running or control.stop_reason is not None:
            return
        control.stop("lease_lost")  # harmless if the job has just finished: it checks no more
        current = self.store.get_job(job_id)
        if current is not None and not current.status.is_terminal:
            log.warning("lease lost to another worker; stopping the job", extra={"lease_owner": current.lease_owner})

    def _fail_stuck_job(self, job_id: str, control: JobControl) -> None:
        failure = JobTimeout(f"the job did not finish within {self.settings.job_timeout_seconds:.0f} s")
        current = self.store.get_job(job_id)
        record = FailureRecord(code=failure.code, message=failure.message, stage=current.stage.value if current else None)
        outcome = self.store.fail_job(job_id, failure=record, owner=self.owner)
        control.abandoned = True
        control.stop("lease_lost")  # whatever the thread does next, it no longer owns the job
        if outcome.changed:
            log.error("job timed out; failed and refunded by the watchdog")
            if self.metrics is not None:
                self.metrics.jobs_finished.labels(outcome.job.status.value).inc()
                self.metrics.refunds.labels(failure.code).inc()

    # -- shutdown ----------------------------------------------------------------------------------

    @property
    def accepting(self) -> bool:
        return self._accepting

    def stop_accepting(self) -> None:
        with self._lock:
            self._accepting = False

    def shutdown(self, wait: bool = True, timeout: float | None = None) -> None:
        self.stop_accepting()
        deadline = time.monotonic() + (timeout if timeout is not None else 0)
        if wait:
            while self.counts() != (0, 0) and (timeout is None or time.monotonic() < deadline):
                time.sleep(0.05)
        self._stopping.set()
        self._pool.shutdown(wait=False, cancel_futures=True)
