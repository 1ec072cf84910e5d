"""Job runners: who executes `worker.process_job`, and when.

Both runners implement `Runner`, the small interface the API, the sweeper and `worker.Services`
use: `reserve()` (a slot, or `QueueFull`), `submit(job_id)`, `queued_lease()`, `counts()`,
`running_here()`, `accepting`, `stop_accepting()`, `shutdown()`; the wiring never asks which one it has.

`RQRunner` (QUEUE_BACKEND=rq) enqueues job ids in Redis for `rq worker` processes.

`ThreadPoolRunner` (QUEUE_BACKEND=thread, the default) runs jobs in MAX_CONCURRENT_JOBS threads of
each web process. Under gunicorn the processes of one instance share one `InstanceQueue`: any free
thread of any process takes the next waiting job, and admission counts the whole instance, so a POST
answered 429 means the instance is full, not that its connection landed on a busy process. Outside
gunicorn (tests, the CLI) a `LocalQueue` does the same for one process. One background thread per
process renews the lease of every job it holds (queued or running) and enforces JOB_TIMEOUT_SECONDS:
a job past its deadline is asked to stop, and one that has not stopped after a grace period is failed
and refunded by the watchdog itself, so a stuck thread can never keep a user's token.
"""

from __future__ import annotations

import fcntl
import logging
import os
import queue
import select
import struct
import termios
import threading
import time
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Iterator, Protocol

from config import Settings
from database import Store
from exceptions import JobTimeout, LeaseLost, QueueFull, QueueUnavailable, ShuttingDown
from failure import failure_record
from observability import job_context

if TYPE_CHECKING:  # gunicorn.conf.py imports this module in the master before it sets PROMETHEUS_MULTIPROC_DIR,
    from metrics import Metrics  # which prometheus_client reads once, when first imported

log = logging.getLogger("runner")


class Runner(Protocol):
    """Who runs the jobs this process accepts: a thread pool here (`ThreadPoolRunner`) or RQ work
    horses elsewhere (`RQRunner`). The wiring (app, sweeper, `Services`) sees only this."""

    @property
    def accepting(self) -> bool:
        """False once the process is stopping: new jobs are refused (`ShuttingDown`)."""

    def reserve(self) -> AbstractContextManager[None]:
        """Hold a slot while a job is recorded; raises `QueueFull`, `QueueUnavailable` or `ShuttingDown`."""

    def submit(self, job_id: str) -> None:
        """Queue a recorded job (inside `reserve()`)."""

    def queued_lease(self) -> tuple[str, float]:
        """(owner, seconds) of a job's lease while it waits to run."""

    def counts(self) -> tuple[int, int]:
        """(running, queued) jobs, as the queue-depth gauge shows them."""

    def running_here(self) -> int:
        """Jobs running in this process: the store must stay open under them."""

    def healthy(self) -> bool:
        """False when this process can run no more jobs until it restarts (`/ready` says so)."""

    def report_depth(self) -> None:
        """Bring the queue-depth gauge up to date."""

    def shared_metrics(self) -> dict:
        """Totals of processes whose metrics no scrape reaches (the RQ work horses)."""

    def start(self) -> None: ...

    def stop_accepting(self) -> None: ...

    def shutdown(self, wait: bool = True, timeout: float | None = None) -> None:
        """Stop taking jobs; with `wait`, give running ones up to `timeout` seconds."""


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
            raise _timed_out(self.timeout_seconds)


def _timed_out(seconds: float) -> JobTimeout:
    return JobTimeout(f"the job did not finish within {seconds:.0f} s")


Execute = Callable[[str, JobControl], None]


