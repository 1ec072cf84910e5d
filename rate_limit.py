"""SEC request slots shared by everything that calls EDGAR from one IP address.

The SEC's limit (10 requests per second) is per IP address, not per thread or process: one host
runs several gunicorn workers, and with QUEUE_BACKEND=rq several machines run jobs. So the slots of
`SEC_MAX_REQUESTS_PER_SECOND` are kept where all of them see them:

- `RedisSlots`: in Redis (when REDIS_URL is set), for every process on every machine;
- `FileSlots`: in a file under EDGAR_CACHE_DIR, locked with flock, for every process of the host;
- `TokenBucket`: in memory, for the threads of one process (the fallback when neither is available).

All three are the same GCRA-style limiter: one "theoretical arrival time" (the next free slot),
advanced by 1/rate per request. A caller reserves its slot atomically and sleeps outside any lock,
so waiters are served in arrival order. A slot that would start past the caller's deadline is not
taken. `sec_access.SecAccess` takes one for every SEC request, once the block and the 429 pause allow.
"""

from __future__ import annotations

import fcntl
import logging
import threading
import time
from pathlib import Path

from config import Settings
from exceptions import JobTimeout

log = logging.getLogger("rate_limit")

# Slots are spaced 5% wider than 1/rate: a request that leaves late (thread wake-up, network jitter)
# then still cannot bring one request too many into any second as the SEC counts them.
SPACING_MARGIN = 1.05
# A caller that wakes more than this after its slot started takes a new slot instead of sending
# (see Slots.acquire). Under a third of the margin at 10/s, so late senders cannot eat it up.
LATE_WAKE_SLACK = 0.015


class Slots:
    """Interface: `reserve(deadline)` -> seconds to wait, or None when the slot would start past it."""

    def reserve(self, deadline: float | None = None) -> float | None:  # pragma: no cover - interface
        raise NotImplementedError

    def acquire(self, deadline: float | None = None) -> float:
        """Wait for a slot; a caller that wakes too late for it gives it up and takes a new one.

        A process that stalls (a GC pause, threads parsing a filing under the GIL) wakes its sleeping
        callers late and together: sent then, a late request lands in the same second as the ten
        after it, which is one too many as the SEC counts them (seen in the test suite: 11 requests
        within 0.79 s). Slots are never given back, so an abandoned one only slows us down.
        """
        waited = 0.0
        while True:
            wait = self.reserve(deadline)
            if wait is None:
                raise JobTimeout("the job's time ran out while waiting for an SEC request slot")
            slot = time.monotonic() + wait
            if wait > 0:
                time.sleep(wait)
            waited += wait
            if time.monotonic() - slot <= LATE_WAKE_SLACK:
                return waited


def _fits(wait: float, deadline: float | None) -> bool:
    return deadline is None or time.monotonic() + wait < deadline


class TokenBucket(Slots):
    """In-process slots, shared by every thread of one client. `burst` tokens may start at once."""

    def __init__(self, rate: float, burst: int = 1):
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self.interval = SPACING_MARGIN / rate
        self.tolerance = (max(1, burst) - 1) * self.interval
        self._tat = 0.0
        self._lock = threading.Lock()

    def reserve(self, deadline: float | None = None) -> float | None:
        with self._lock:
            now = time.monotonic()
            start = max(now, self._tat - self.tolerance)
            if deadline is not None and start >= deadline:
                return None
            self._tat = max(self._tat, start) + self.interval
            return start - now


class FileSlots(Slots):
    """Slots shared by the processes of one host: the next free slot (wall-clock time) in a locked file."""

    def __init__(self, path: Path, rate: float):
        self.path = Path(path)
        self.interval = SPACING_MARGIN / rate
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.Lock()  # flock is per open file; threads of one process queue here first

    def reserve(self, deadline: float | None = None) -> float | None:
        with self._local, open(self.path, "a+b") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                fh.seek(0)
                raw = fh.read().strip()
                try:
                    next_free = float(raw) if raw else 0.0
                except ValueError:
                    next_free = 0.0  # a torn or foreign file: start afresh
                now = time.time()
                if next_free - now > 60:  # the clock went back, or a stale file: never wait on it
                    next_free = now
                start = max(now, next_free)
                wait = start - now
                if not _fits(wait, deadline):
                    return None
                fh.seek(0)
                fh.truncate()
                fh.write(repr(start + self.interval).encode())
                fh.flush()
                return wait
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)


# next = max(now, stored); refuse when the wait exceeds the caller's budget; store next + interval.
# Times are Redis' own clock (TIME), so machines with skewed clocks still share one schedule.
_REDIS_RESERVE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local stored = tonumber(redis.call('GET', KEYS[1]) or '0')
if stored - now > 60 then stored = now end
local start = math.max(now, stored)
local wait = start - now
if wait >= tonumber(ARGV[2]) then return '-1' end
redis.call('SET', KEYS[1], tostring(start + tonumber(ARGV[1])), 'EX', 120)
return tostring(wait)
"""


class RedisSlots(Slots):
    """Slots shared by every process on every machine that uses the same Redis."""

    KEY = "report-worker:sec:next-slot"

    def __init__(self, redis_url: str, rate: float, *, connection=None):
        from redis import Redis

        self.interval = SPACING_MARGIN / rate
        self.redis = connection or Redis.from_url(redis_url, socket_timeout=2, socket_connect_timeout=2)
        self._script = self.redis.register_script(_REDIS_RESERVE)

    def reserve(self, deadline: float | None = None) -> float | None:
        budget = (deadline - time.monotonic()) if deadline is not None else 3600.0
        if budget <= 0:
            return None
        wait = float(self._script(keys=[self.KEY], args=[self.interval, budget]))
        return None if wait < 0 else wait


class FallbackSlots(Slots):
    """Use `primary` (shared) slots; if they fail (Redis down, read-only disk), fall back to local ones."""

    def __init__(self, primary: Slots, fallback: Slots):
        self.primary = primary
        self.fallback = fallback
        self._warned = False

    def reserve(self, deadline: float | None = None) -> float | None:
        try:
            return self.primary.reserve(deadline)
        except Exception as exc:  # the limiter must never stop the job, only pace it
            if not self._warned:
                log.warning("shared SEC rate limiter unavailable; pacing this process alone", extra={"error": type(exc).__name__})
                self._warned = True
            return self.fallback.reserve(deadline)


def sec_slots(settings: Settings) -> Slots:
    """The widest-shared limiter the settings allow, with an in-process bucket as the fallback.

    The fallback paces each process at the rate divided by WEB_CONCURRENCY: when the shared slots
    fail (Redis down, a read-only or full disk), every gunicorn worker of the host falls back at once,
    and at the full rate each two workers would send 16/s from one IP address (found in review).
    """
    rate = float(settings.sec_max_requests_per_second)
    local = TokenBucket(rate / max(1, settings.web_concurrency))
    if settings.redis_url:
        try:
            return FallbackSlots(RedisSlots(settings.redis_url, rate), local)
        except Exception:
            log.warning("cannot reach Redis for the SEC rate limit; pacing this process alone")
            return local
    if settings.edgar_cache_dir:
        try:
            return FallbackSlots(FileSlots(Path(settings.edgar_cache_dir) / "sec-rate-slots", rate), local)
        except OSError:
            return local
    return local
