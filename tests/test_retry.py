"""The one retry rule: the backoff every caller fills in, and the one reader of Retry-After."""

from __future__ import annotations

import random
import time
from email.utils import formatdate

import pytest
from requests.structures import CaseInsensitiveDict

import defaults
from retry import Backoff, retry_after_seconds

# --------------------------------------------------------------------------------------------------
# Backoff
# --------------------------------------------------------------------------------------------------


def test_waits_grow_by_the_factor_up_to_the_cap():
    backoff = Backoff(base=0.5, factor=2, cap=8, jitter=0)
    assert [backoff.delay(n) for n in range(1, 8)] == [0.5, 1, 2, 4, 8, 8, 8]


def test_the_cap_holds_for_any_attempt_and_jitter_only_shortens():
    backoff = Backoff(base=10, factor=3, cap=480, jitter=0.2)
    rng = random.Random(5)
    for attempt in (1, 5, 6, 50, 5000):  # 3**4999 overflows a float: still the cap
        for _ in range(50):
            assert backoff.ceiling(attempt) * 0.8 <= backoff.delay(attempt, rng) <= min(480, 10 * 3.0 ** min(attempt - 1, 10))


@pytest.mark.parametrize("jitter", [0.2, 0.25, 0.5, 1.0])
def test_jitter_stays_within_its_share_and_spreads_the_waits(jitter):
    backoff = Backoff(base=10, factor=3, cap=480, jitter=jitter)
    rng = random.Random(7)
    values = [backoff.delay(3, rng) for _ in range(200)]
    assert all(90 * (1 - jitter) <= v <= 90 for v in values)
    assert len({round(v, 6) for v in values}) > 150
    assert min(values) < 90 * (1 - jitter * 0.9) and max(values) > 90 * (1 - jitter * 0.1)  # the whole share is used


def test_an_injected_random_makes_waits_repeatable():
    backoff = Backoff(base=0.5, cap=20)
    first = [backoff.delay(n, random.Random(42)) for n in range(1, 6)]
    again = [backoff.delay(n, random.Random(42)) for n in range(1, 6)]
    assert first == again
    assert backoff.delay(3, random.Random(1)) != backoff.delay(3, random.Random(2))


def test_jitter_takes_exactly_its_share_of_the_random_draw():
    class Draw:
        def __init__(self, value):
            self.value = value

        def random(self):
            return self.value

    backoff = Backoff(base=2, cap=100, jitter=0.5)
    assert backoff.delay(3, Draw(0.0)) == 8.0  # no draw: the whole ceiling
    assert backoff.delay(3, Draw(0.5)) == 6.0
    assert backoff.delay(3, Draw(0.999)) == pytest.approx(4.004)


def test_defaults_are_equal_jitter_doubling():
    backoff = Backoff(base=1, cap=10)
    assert (backoff.factor, backoff.jitter) == (defaults.BACKOFF_FACTOR, defaults.BACKOFF_JITTER) == (2.0, 0.5)


@pytest.mark.parametrize(
    "fields", [dict(base=-1, cap=1), dict(base=1, cap=-1), dict(base=1, cap=1, factor=0.5), dict(base=1, cap=1, jitter=1.5)]
)
def test_a_backoff_that_could_not_wait_sensibly_is_refused(fields):
    with pytest.raises(ValueError):
        Backoff(**fields)


# --------------------------------------------------------------------------------------------------
# Retry-After
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers, seconds",
    [
        ({"Retry-After": "7"}, 7.0),
        ({"retry-after": " 120 "}, 120.0),
        ({"Retry-After": "1.5"}, 1.5),
        ({"Retry-After": "0"}, 0.0),
        ({"retry-after-ms": "50"}, 0.05),
        ({"retry-after-ms": "1500.5"}, 1.5005),
        ({"retry-after-ms": "250", "retry-after": "3"}, 0.25),  # the precise one wins
        ({"retry-after-ms": "soon", "retry-after": "3"}, 3.0),  # an unreadable ms falls back
    ],
)
def test_seconds_and_milliseconds(headers, seconds):
    assert retry_after_seconds(headers) == pytest.approx(seconds)


def test_an_http_date_is_the_time_left_until_it():
    now = time.time()
    assert 59 <= retry_after_seconds({"Retry-After": formatdate(now + 60, usegmt=True)}, now=now) <= 61
    assert retry_after_seconds({"Retry-After": formatdate(now - 60, usegmt=True)}, now=now) == 0.0  # past: now
    assert retry_after_seconds({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}, now=1445412480.0 - 30) == 30.0


@pytest.mark.parametrize(
    "headers",
    [
        None,
        {},
        {"Content-Type": "text/html"},
        {"Retry-After": ""},
        {"Retry-After": "soon"},
        {"Retry-After": "-5"},  # negative
        {"retry-after-ms": "-5"},
        {"Retry-After": "+5"},
        {"Retry-After": "1e3"},
        {"Retry-After": "inf"},
        {"Retry-After": "nan"},
        {"Retry-After": "5 seconds"},
        {"Retry-After": "Wed, 32 Oct 2015 07:28:00 GMT"},
    ],
)
def test_garbage_and_negative_values_count_as_absent(headers):
    assert retry_after_seconds(headers) is None


@pytest.mark.parametrize(
    "value", ["99999999999999", "9" * 5000, formatdate(253402300000, usegmt=True)]  # the last: the year 9999
)
def test_a_huge_wait_is_read_as_the_longest_one(value):
    assert retry_after_seconds({"Retry-After": value}) == defaults.RETRY_AFTER_MAX_SECONDS


def test_header_names_match_in_any_case():
    assert retry_after_seconds(CaseInsensitiveDict({"RETRY-AFTER": "4"})) == 4.0
    assert retry_after_seconds({"Retry-After-Ms": "4"}) == 0.004