class JobWatch:
    """Tends the jobs this process holds: renews leases, enforces the timeout, fails stuck jobs.

    Shared by both runners: the thread pool tends all its jobs from one thread; an RQ work horse
    tends its one job through a `LeaseKeeper`.
    """

    def __init__(
        self, settings: Settings, store: Store, owner: str, metrics: Metrics | None = None,
        on_abandoned: Callable[[str], None] | None = None,
    ):
        self.settings = settings
        self.store = store
        self.owner = owner
        self.metrics = metrics
        self.on_abandoned = on_abandoned  # the runner frees the stuck job's slot

    def tend(self, job_id: str, control: JobControl | None, *, heartbeat: bool, running: Callable[[], bool]) -> bool:
        """One look at one job. `control` is None while the job waits; `running()` says if it still runs here.
        False when the store says this process no longer holds the job (e.g. another process took it)."""
        with job_context(job_id):
            if control is not None and control.remaining() <= -self.settings.job_timeout_grace_seconds and not control.abandoned:
                self._fail_stuck_job(job_id, control)
            elif control is not None and control.remaining() <= 0:
                control.stop("timeout")
            if heartbeat and not self.store.heartbeat(job_id, owner=self.owner, lease_seconds=self.settings.job_lease_seconds):
                self._lease_lost(job_id, control, running)
                return False
            return True

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
        current = self.store.get_job(job_id)
        record = failure_record(
            _timed_out(self.settings.job_timeout_seconds),
            current.stage if current else None,
        )
        outcome = self.store.fail_job(job_id, failure=record, owner=self.owner)
        control.abandoned = True
        control.stop("lease_lost")  # whatever the thread does next, it no longer owns the job
        if self.on_abandoned is not None:
            self.on_abandoned(job_id)
        if outcome.changed:
            log.error("job timed out; failed and refunded by the watchdog")
            if self.metrics is not None:
                self.metrics.record_outcome(outcome.job, record.code)


class LocalQueue:
    """The waiting jobs and the slot count of one process: the queue outside gunicorn (tests, the CLI).

    Slots are counted in three states: reserved (a POST is recording the job), queued (waiting for a
    thread) and running. `admit()` refuses once they reach `capacity`.
    """

    def __init__(self, capacity: int):
        self.capacity = capacity
        self._waiting: queue.Queue[str] = queue.Queue()
        self._lock = threading.Lock()
        self._reserved = 0
        self._running = 0

    def admit(self) -> bool:
        """Reserve a slot for a job about to be recorded; False when every slot is taken."""
        with self._lock:
            if self._reserved + self._waiting.qsize() + self._running >= self.capacity:
                return False
            self._reserved += 1
            return True

    def release(self) -> None:
        """Give back a reservation that did not become a job (a duplicate, a store error)."""
        with self._lock:
            self._reserved -= 1

    def put(self, job_id: str, *, reserved: bool) -> None:
        """Queue a recorded job, in the slot its reservation (if any) held."""
        with self._lock:
            self._waiting.put(job_id)
            if reserved:
                self._reserved -= 1

    def hand_back(self, job_id: str) -> None:
        """A job taken but not started (the process is stopping) waits again."""
        with self._lock:
            self._waiting.put(job_id)
            self._running -= 1

    def take(self, timeout: float) -> str | None:
        """The next waiting job, now counted as running here; None when none came within `timeout`."""
        try:
            job_id = self._waiting.get(timeout=timeout)
        except queue.Empty:
            return None
        with self._lock:
            self._running += 1
        return job_id

    def finished(self) -> None:
        with self._lock:
            self._running -= 1


