"""The on-disk EDGAR cache: filing documents forever, metadata with a TTL, a size bound, LRU eviction.

One directory (`EDGAR_CACHE_DIR`) is shared by every thread and every process of a host, so:

- an entry is one file, `MAGIC {header json}\\n<body>`, written to a temporary file in the same
  directory and moved into place with `os.replace` (atomic on POSIX): a reader sees the old entry,
  the new one, or none, never half of one;
- the header carries the body's length and sha256, checked on every read, so a file damaged by a
  crash, a full disk or a stray edit is detected, deleted and fetched again;
- a file's mtime is "last used" (touched on each hit) and drives the least-recently-used eviction;
  the fetch time lives in the header, so touching never makes stale metadata look fresh;
- the cache is an optimisation: any OSError is logged and the caller simply fetches from EDGAR.

Deleting the directory (or any file in it) at any time is safe.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from config import Settings

log = logging.getLogger("sec_fetcher")

MAGIC = b"EDGARCACHE1 "
FORMAT_DIR = "v1"  # bump when the file format changes: old entries are then simply never read
EVICT_TO_FRACTION = 0.9  # evict down to 90% of the bound, so that eviction does not run on every write
RESCAN_SECONDS = 60.0  # re-measure the directory at least this often (other processes write too)
TEMP_MAX_AGE_SECONDS = 3600.0  # temporary files older than this were left by a crashed writer
_SEGMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")


@dataclass(frozen=True)
class CacheEntry:
    """One verified entry: the body and what we knew when it was fetched."""

    key: str
    body: bytes
    url: str
    sha256: str
    stored_at: float  # wall-clock seconds when the body was last confirmed by EDGAR (fetched or 304)
    fetched_at: str  # ISO time the body was first downloaded
    etag: str | None = None
    last_modified: str | None = None

    def age(self, now: float | None = None) -> float:
        return (time.time() if now is None else now) - self.stored_at


class CorruptEntry(Exception):
    """A cache file that fails its own checks; the reason says which."""


def safe_key(*segments: str) -> str:
    """Join key segments, refusing anything that could leave the cache directory."""
    for segment in segments:
        if not _SEGMENT.match(segment) or segment in (".", ".."):
            raise ValueError(f"unsafe cache key segment {segment!r}")
    return "/".join(segments)


def encode_entry(body: bytes, *, url: str, stored_at: float, fetched_at: str, etag: str | None, last_modified: str | None) -> bytes:
    header = {
        "url": url,
        "bytes": len(body),
        "sha256": hashlib.sha256(body).hexdigest(),
        "stored_at": stored_at,
        "fetched_at": fetched_at,
        "etag": etag,
        "last_modified": last_modified,
    }
    return MAGIC + json.dumps(header, separators=(",", ":")).encode() + b"\n" + body


def decode_entry(key: str, raw: bytes) -> CacheEntry:
    """Parse and verify one cache file; raise CorruptEntry on any mismatch."""
    if not raw.startswith(MAGIC):
        raise CorruptEntry("no cache header")
    end = raw.find(b"\n", len(MAGIC), len(MAGIC) + 8192)
    if end < 0:
        raise CorruptEntry("unterminated header")
    try:
        header = json.loads(raw[len(MAGIC) : end])
        size, digest = int(header["bytes"]), str(header["sha256"])
        stored_at, url = float(header["stored_at"]), str(header["url"])
    except (ValueError, KeyError, TypeError):
        raise CorruptEntry("unreadable header") from None
    body = raw[end + 1 :]
    if len(body) != size:
        raise CorruptEntry(f"body is {len(body)} bytes, header says {size}")
    actual = hashlib.sha256(body).hexdigest()
    if actual != digest:
        raise CorruptEntry("sha256 mismatch")
    return CacheEntry(
        key=key,
        body=body,
        url=url,
        sha256=actual,
        stored_at=stored_at,
        fetched_at=str(header.get("fetched_at") or ""),
        etag=header.get("etag"),
        last_modified=header.get("last_modified"),
    )


class EdgarCache:
    """A size-bounded, multi-process-safe file cache. `max_bytes <= 0` disables it."""

    def __init__(self, root: str | os.PathLike, *, max_bytes: int):
        self.root = Path(root)
        self.dir = self.root / FORMAT_DIR
        self.max_bytes = int(max_bytes)
        self._lock = threading.Lock()
        self._approx_bytes: int | None = None  # measured size plus our own writes since
        self._last_scan = 0.0
        self._warned = False

    @classmethod
    def from_settings(cls, settings: Settings) -> "EdgarCache":
        return cls(settings.edgar_cache_dir, max_bytes=int(settings.edgar_cache_max_mb * 1024 * 1024))

    @property
    def enabled(self) -> bool:
        return self.max_bytes > 0

    def path_of(self, key: str) -> Path:
        return self.dir / key

    # -- entries -----------------------------------------------------------------------------------

    def get(self, key: str) -> CacheEntry | None:
        """The verified entry, or None (absent, disabled, unreadable, or corrupt and now deleted)."""
        if not self.enabled:
            return None
        path = self.path_of(key)
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            self._warn("cache read failed", key, exc)
            return None
        try:
            entry = decode_entry(key, raw)
        except CorruptEntry as exc:
            log.warning("corrupt cache entry deleted; fetching it again", extra={"cache_key": key, "reason": str(exc)})
            self.delete(key)
            return None
        try:
            os.utime(path)  # "recently used", for the LRU
        except OSError:
            pass
        return entry

    def put(
        self,
        key: str,
        body: bytes,
        *,
        url: str,
        stored_at: float | None = None,
        fetched_at: str | None = None,
        etag: str | None = None,
        last_modified: str | None = None,
    ) -> bool:
        """Store atomically; True when stored. Never raises for I/O problems."""
        if not self.enabled:
            return False
        stored_at = time.time() if stored_at is None else stored_at
        fetched_at = fetched_at or _iso(stored_at)
        data = encode_entry(body, url=url, stored_at=stored_at, fetched_at=fetched_at, etag=etag, last_modified=last_modified)
        if len(data) > self.max_bytes:
            log.info("not cached: larger than the whole cache", extra={"cache_key": key, "bytes": len(data)})
            return False
        path = self.path_of(key)
        try:
            atomic_write(path, data)
        except OSError as exc:
            self._warn("cache write failed", key, exc)
            return False
        with self._lock:
            if self._approx_bytes is not None:
                self._approx_bytes += len(data)
        self.evict_if_needed()
        return True

    def delete(self, key: str) -> None:
        try:
            self.path_of(key).unlink()
        except FileNotFoundError:
            pass
        except OSError as exc:
            self._warn("cache delete failed", key, exc)

    # -- size bound --------------------------------------------------------------------------------

    def evict_if_needed(self, *, force_scan: bool = False) -> int:
        """Delete least-recently-used entries while the cache is over its bound; return bytes freed."""
        with self._lock:
            due = force_scan or self._approx_bytes is None or time.monotonic() - self._last_scan > RESCAN_SECONDS
            if not due and self._approx_bytes <= self.max_bytes:
                return 0
            files = self._scan()
            total = sum(size for _, size, _ in files)
            freed = 0
            if total > self.max_bytes:
                target = int(self.max_bytes * EVICT_TO_FRACTION)
                for path, size, _mtime in sorted(files, key=lambda f: f[2]):
                    if total - freed <= target:
                        break
                    try:
                        path.unlink()
                        freed += size
                    except FileNotFoundError:
                        freed += size  # another process evicted it first
                    except OSError:
                        continue
                log.info("cache evicted least recently used entries", extra={"freed_bytes": freed, "cache_bytes": total - freed})
            self._approx_bytes = total - freed
            self._last_scan = time.monotonic()
            return freed

    def size_bytes(self) -> int:
        return sum(size for _, size, _ in self._scan())

    def _scan(self) -> list[tuple[Path, int, float]]:
        """Every entry file with its size and mtime; old temporary files are removed on the way."""
        found: list[tuple[Path, int, float]] = []
        now = time.time()
        stack = [self.dir]
        while stack:
            directory = stack.pop()
            try:
                with os.scandir(directory) as it:
                    for item in it:
                        try:
                            if item.is_dir(follow_symlinks=False):
                                stack.append(Path(item.path))
                                continue
                            stat = item.stat(follow_symlinks=False)
                        except OSError:
                            continue
                        if item.name.startswith(".tmp-"):
                            if now - stat.st_mtime > TEMP_MAX_AGE_SECONDS:
                                _unlink_quietly(Path(item.path))
                            continue
                        found.append((Path(item.path), stat.st_size, stat.st_mtime))
            except FileNotFoundError:
                continue
            except OSError as exc:
                self._warn("cache scan failed", str(directory), exc)
        return found

    # -- helpers -----------------------------------------------------------------------------------

    def _warn(self, message: str, key: str, exc: OSError) -> None:
        """Log cache I/O problems once at WARNING, then at DEBUG: the service works without a cache."""
        level = logging.DEBUG if self._warned else logging.WARNING
        self._warned = True
        log.log(level, message, extra={"cache_key": key, "cache_dir": str(self.root), "error": type(exc).__name__})


def atomic_write(path: Path, data: bytes) -> None:
    """Write to a temporary file in the same directory, then move it into place: readers see all or nothing."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        _unlink_quietly(Path(tmp))
        raise


def _unlink_quietly(path: Path) -> None:
    try:
        path.unlink()
    except OSError:
        pass


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).isoformat(timespec="seconds")
