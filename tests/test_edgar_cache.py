"""The on-disk EDGAR cache: verified entries, atomic writes across processes, LRU within a bound."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from edgar_cache import EdgarCache, decode_entry, safe_key, CorruptEntry

ROOT = Path(__file__).resolve().parent.parent


def test_round_trip_keeps_body_and_provenance(tmp_path):
    cache = EdgarCache(tmp_path, max_bytes=10_000)
    assert cache.put("archives/1/000000000124000001/a.htm", b"<html>10-K</html>", url="https://x/a.htm", etag='"e1"')
    entry = cache.get("archives/1/000000000124000001/a.htm")
    assert entry.body == b"<html>10-K</html>" and entry.url == "https://x/a.htm" and entry.etag == '"e1"'
    assert entry.age() < 5 and entry.fetched_at.endswith("+00:00")
    assert cache.get("archives/1/000000000124000001/missing.htm") is None


@pytest.mark.parametrize("segment", ["..", ".", "", "a/b", "../etc", ".hidden", "x" * 201])
def test_keys_cannot_leave_the_cache_directory(segment):
    with pytest.raises(ValueError):
        safe_key("archives", segment)


def test_damaged_entries_are_refused_and_removed(tmp_path):
    cache = EdgarCache(tmp_path, max_bytes=10_000)
    cache.put("k", b"0123456789" * 10, url="u")
    path = cache.path_of("k")
    raw = path.read_bytes()
    for damaged in (raw[:-1], raw[:-1] + b"X", b"", raw.replace(b'"bytes":100', b'"bytes":99')):
        with pytest.raises(CorruptEntry):
            decode_entry("k", damaged)
    path.write_bytes(raw[:-3])
    assert cache.get("k") is None and not path.exists()


def test_least_recently_used_entries_are_evicted_first(tmp_path):
    cache = EdgarCache(tmp_path, max_bytes=4_200)  # three ~1.2 KB entries fit, four do not
    body = b"x" * 1000
    for n, key in enumerate(["a", "b", "c"]):
        cache.put(key, body, url=key)
        os.utime(cache.path_of(key), (1000 + n, 1000 + n))  # written in this order
    assert cache.get("a") is not None  # used now: the most recent
    cache.put("d", body, url="d")
    present = {k for k in "abcd" if cache.path_of(k).exists()}
    assert present == {"a", "c", "d"}
    assert cache.size_bytes() <= 4_200


def test_an_entry_larger_than_the_whole_cache_is_not_stored(tmp_path):
    cache = EdgarCache(tmp_path, max_bytes=500)
    assert not cache.put("big", b"x" * 1000, url="u") and cache.get("big") is None


def test_a_zero_bound_disables_the_cache(tmp_path):
    cache = EdgarCache(tmp_path, max_bytes=0)
    assert not cache.enabled and not cache.put("k", b"body", url="u") and cache.get("k") is None
    assert not (tmp_path / "v1").exists()


def test_temporary_files_of_crashed_writers_are_cleaned(tmp_path):
    cache = EdgarCache(tmp_path, max_bytes=10_000)
    cache.put("k", b"body", url="u")
    stale = cache.path_of("k").parent / ".tmp-crashed"
    stale.write_bytes(b"half an entry")
    os.utime(stale, (time.time() - 7200, time.time() - 7200))
    fresh = cache.path_of("k").parent / ".tmp-writing-now"
    fresh.write_bytes(b"in progress")
    cache.evict_if_needed(force_scan=True)
    assert not stale.exists() and fresh.exists() and cache.get("k").body == b"body"


WRITER = textwrap.dedent(
    """
    import os, random, sys
    sys.path.insert(0, {root!r})
    from edgar_cache import EdgarCache
    cache = EdgarCache({dir!r}, max_bytes=100_000)  # small: evictions race with reads and writes
    rng = random.Random(os.getpid())
    bad = 0
    for i in range(300):
        key = "archives/1/000000000124000001/doc%d.htm" % rng.randrange(4)
        if rng.random() < 0.5:
            size = rng.randrange(1, 60_000)
            cache.put(key, bytes([rng.randrange(256)]) * size, url=key)
        else:
            entry = cache.get(key)  # verified: a torn or mixed write would fail its sha256
            if entry is not None and len(set(entry.body)) != 1:
                bad += 1
    print(bad)
    """
)


def test_several_processes_share_the_cache_without_torn_entries(tmp_path, caplog):
    script = WRITER.format(root=str(ROOT), dir=str(tmp_path))
    processes = [subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(4)]
    results = [p.communicate(timeout=120) for p in processes]
    assert all(p.returncode == 0 for p in processes), [err.decode()[-500:] for _, err in results]
    assert [int(out) for out, _ in results] == [0, 0, 0, 0]
    with caplog.at_level("WARNING", logger="sec_fetcher"):
        cache = EdgarCache(tmp_path, max_bytes=100_000)
        entries = [cache.get(f"archives/1/000000000124000001/doc{n}.htm") for n in range(4)]
    assert not [r for r in caplog.records if "corrupt" in r.getMessage()]
    assert all(e is None or len(set(e.body)) == 1 for e in entries)
    assert not list(tmp_path.rglob(".tmp-*"))
