"""The request validation rules of POST /generate-report, as pure functions."""

import pytest

from exceptions import InvalidField
from job import JobRequest, host_allowed, normalize_ticker, parse_job_request

JOB = "123e4567-e89b-12d3-a456-426614174000"
USER = "00000000-0000-4000-8000-000000000001"


def parse(**changes):
    payload = {"job_id": JOB, "user_id": USER, "ticker": "AAPL", **changes}
    return parse_job_request(payload, allowed_callback_hosts=("abc.supabase.co", "*.hooks.example.com"))


@pytest.mark.parametrize("raw, expected", [("aapl", "AAPL"), ("msft", "MSFT"), ("BRK.B", "BRK-B"), ("brk-b", "BRK-B"), ("A", "A")])
def test_ticker_normalisation(raw, expected):
    assert parse(ticker=raw).ticker == expected == normalize_ticker(raw)


def test_uuids_are_normalised_to_lower_case():
    req = parse(job_id=JOB.upper())
    assert req.job_id == JOB


def test_same_company_spelling_gives_same_fingerprint():
    assert parse(ticker="BRK.B").fingerprint() == parse(ticker="brk-b").fingerprint()
    assert parse(ticker="BRK.B").fingerprint() != parse(ticker="BRK.A").fingerprint()


@pytest.mark.parametrize(
    "url, ok",
    [
        ("https://abc.supabase.co/functions/v1/cb", True),
        ("https://ABC.SUPABASE.CO/functions/v1/cb", True),
        ("https://x.hooks.example.com/cb", True),
        ("https://hooks.example.com/cb", False),  # the wildcard needs a sub-domain
        ("https://abc.supabase.co.evil.com/cb", False),
        ("https://evilabc.supabase.co/cb", False),
        ("http://abc.supabase.co/cb", False),
        ("ftp://abc.supabase.co/cb", False),
        ("https://abc.supabase.co@evil.com/cb", False),
        ("http://localhost:3000/cb", False),  # only development allows local http
        ("https://" + "a" * 2050, False),
        ("https://a..hooks.example.com/cb", False),  # an empty label: requests could not even send it
        ("https://-x.hooks.example.com/cb", False),
        ("https://x_y.hooks.example.com/cb", False),
    ],
)
def test_callback_url_rules(url, ok):
    if ok:
        assert parse(callback_url=url).callback_url == url
    else:
        with pytest.raises(InvalidField) as info:
            parse(callback_url=url)
        assert info.value.field == "callback_url"


def test_development_allows_local_http_only():
    payload = {"job_id": JOB, "user_id": USER, "ticker": "AAPL", "callback_url": "http://127.0.0.1:9999/cb"}
    assert parse_job_request(payload, allowed_callback_hosts=(), allow_local_http=True).callback_url
    payload["callback_url"] = "http://10.0.0.5/cb"
    with pytest.raises(InvalidField):
        parse_job_request(payload, allowed_callback_hosts=(), allow_local_http=True)


def test_callback_is_optional():
    assert parse().callback_url is None
    assert isinstance(parse(), JobRequest)


def test_host_allowed_exact_and_wildcard():
    assert host_allowed("a.b.example.com", ["*.example.com"])
    assert not host_allowed("example.com", ["*.example.com"])
    assert host_allowed("example.com.", ["example.com"])
