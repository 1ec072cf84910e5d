"""Job runners: who executes `worker.process_job`, and when.

Both runners offer the same small interface to the API: `reserve()` (a slot, or `QueueFull`),
`submit(job_id)`, `queued_lease()`, `counts()`, `accepting`, `stop_accepting()`, `shutdown()`.

`RQRunner` (QUEUE_BACKEND=rq) enqueues job ids in Redis for `rq worker` processes.

`ThreadPoolRunner` (QUEUE_BACKEND=thread, the default) is a bounded in-process pool:
MAX_CONCURRENT_JOBS run, MAX_QUEUED_JOBS wait, and a full pool refuses new work (the API answers
429) before anything is recorded. One background thread renews the lease of every job this
process holds (queued or running) and enforces JOB_TIMEOUT_SECONDS: a job past its deadline is
asked to stop, and one that has not stopped after a grace period is failed and refunded by the
watchdog itself, so a stuck thread can never keep a user's token.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable, Iterator

import defaults
from database import FailureRecord, Store
from exceptions import JobTimeout, LeaseLost, QueueFull, QueueUnavailable, ShuttingDown
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

    def claimed(self) -> None:
        """The job is ours from now on. A lease loss noticed before the claim committed (a heartbeat
        for a job still held by its queued lease) is stale and must not stop it."""
        if self.stop_reason == "lease_lost" and not self.abandoned:
            self.stop_reason = None
            self._stop.clear()

    def check(self) -> None:
        """Raise if the job must stop; called between stages and inside long loops."""
        if self.remaining() <= 0:
            self.stop("timeout")
        if self._stop.is_set():
            if self.stop_reason == "lease_lost":
                raise LeaseLost()
            raise JobTimeout(f"the job did not finish within {self.timeout_seconds:.0f} s")


Execute = Callable[[str, JobControl], None]


class JobWatch:
    """Tends the jobs this process holds: renews leases, enforces the timeout, fails stuck jobs.

    Shared by both runners: the thread pool tends all its jobs from one thread; an RQ work horse
    tends its one job through a `LeaseKeeper`.
    """

    def __init__(self, settings, store: Store, owner: str, metrics=None, on_abandoned: Callable[[str], None] | None = None):
        self.settings = settings
        self.store = store
        self.owner = owner
        self.metrics = metrics
        self.on_abandoned = on_abandoned  # the runner frees the stuck job's slot

    def tend(self, job_id: str, control: JobControl | None, *, heartbeat: bool, running: Callable[[], bool]) -> None:
        """One look at one job. `control` is None while the job waits; `running()` says if it still runs here."""
        with job_context(job_id):
            if control is not None and control.remaining() <= -self.settings.job_timeout_grace_seconds and not control.abandoned:
                self._fail_stuck_job(job_id, control)
            elif control is not None and control.remaining() <= 0:
                control.stop("timeout")
            if heartbeat and not self.store.heartbeat(job_id, owner=self.owner, lease_seconds=self.settings.job_lease_seconds):
                self._lease_lost(job_id, control, running)

    def _lease_lost(self, job_id: str, control: JobControl | None, running: Callable[[], bool]) -> None:
        """The store says this process no longer holds the job: finished a moment ago, or taken over."""
        if control is None or not running() or control.stop_reason is not None:
            return
        current = self.store.get_job(job_id)
        if current is not None and not current.status.is_terminal and current.lease_owner == self.owner:
            return  # the heartbeat ran just before this process's claim committed: the job is ours
        control.stop("lease_lost")  # harmless if the job has just finished: it checks no more
        if current is not None and not current.status.is_terminal:
            log.warning("lease lost to another worker; stopping the job", extra={"lease_owner": current.lease_owner})

    def _fail_stuck_job(self, job_id: str, control: JobControl) -> None:
        failure = JobTimeout(f"the job did not finish within {self.settings.job_timeout_seconds:.0f} s")
        current = self.store.get_job(job_id)
        record = FailureRecord(code=failure.code, message=failure.message, stage=current.stage.value if current else None)
        outcome = self.store.fail_job(job_id, failure=record, owner=self.owner)
        control.abandoned = True
        control.stop("lease_lost")  # whatever the thread does next, it no longer owns the job
        if self.on_abandoned is not None:
            self.on_abandoned(job_id)
        if outcome.changed:
            log.error("job timed out; failed and refunded by the watchdog")
            if self.metrics is not None:
                self.metrics.jobs_finished.labels(outcome.job.status.value).inc()
                self.metrics.refunds.labels(failure.code).inc()


class ThreadPoolRunner:
    """MAX_CONCURRENT_JOBS worker threads take job ids from an in-process queue.

    A thread cannot be killed: when the watchdog gives up on a stuck job, that thread is retired (it
    exits whenever its job returns) and a fresh worker takes its place, so the jobs queued behind a
    stuck one still run. Retired threads still alive are counted: when as many are stuck as there
    are slots, `/ready` reports the process unhealthy.
    """

    def __init__(self, settings, store: Store, owner: str, execute: Execute, metrics=None):
        self.settings = settings
        self.store = store
        self.owner = owner
        self.execute = execute
        self.metrics = metrics
        self.watch = JobWatch(settings, store, owner, metrics, on_abandoned=self._replace_worker)
        self.capacity = settings.max_concurrent_jobs + settings.max_queued_jobs
        self._queue: queue.Queue[str] = queue.Queue()
        self._lock = threading.Lock()
        self._held: dict[str, JobControl | None] = {}  # job_id -> control once running, None while queued
        self._running_in: dict[str, threading.Thread] = {}  # job_id -> the worker thread running it
        self._workers: set[threading.Thread] = set()
        self._retired: set[threading.Thread] = set()  # stuck on an abandoned job; they exit when it returns
        self._reserved = 0
        self._stopping = threading.Event()
        self._accepting = True
        self._maintenance: threading.Thread | None = None
        self._last_heartbeat = 0.0

    def queued_lease(self) -> tuple[str, float]:
        """(owner, seconds) of a job's lease while it waits: this process holds and renews it."""
        return self.owner, self.settings.job_lease_seconds

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
        self.report_depth()
        self._queue.put(job_id)

    def shared_metrics(self) -> dict:
        """Totals of processes other than the web's (none: jobs run here)."""
        return {}

    def counts(self) -> tuple[int, int]:
        with self._lock:
            running = sum(1 for c in self._held.values() if c is not None)
            return running, len(self._held) - running

    def healthy(self) -> bool:
        """False when every slot's thread is stuck on an abandoned job (only a restart frees them)."""
        with self._lock:
            stuck = sum(1 for t in self._retired if t.is_alive())
        return stuck < self.settings.max_concurrent_jobs

    # -- workers -----------------------------------------------------------------------------------

    def start(self) -> None:
        with self._lock:
            if self._maintenance is not None:
                return
            for _ in range(self.settings.max_concurrent_jobs):
                self._spawn_worker()
        self._maintenance = threading.Thread(target=self._maintain, name="job-heartbeat", daemon=True)
        self._maintenance.start()

    def _spawn_worker(self) -> None:
        """(Call with the lock held.)"""
        thread = threading.Thread(target=self._work, name=f"job-{len(self._workers) + len(self._retired)}", daemon=True)
        self._workers.add(thread)
        thread.start()

    def _work(self) -> None:
        me = threading.current_thread()
        while not self._stopping.is_set():
            try:
                job_id = self._queue.get(timeout=0.25)
            except queue.Empty:
                continue
            with self._lock:
                wanted = job_id in self._held and self._accepting_work()
            if wanted:
                self._run(job_id, me)
            with self._lock:
                if me in self._retired:  # a fresh worker took this one's place while it was stuck
                    self._retired.discard(me)
                    return

    def _accepting_work(self) -> bool:
        """(Lock held.) Once shutdown begins, waiting jobs are left to recovery, not started."""
        return not self._stopping.is_set() and self._accepting

    def _run(self, job_id: str, thread: threading.Thread) -> None:
        control = JobControl(job_id=job_id, timeout_seconds=self.settings.job_timeout_seconds)
        with self._lock:
            self._held[job_id] = control
            self._running_in[job_id] = thread
        self.report_depth()
        try:
            self.execute(job_id, control)
        except Exception:  # execute handles its own failures; this is the last line of defence
            with job_context(job_id):
                log.exception("job runner caught an unhandled error")
        finally:
            with self._lock:
                if self._running_in.get(job_id) is thread:
                    self._held.pop(job_id, None)
                    self._running_in.pop(job_id, None)
            self.report_depth()

    def _replace_worker(self, job_id: str) -> None:
        """The watchdog failed `job_id` while its thread is stuck: free its slot for the queued jobs."""
        with self._lock:
            thread = self._running_in.pop(job_id, None)
            self._held.pop(job_id, None)
            if thread is None or thread in self._retired:
                return
            self._workers.discard(thread)
            self._retired.add(thread)
            if not self._stopping.is_set():
                self._spawn_worker()
        log.warning("a stuck job thread was retired and replaced", extra={"job_id": job_id})
        self.report_depth()

    def report_depth(self) -> None:
        if self.metrics is not None:
            self.metrics.set_queue_depth(*self.counts())

    # -- leases and timeouts -----------------------------------------------------------------------

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
        due = now - self._last_heartbeat >= self.settings.heartbeat_interval_seconds
        with self._lock:
            held = list(self._held.items())
        for job_id, control in held:
            self.watch.tend(job_id, control, heartbeat=due, running=lambda j=job_id: self._is_running(j))
        if due:
            self._last_heartbeat = now

    def _is_running(self, job_id: str) -> bool:
        with self._lock:
            return self._held.get(job_id) is not None

    # -- shutdown ----------------------------------------------------------------------------------

    @property
    def accepting(self) -> bool:
        return self._accepting

    def stop_accepting(self) -> None:
        with self._lock:
            self._accepting = False

    def shutdown(self, wait: bool = True, timeout: float | None = None) -> None:
        """Stop taking jobs and drop the waiting ones (their lease lapses and recovery adopts them
        elsewhere); with `wait`, give running jobs up to `timeout` seconds to finish."""
        self.stop_accepting()
        with self._lock:
            for job_id in [j for j, control in self._held.items() if control is None]:
                del self._held[job_id]
        deadline = time.monotonic() + (timeout if timeout is not None else 0)
        if wait:
            while self.counts()[0] and (timeout is None or time.monotonic() < deadline):
                time.sleep(0.05)
        self._stopping.set()


