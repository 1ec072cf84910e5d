"""May this process call the SEC now? One owner for the three things that decide it.

- **A request slot** (`rate_limit.py`): at most `SEC_MAX_REQUESTS_PER_SECOND` from this IP address,
  the slots shared through Redis or a locked file with every process that calls EDGAR.
- **The pause**: a 429, or a 5xx with `Retry-After`, slows every thread of this process down, not
  just the request that got it. Kept in memory (one EDGAR client, so one `SecAccess`, per process).
- **The block**: the SEC throttles with a 403 "automated traffic" page, and each further request
  extends the block, so the page stops every SEC call of the host for `SEC_BLOCK_COOLDOWN_SECONDS`.
  Kept in memory for this process and in `EDGAR_CACHE_DIR/sec-blocked-until` for the host's other
  processes (the SEC blocks by IP address).

A blocked request is refused before it takes a slot; a pause that would outlast the job's deadline
is refused at once instead of waited out.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Callable

from config import Settings
from edgar_cache import atomic_write
from exceptions import SecRateLimited
from rate_limit import Slots, sec_slots

log = logging.getLogger("sec_fetcher")  # one logger for everything that talks to EDGAR

BLOCK_FILE_NAME = "sec-blocked-until"


class BlockFile:
    """The end of a block (wall-clock seconds) in a file that every process of the host reads."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._memo: tuple[float, float] = (-1.0, 0.0)  # (file mtime, blocked-until): re-read only when it changes

    def record(self, until_epoch: float) -> None:
        """Tell the host's other processes; this process knows already, so a failed write only warns."""
        try:
            atomic_write(self.path, f"{until_epoch:.3f}\n".encode())
        except OSError as exc:
            log.warning("could not record the SEC block for other processes", extra={"path": str(self.path), "error": type(exc).__name__})

    def until(self) -> float:
        """Wall-clock end of a block recorded by any process, or 0. One stat() per call."""
        try:
            mtime = self.path.stat().st_mtime
        except OSError:
            return 0.0
        memo_mtime, memo_until = self._memo
        if mtime == memo_mtime:
            return memo_until
        try:
            until = float(self.path.read_text().strip() or 0)
        except (OSError, ValueError):
            until = 0.0
        self._memo = (mtime, until)
        return until


class SecAccess:
    """Request slots, the 429 pause and the block page's cool-down, shared by every thread of a process.

    `count` receives the names of the counters this class moves (`refused_while_blocked`, `blocked`),
    so that the EDGAR client's statistics and metrics see them.
    """

    def __init__(
        self,
        slots: Slots,
        *,
        cooldown_seconds: float,
        block_file: BlockFile | None = None,
        count: Callable[[str], None] | None = None,
    ):
        self.slots = slots
        self.cooldown = float(cooldown_seconds)
        self.block_file = block_file
        self._count = count or (lambda name: None)
        self._lock = threading.Lock()  # guards the two fields below
        self._pause_until = 0.0  # monotonic
        self._blocked_until = 0.0  # monotonic

    @classmethod
    def from_settings(cls, settings: Settings, *, count: Callable[[str], None] | None = None) -> "SecAccess":
        cache_dir = settings.edgar_cache_dir
        return cls(
            sec_slots(settings),
            cooldown_seconds=settings.sec_block_cooldown_seconds,
            block_file=BlockFile(Path(cache_dir) / BLOCK_FILE_NAME) if cache_dir else None,
            count=count,
        )

    def acquire(self, deadline: float | None = None) -> None:
        """Wait for this request's turn: refused while blocked, then after any pause, in a free slot."""
        self._refuse_while_blocked()
        self._wait_out_pause(deadline)
        self.slots.acquire(deadline)

    def pause(self, seconds: float) -> None:
        """No request of this process leaves for `seconds` (the SEC asked us to slow down)."""
        with self._lock:
            self._pause_until = max(self._pause_until, time.monotonic() + seconds)

    def block(self, path: str) -> SecRateLimited:
        """The SEC's block page: stop every SEC call of the host for the cool-down; returns the job's error."""
        with self._lock:
            self._blocked_until = max(self._blocked_until, time.monotonic() + self.cooldown)
        self._count("blocked")
        if self.cooldown > 0 and self.block_file is not None:
            self.block_file.record(time.time() + self.cooldown)
        log.error("SEC block page received; all SEC requests paused", extra={"path": path, "cooldown_s": self.cooldown})
        return SecRateLimited(
            f"the SEC refused a request with its automated-traffic block page (HTTP 403); "
            f"no SEC request will be made for {self.cooldown:.0f} s"
        )

    def blocked_for(self) -> float:
        """Seconds left of a block this process saw or another process of the host recorded."""
        with self._lock:
            left = self._blocked_until - time.monotonic()
        if self.block_file is not None:
            left = max(left, self.block_file.until() - time.time())
        return max(0.0, left)

    def _refuse_while_blocked(self) -> None:
        blocked = self.blocked_for()
        if blocked > 0:
            self._count("refused_while_blocked")
            raise SecRateLimited(
                f"SEC requests are paused for {blocked:.0f} s more: the SEC answered with its automated-traffic "
                f"block page, and each further request would extend the block"
            )

    def _wait_out_pause(self, deadline: float | None) -> None:
        now = time.monotonic()
        with self._lock:
            pause = self._pause_until - now
        if pause <= 0:
            return
        if deadline is not None and now + pause >= deadline:
            raise SecRateLimited(f"the SEC asked this service to slow down; its {pause:.0f} s pause outlasts the job's time limit")
        time.sleep(pause)
