"""Recovery: jobs whose process died (kill -9, OOM, a deploy past its grace period) end exactly once.

Every process holding a job renews its lease (`runner.py`). A `Sweeper` in every process looks, at
start-up and then periodically, for queued or running jobs whose lease has expired and fails them
with `JOB_ABANDONED` and a refund. `fail_job(..., only_if_lease_expired=True)` is one atomic,
idempotent state change, so several sweepers racing over the same jobs (several gunicorn workers,
several instances) end each job once: one error row, one refund, one callback.

Abandoned jobs are failed rather than re-run: a job that killed its process (say, a filing that
exhausts memory) would kill the next one too, and the user gets the token back at once.
"""

from __future__ import annotations

import logging
import threading

from database import FailureRecord, Store
from exceptions import JobAbandoned
from observability import job_context

log = logging.getLogger("recovery")


class Sweeper:
    def __init__(self, settings, store: Store, *, metrics=None, on_change=None):
        self.settings = settings
        self.store = store
        self.metrics = metrics
        self.on_change = on_change  # e.g. wake the callback dispatcher
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def sweep_once(self, limit: int = 100) -> int:
        """Fail every job whose lease has expired; return how many this call ended."""
        ended = 0
        for job in self.store.expired_jobs(limit=limit):
            with job_context(job.job_id):
                failure = JobAbandoned(f"the process running the job stopped while it was {job.status.value} ({job.stage.value})")
                outcome = self.store.fail_job(
                    job.job_id,
                    failure=FailureRecord(code=failure.code, message=failure.message, stage=job.stage.value,
                                          details={"lease_owner": job.lease_owner, "attempts": job.attempts}),
                    only_if_lease_expired=True,
                )
                if outcome.changed:
                    ended += 1
                    log.error("abandoned job failed and refunded", extra={"lease_owner": job.lease_owner, "stage": job.stage.value})
                    if self.metrics:
                        self.metrics.jobs_recovered.labels("failed").inc()
                        self.metrics.jobs_finished.labels(outcome.job.status.value).inc()
                        self.metrics.refunds.labels(failure.code).inc()
        if ended and self.on_change:
            self.on_change()
        return ended

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
