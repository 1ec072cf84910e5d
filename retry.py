"""One retry rule: how long to wait before trying again.

`Backoff` is the service's only backoff formula, a value each caller fills in with its own numbers
(the EDGAR client, callbacks, Claude, the Supabase store, the pipeline's final store writes):
the wait before retry `n` is `base * factor**(n - 1)`, never above `cap`, less a random share of at
most `jitter` of it, so that callers failing together do not retry together. The cap is a true
cap: jitter only ever shortens a wait.

`retry_after_seconds` is the service's only reader of a server's own answer to that question: the
`Retry-After` header (delta-seconds or an HTTP date, RFC 9110) and the `retry-after-ms` header
Anthropic sends. What each caller does with it (wait longer, cap it, give up) is its own policy.
"""

from __future__ import annotations

import math
import random
import re
import time
from dataclasses import dataclass
from datetime import timezone
from email.utils import parsedate_to_datetime
from typing import Mapping

import defaults

_DELTA = re.compile(r"^\d+(\.\d+)?$")  # non-negative; no sign, exponent, inf or nan


@dataclass(frozen=True, kw_only=True)
class Backoff:
    """Exponential backoff with jitter; `delay(n)` is the wait after the n-th failed attempt (n >= 1)."""

    base: float  # the first wait, in seconds
    factor: float = defaults.BACKOFF_FACTOR  # each further wait is this many times the previous one
    cap: float  # no wait is longer
    jitter: float = defaults.BACKOFF_JITTER  # up to this share of each wait is taken off at random (0: none)

    def __post_init__(self):
        if not (self.base >= 0 and self.factor >= 1 and self.cap >= 0 and 0 <= self.jitter <= 1):
            raise ValueError(f"not a backoff: {self!r}")

    def ceiling(self, attempt: int) -> float:
        """The wait after attempt `attempt` before jitter: base * factor**(attempt - 1), capped."""
        try:
            grown = self.base * self.factor ** max(0, attempt - 1)
        except OverflowError:
            grown = math.inf
        return min(self.cap, grown)

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        """The wait after attempt `attempt`, between (1 - jitter) and 1 times its ceiling."""
        ceiling = self.ceiling(attempt)
        if not self.jitter:
            return ceiling
        return ceiling * (1 - self.jitter * (rng or random).random())


def retry_after_seconds(headers: Mapping[str, str] | None, *, now: float | None = None) -> float | None:
    """Seconds a server asks us to wait, or None when it says nothing readable.

    `retry-after-ms` (milliseconds) wins over `Retry-After` (seconds, or an HTTP date; a date in the
    past means now). Header names are matched in any case. A negative, signed or otherwise unreadable
    value counts as absent; a longer wait than `RETRY_AFTER_MAX_SECONDS` is read as that long.
    """
    if not headers:
        return None
    named = {str(name).lower(): value for name, value in headers.items()}
    seconds = _delta(named.get("retry-after-ms"), unit=0.001)
    if seconds is None:
        value = named.get("retry-after")
        seconds = _delta(value, unit=1.0)
        if seconds is None:
            seconds = _http_date(value, now)
    return None if seconds is None else min(seconds, defaults.RETRY_AFTER_MAX_SECONDS)


def _delta(value: str | None, *, unit: float) -> float | None:
    value = (value or "").strip()
    return float(value) * unit if _DELTA.match(value) else None


def _http_date(value: str | None, now: float | None) -> float | None:
    if not value or not value.strip():
        return None
    try:
        when = parsedate_to_datetime(value.strip())
        if when is None:
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        return max(0.0, when.timestamp() - (time.time() if now is None else now))
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
