"""May this process call the SEC now: the block, the pause and the request slots, owned by SecAccess.

The block page is per IP address, so one process's block must stop the host's other processes
(through EDGAR_CACHE_DIR), and a refused request must not take a slot from the requests that may go.
Over HTTP, with the EDGAR stand-in, the same rules are tested in test_sec_fetcher.py.
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import pytest

from exceptions import SecRateLimited
from rate_limit import FileSlots
from sec_access import BLOCK_FILE_NAME, BlockFile, SecAccess


def soon(seconds: float) -> float:
    return time.monotonic() + seconds


def access(tmp_path, *, cooldown: float = 600, counts: Counter | None = None) -> SecAccess:
    """One process's access; processes of one host share tmp_path, as they share EDGAR_CACHE_DIR."""
    return SecAccess(
        FileSlots(tmp_path / "slots", rate=10),
        cooldown_seconds=cooldown,
        block_file=BlockFile(tmp_path / BLOCK_FILE_NAME),
        count=(lambda name: counts.update([name])) if counts is not None else None,
    )


def test_a_block_seen_by_one_process_stops_another_before_it_takes_a_slot(tmp_path):
    counts = Counter()
    first, second = access(tmp_path), access(tmp_path, counts=counts)
    second.acquire()  # the host's processes take slots as usual...
    next_slot = (tmp_path / "slots").read_bytes()

    error = first.block("submissions/CIK0000320193.json")
    assert isinstance(error, SecRateLimited) and "600 s" in error.message
    assert 599 <= second.blocked_for() <= 601

    with pytest.raises(SecRateLimited, match="paused"):
        second.acquire(deadline=soon(30))  # ...until one of them sees the block page
    assert counts["refused_while_blocked"] == 1
    assert (tmp_path / "slots").read_bytes() == next_slot  # refused before taking a slot


def test_settings_put_the_block_where_every_process_of_the_host_looks(settings_factory):
    settings = settings_factory(SEC_BLOCK_COOLDOWN_SECONDS="120")
    SecAccess.from_settings(settings).block("files/company_tickers.json")
    assert (Path(settings.edgar_cache_dir) / BLOCK_FILE_NAME).exists()  # where the README tells operators to look
    assert 119 <= SecAccess.from_settings(settings).blocked_for() <= 121  # another process of the host


def test_the_block_counts_and_blocks_this_process_even_when_the_file_cannot_be_written(tmp_path, caplog):
    (tmp_path / "not-a-dir").write_text("x")
    counts = Counter()
    one = SecAccess(
        FileSlots(tmp_path / "slots", rate=10),
        cooldown_seconds=60,
        block_file=BlockFile(tmp_path / "not-a-dir" / BLOCK_FILE_NAME),  # a file where a directory should be
        count=lambda name: counts.update([name]),
    )
    with caplog.at_level("WARNING", logger="sec_fetcher"):
        one.block("submissions/CIK0000320193.json")
    assert counts["blocked"] == 1
    assert any("could not record the SEC block" in r.getMessage() for r in caplog.records)
    with pytest.raises(SecRateLimited):
        one.acquire()


def test_without_a_cooldown_the_block_fails_the_job_but_stops_nothing(tmp_path):
    one = access(tmp_path, cooldown=0)
    assert isinstance(one.block("p"), SecRateLimited)
    assert not (tmp_path / BLOCK_FILE_NAME).exists()
    assert one.blocked_for() == 0
    one.acquire(deadline=soon(5))


@pytest.mark.parametrize("content", [b"", b"garbage\n", b"\x00\xff"])
def test_an_unreadable_block_file_blocks_nothing(tmp_path, content):
    (tmp_path / BLOCK_FILE_NAME).write_bytes(content)
    assert access(tmp_path).blocked_for() == 0


def test_an_expired_block_blocks_nothing(tmp_path):
    BlockFile(tmp_path / BLOCK_FILE_NAME).record(time.time() - 1)
    one = access(tmp_path)
    assert one.blocked_for() == 0
    one.acquire(deadline=soon(5))


def test_a_pause_that_outlasts_the_deadline_is_refused_at_once(tmp_path):
    one = access(tmp_path)
    one.pause(30)
    one.pause(1)  # a shorter pause never shortens a longer one
    started = time.monotonic()
    with pytest.raises(SecRateLimited, match="outlasts the job's time limit"):
        one.acquire(deadline=soon(10))
    assert time.monotonic() - started < 5  # refused, not waited out
    assert not (tmp_path / "slots").exists()  # and no slot taken