class LeaseKeeper:
    """Tends one job from a background thread while it runs in this thread (an RQ work horse)."""

    def __init__(self, watch: JobWatch, job_id: str, control: JobControl):
        self.watch = watch
        self.job_id = job_id
        self.control = control
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="lease-keeper", daemon=True)

    def __enter__(self) -> "LeaseKeeper":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._done.set()
        self._thread.join(5)

    def _loop(self) -> None:
        settings = self.watch.settings
        last = time.monotonic()
        while not self._done.wait(min(settings.heartbeat_interval_seconds, 1.0)):
            due = time.monotonic() - last >= settings.heartbeat_interval_seconds
            try:
                self.watch.tend(self.job_id, self.control, heartbeat=due, running=lambda: not self._done.is_set())
            except Exception:
                log.exception("lease keeping failed")
            if due:
                last = time.monotonic()


RQ_QUEUE = "reports"


class RQRunner:
    """QUEUE_BACKEND=rq: the web process records a job and enqueues its id in Redis; any number of
    `rq worker reports` processes, on any machines, run `worker.run_queued_job`.

    A job waiting in Redis has a long lease held by no process (`rq:reports`, three job timeouts):
    if Redis loses it, recovery fails and refunds it once that lease lapses, instead of leaving it
    queued forever. The work horse that runs it takes the lease over and renews it.
    """

    def __init__(self, settings, store: Store, metrics=None, connection=None):
        from redis import Redis
        from rq import Queue

        self.settings = settings
        self.store = store
        self.metrics = metrics
        self.redis = connection or Redis.from_url(settings.redis_url)
        self.queue = Queue(RQ_QUEUE, connection=self.redis)
        self._accepting = True

    def queued_lease(self) -> tuple[str, float]:
        return f"rq:{RQ_QUEUE}", 3 * (self.settings.job_timeout_seconds + self.settings.job_timeout_grace_seconds)

    @contextmanager
    def reserve(self) -> Iterator[None]:
        from redis.exceptions import RedisError

        if not self._accepting:
            raise ShuttingDown()
        try:
            waiting = self.queue.count
        except RedisError as exc:
            raise QueueUnavailable(f"Redis did not answer ({type(exc).__name__})") from None
        if waiting >= self.settings.max_queued_jobs:
            raise QueueFull(retry_after=defaults.QUEUE_FULL_RETRY_AFTER_SECONDS)
        yield

    def submit(self, job_id: str) -> None:
        """Raises `QueueUnavailable` when Redis does not take the job."""
        from redis.exceptions import RedisError
        from rq.exceptions import DuplicateJobError

        try:
            self.queue.enqueue(
                "worker.run_queued_job",
                job_id,
                job_id=job_id,
                unique=True,  # a second enqueue of one job id would overwrite the first (rq's default)
                job_timeout=int(self.settings.job_timeout_seconds + self.settings.job_timeout_grace_seconds + 60),
                result_ttl=3600,
                failure_ttl=7 * 86400,
                description=f"report job {job_id}",
            )
        except DuplicateJobError:
            log.info("job already enqueued", extra={"job_id": job_id})
        except RedisError as exc:
            raise QueueUnavailable(f"Redis refused the job ({type(exc).__name__})") from None
        try:
            self.report_depth()
        except RedisError:
            pass  # the job is queued; only the gauge misses this update

    def shared_metrics(self) -> dict:
        """The RQ work horses' counters and histograms, totalled in Redis (`Metrics.add_to_shared`)."""
        from redis.exceptions import RedisError

        from metrics import SHARED_KEY

        try:
            return {k.decode(): v.decode() for k, v in self.redis.hgetall(SHARED_KEY).items()}
        except RedisError:
            log.warning("the work horses' metrics could not be read from Redis")
            return {}

    def counts(self) -> tuple[int, int]:
        from rq.registry import StartedJobRegistry

        return StartedJobRegistry(queue=self.queue).count, self.queue.count

    def report_depth(self) -> None:
        if self.metrics is not None:
            self.metrics.set_queue_depth(*self.counts())

    def healthy(self) -> bool:
        return True  # jobs run in the rq worker processes, not here

    def start(self) -> None:
        """Nothing runs here: jobs run in `rq worker` processes."""

    @property
    def accepting(self) -> bool:
        return self._accepting

    def stop_accepting(self) -> None:
        self._accepting = False

    def shutdown(self, wait: bool = True, timeout: float | None = None) -> None:
        self.stop_accepting()