class InstanceQueue:
    """One queue of waiting jobs, and one slot count, for all the worker processes of a gunicorn instance.

    gunicorn.conf.py creates it in the master before the workers are forked; each worker joins it
    (`join`) before building its app. Waiting jobs are 36-byte job ids in a pipe: any thread of any
    process reads the next one (a pipe write of up to 4 KiB is atomic, so each read gets one whole
    id). Reserved and running jobs are counted per process in a small shared file (memfd), changed
    under a POSIX record lock, which the kernel releases if a process dies holding it; the master
    clears a dead worker's counts (`forget`). Nothing here survives the instance: jobs waiting when it
    stops keep their lease in the store and are adopted by a sweeper (recovery.py).
    """

    current: "InstanceQueue | None" = None  # the queue this process joined, if any
    SLOTS = 256  # processes an instance may have had at once (WEB_CONCURRENCY is at most 64)
    RECORD = struct.Struct("qqq")  # pid, reserved, running
    ID_BYTES = 36  # a job id: a canonical UUID string

    def __init__(self, capacity: int):
        self.capacity = capacity
        self._read_fd, self._write_fd = os.pipe()
        os.set_blocking(self._read_fd, False)
        # room for every job that may wait, so a write never blocks
        fcntl.fcntl(self._write_fd, fcntl.F_SETPIPE_SZ, max(65536, capacity * self.ID_BYTES))
        self._state_fd = os.memfd_create("report-worker-queue")
        os.ftruncate(self._state_fd, self.SLOTS * self.RECORD.size)
        self._thread_lock = threading.Lock()  # record locks exclude processes, not the threads of one
        self._slot: int | None = None
        self._slot_pid = 0

    @classmethod
    def join(cls, shared: "InstanceQueue") -> None:
        """In a forked worker: use the instance's queue (ThreadPoolRunner picks it up)."""
        cls.current = shared

    # -- slots -------------------------------------------------------------------------------------

    def admit(self) -> bool:
        with self._locked():
            records = self._records()
            taken = self._waiting_ids() + sum(reserved + running for _, reserved, running in records)
            if taken >= self.capacity:
                return False
            self._add(records, reserved=1)
            return True

    def release(self) -> None:
        with self._locked():
            self._add(self._records(), reserved=-1)

    def put(self, job_id: str, *, reserved: bool) -> None:
        self._write(job_id)
        if reserved:
            with self._locked():
                self._add(self._records(), reserved=-1)

    def hand_back(self, job_id: str) -> None:
        self._write(job_id)
        with self._locked():
            self._add(self._records(), running=-1)

    def take(self, timeout: float) -> str | None:
        if not select.select([self._read_fd], [], [], timeout)[0]:
            return None
        with self._locked():
            try:
                record = os.read(self._read_fd, self.ID_BYTES)
            except BlockingIOError:  # another thread or process was faster
                return None
            self._add(self._records(), running=1)
        return record.decode("ascii")

    def finished(self) -> None:
        with self._locked():
            self._add(self._records(), running=-1)

    def waiting(self) -> int:
        return self._waiting_ids()

    def forget(self, pid: int) -> None:
        """In the master, when a worker exits: its reservations and running jobs are gone with it."""
        with self._locked():
            for index, (owner, _, _) in enumerate(self._records()):
                if owner == pid:
                    os.pwrite(self._state_fd, self.RECORD.pack(0, 0, 0), index * self.RECORD.size)

    def counts(self) -> dict[int, tuple[int, int]]:
        """pid -> (reserved, running) of every process that holds slots (for tests and benchmarks)."""
        with self._locked():
            return {pid: (reserved, running) for pid, reserved, running in self._records() if pid}

    # -- internals ---------------------------------------------------------------------------------

    @contextmanager
    def _locked(self) -> Iterator[None]:
        with self._thread_lock:
            fcntl.lockf(self._state_fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.lockf(self._state_fd, fcntl.LOCK_UN)

    def _records(self) -> list[tuple[int, int, int]]:
        data = os.pread(self._state_fd, self.SLOTS * self.RECORD.size, 0)
        return [self.RECORD.unpack_from(data, i * self.RECORD.size) for i in range(self.SLOTS)]

    def _add(self, records: list[tuple[int, int, int]], *, reserved: int = 0, running: int = 0) -> None:
        """(Lock held.) Change this process's counts, taking a free record on first use."""
        pid = os.getpid()
        if self._slot is None or self._slot_pid != pid or records[self._slot][0] != pid:
            self._slot = next((i for i, r in enumerate(records) if r[0] == pid), None)
            if self._slot is None:
                self._slot = next(i for i, r in enumerate(records) if r[0] == 0)
            self._slot_pid = pid
        _, mine_reserved, mine_running = records[self._slot]
        record = self.RECORD.pack(pid, max(0, mine_reserved + reserved), max(0, mine_running + running))
        os.pwrite(self._state_fd, record, self._slot * self.RECORD.size)

    def _write(self, job_id: str) -> None:
        record = job_id.encode("ascii")
        if len(record) != self.ID_BYTES:
            raise ValueError(f"not a canonical job id: {job_id!r}")
        # outside the lock: until the counts below change, the job counts twice (never zero times)
        os.write(self._write_fd, record)

    def _waiting_ids(self) -> int:
        unread = struct.unpack("i", fcntl.ioctl(self._read_fd, termios.FIONREAD, b"\0\0\0\0"))[0]
        return unread // self.ID_BYTES


class ThreadPoolRunner:
    """MAX_CONCURRENT_JOBS worker threads take job ids from the instance's queue (or this process's).

    A thread cannot be killed: when the watchdog gives up on a stuck job, that thread is retired (it
    exits whenever its job returns) and a fresh worker takes its place, so the jobs queued behind a
    stuck one still run. Retired threads still alive are counted: when as many are stuck as there
    are slots, `/ready` reports the process unhealthy.
    """

    def __init__(self, settings: Settings, store: Store, owner: str, execute: Execute, metrics: Metrics | None = None):
        self.settings = settings
        self.store = store
        self.owner = owner
        self.execute = execute
        self.metrics = metrics
        self.watch = JobWatch(settings, store, owner, metrics, on_abandoned=self._replace_worker)
        self.jobs: LocalQueue | InstanceQueue = InstanceQueue.current or LocalQueue(
            settings.max_concurrent_jobs + settings.max_queued_jobs
        )
        self._lock = threading.Lock()
        self._held: dict[str, JobControl | None] = {}  # job_id -> control once running here, None while it waits (our lease)
        self._running_in: dict[str, threading.Thread] = {}  # job_id -> the worker thread running it
        self._workers: set[threading.Thread] = set()
        self._retired: set[threading.Thread] = set()  # stuck on an abandoned job; they exit when it returns
        self._reservation = threading.local()  # does this request thread hold an unused slot?
        self._stopping = threading.Event()
        self._accepting = True
        self._maintenance: threading.Thread | None = None
        self._last_heartbeat = 0.0

    def queued_lease(self) -> tuple[str, float]:
        """(owner, seconds) of a job's lease while it waits: this process holds and renews it until a
        thread (of any process of the instance) claims the job."""
        return self.owner, self.settings.job_lease_seconds

    # -- admission ---------------------------------------------------------------------------------

    @contextmanager
    def reserve(self) -> Iterator[None]:
        """Hold one slot of the instance while the job is recorded; raises `QueueFull` when every slot
        is taken. A slot not used by `submit` is given back."""
        with self._lock:
            if not self._accepting:
                raise ShuttingDown()
        if not self.jobs.admit():
            raise QueueFull()
        self._reservation.held = True
        try:
            yield
        finally:
            if self._reservation.held:
                self._reservation.held = False
                self.jobs.release()

    def submit(self, job_id: str) -> None:
        """Queue a recorded job (call inside `reserve()`, which guarantees the slot)."""
        with self._lock:
            if job_id in self._held:
                return
            self._held[job_id] = None
        reserved = getattr(self._reservation, "held", False)
        self._reservation.held = False
        self.jobs.put(job_id, reserved=reserved)
        self.report_depth()

    def shared_metrics(self) -> dict:
        """Totals of processes other than the web's (none: jobs run here)."""
        return {}

    def counts(self) -> tuple[int, int]:
        """(jobs running in this process, jobs waiting whose lease this process holds)."""
        with self._lock:
            running = sum(1 for c in self._held.values() if c is not None)
            return running, len(self._held) - running

    def running_here(self) -> int:
        return self.counts()[0]

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
            with self._lock:
                accepting = self._accepting_work()
            if not accepting:  # shutting down: waiting jobs are left to the other processes, or to recovery
                self._stopping.wait(0.25)
                continue
            job_id = self.jobs.take(timeout=0.25)
            if job_id is None:
                continue
            with self._lock:
                accepting = self._accepting_work()
            if accepting:
                self._run(job_id, me)
            else:  # the signal came as it was taken: hand it back to the instance's other processes
                self.jobs.hand_back(job_id)
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
                ours = self._running_in.get(job_id) is thread  # else the watchdog freed its slot already
                if ours:
                    self._held.pop(job_id, None)
                    self._running_in.pop(job_id, None)
            if ours:
                self.jobs.finished()
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
        self.jobs.finished()
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
            still_ours = self.watch.tend(job_id, control, heartbeat=due, running=lambda j=job_id: self._is_running(j))
            if control is None and not still_ours:
                self._forget_waiting(job_id)
        if due:
            self._last_heartbeat = now

    def _forget_waiting(self, job_id: str) -> None:
        """A job this process queued was claimed by another process (or ended): its lease is not ours to renew."""
        with self._lock:
            if job_id in self._held and self._held[job_id] is None:
                del self._held[job_id]
        self.report_depth()

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
        """Stop taking jobs and stop renewing the leases of waiting ones (the instance's other
        processes run them, or recovery adopts them elsewhere once their lease lapses); with `wait`,
        give running jobs up to `timeout` seconds to finish."""
        self.stop_accepting()
        with self._lock:
            for job_id in [j for j, control in self._held.items() if control is None]:
                del self._held[job_id]
        deadline = time.monotonic() + (timeout if timeout is not None else 0)
        if wait:
            while self.running_here() and (timeout is None or time.monotonic() < deadline):
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

    def __init__(self, settings: Settings, store: Store, metrics: Metrics | None = None, connection=None):
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
            raise QueueFull()
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

    def running_here(self) -> int:
        return 0  # jobs run in the rq worker processes

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
