"""Recovery: jobs whose process died (kill -9, OOM, a deploy past its grace period) end exactly once.

Every process holding a job renews its lease (`runner.py`). A `Sweeper` in every process looks, at
start-up and then periodically, for queued or running jobs whose lease has expired:

- a job that was **running** is failed with `JOB_ABANDONED` and refunded. It is not re-run: a job
  that killed its process (say, a filing that exhausts memory) would kill the next one too.
- a job still **queued** never started, so nothing of it happened yet: this process adopts it and
  runs it (a deploy's SIGTERM leaves such jobs behind). Only when it has waited longer than three
  job timeouts since it was accepted is it failed (`JOB_QUEUE_TIMEOUT`) and refunded instead,
  because the user has waited long enough. When this process is full, the job is left for the next sweep or another process.

`adopt_job` and `fail_job(..., only_if_lease_expired=True)` are single atomic, idempotent state
changes, so sweepers racing over the same jobs (several gunicorn workers, several instances) end or
adopt each job once: one error row, one refund, one callback.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta, timezone
from typing import Callable

from config import Settings
from database import Store
from exceptions import JobAbandoned, JobQueueTimeout, QueueFull, ShuttingDown
from failure import failure_record
from job import Job, JobStatus
from metrics import Metrics
from observability import job_context
from runner import Runner

log = logging.getLogger("recovery")


class Sweeper:
    def __init__(
        self, settings: Settings, store: Store, *, runner: Runner | None = None, metrics: Metrics | None = None,
        on_change: Callable[[], None] | None = None,
    ):
        self.settings = settings
        self.store = store
        self.runner = runner  # None: this process runs no jobs, so every abandoned job is failed
        self.metrics = metrics
        self.on_change = on_change  # e.g. wake the callback dispatcher
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def max_queue_age(self) -> timedelta:
        return timedelta(seconds=3 * (self.settings.job_timeout_seconds + self.settings.job_timeout_grace_seconds))

    def sweep_once(self, limit: int = 100) -> int:
        """End or adopt every job whose lease has expired; return how many this call handled."""
        handled = 0
        failed = 0
        for job in self.store.expired_jobs(limit=limit):
            with job_context(job.job_id):
                if job.status is JobStatus.QUEUED and self.runner is not None and not self._too_old(job):
                    if self._adopt(job):
                        handled += 1
                    continue
                if self._fail(job):
                    handled += 1
                    failed += 1
        if failed and self.on_change:
            self.on_change()
        return handled

    def _too_old(self, job: Job) -> bool:
        return datetime.now(timezone.utc) - job.created_at > self.max_queue_age

    def _adopt(self, job: Job) -> bool:
        try:
            with self.runner.reserve():
                owner, lease = self.runner.queued_lease()
                if self.store.adopt_job(job.job_id, owner=owner, lease_seconds=lease) is None:
                    return False  # another sweeper was faster
                self.runner.submit(job.job_id)
        except (QueueFull, ShuttingDown):
            return False  # full or stopping: the next sweep, or another process, will take it
        log.warning("job that never started resumed", extra={"previous_owner": job.lease_owner})
        if self.metrics:
            self.metrics.jobs_recovered.labels("resumed").inc()
        return True

    def _fail(self, job: Job) -> bool:
        if job.status is JobStatus.QUEUED and self.runner is not None:  # alive, but no worker took it in time
            error, message = JobQueueTimeout, f"the job waited more than {self.max_queue_age.total_seconds():.0f} s and never started"
        else:
            error, message = JobAbandoned, f"the process running the job stopped while it was {job.status.value} ({job.stage.value})"
        record = failure_record(error(message, details={"lease_owner": job.lease_owner, "attempts": job.attempts}), job.stage)
        outcome = self.store.fail_job(job.job_id, failure=record, only_if_lease_expired=True)
        if not outcome.changed:
            return False
        log.error("abandoned job failed and refunded", extra={"lease_owner": job.lease_owner, "stage": job.stage.value})
        if self.metrics:
            self.metrics.jobs_recovered.labels("failed").inc()
            self.metrics.record_outcome(outcome.job, record.code)
        return True

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="lease-sweeper", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _loop(self) -> None:
        while True:
            try:
                self.sweep_once()
            except Exception:  # a store blip must not end the sweeper
                log.exception("sweep failed")
            if self._stop.wait(self.settings.sweep_interval_seconds):
                return
