"""The EDGAR client against the local EDGAR stand-in (real HTTP, real corpus bodies).

What a report depends on: the right company for every spelling of its ticker, the right two
annual reports (original, not amendment; across older-filings pages; none for a 20-F filer), and
the SEC's fair-access rules kept under load and under failure: at most the configured rate across
16 threads, every fault ending in success after a retry or in a typed error before the job's
deadline, and the block page silencing every SEC call for the cool-down.
"""

from __future__ import annotations

import copy
import json
import logging
import threading
import time

import pytest

from conftest import USER_AGENT, wait_for
from edgar_standin import EdgarStandIn, Fault, submissions_body
from rate_limit import TokenBucket
from exceptions import (
    FilingsUnavailable,
    JobTimeout,
    SecBadResponse,
    SecRateLimited,
    SecUnavailable,
    SecUserAgentMissing,
    TickerNotFound,
    UnsupportedFiler,
)
from sec_fetcher import (
    EdgarClient,
    FilingRef,
    TickerIndex,
    choose_annual_reports,
    report_document_candidates,
)

AAPL_SUBMISSIONS = r"^/submissions/CIK0000320193\.json$"
AAPL_NEWER_DOC = r"^/Archives/edgar/data/320193/000032019325000079/aapl-20250927\.htm$"
TICKERS = r"^/files/company_tickers\.json$"
TSLA_FY2024 = "0001628280-25-003063"
TSLA_FY2024_AMENDMENT = "0001104659-25-042659"


@pytest.fixture
def make_client(edgar, settings_factory):
    """Clients of one test share its cache directory, like the processes of one host."""

    def make(**env):
        env = {
            "SEC_WWW_BASE_URL": edgar.base_url,
            "SEC_DATA_BASE_URL": edgar.base_url,
            "SEC_MAX_REQUESTS_PER_SECOND": "10",
            "SEC_RETRY_BASE_SECONDS": "0.02",
            **env,
        }
        return EdgarClient(settings_factory(**env))

    return make


def manifest_sha(corpus, ticker: str, period: str) -> str:
    manifest = json.loads((corpus / "manifest.json").read_text())
    return next(f["sha256"] for f in manifest["filings"] if f["ticker"] == ticker and f["fiscal_year_end"] == period)


def real_submissions(corpus, cik10: str) -> dict:
    return json.loads((corpus / "api" / "submissions" / f"CIK{cik10}.json").read_bytes())


def soon(seconds: float) -> float:
    return time.monotonic() + seconds


# --------------------------------------------------------------------------------------------------
# Tickers
# --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ticker_index(corpus) -> TickerIndex:
    return TickerIndex(json.loads((corpus / "api" / "company_tickers.json").read_bytes()))


@pytest.mark.parametrize("spelling", ["BRK.B", "brk-b", "BRK-B", "BRKB", "brk.a", "BRK"])
def test_share_class_spellings_resolve_to_berkshire(ticker_index, spelling):
    company = ticker_index.lookup(spelling)
    assert company.cik == 1067983 and company.cik10 == "0001067983" and "BERKSHIRE" in company.name


@pytest.mark.parametrize("tickers, cik", [(["GOOG", "GOOGL"], 1652044), (["FNMA", "FNMAS", "FNMAJ"], 310522)])
def test_several_tickers_of_one_company_resolve_to_it(ticker_index, tickers, cik):
    assert {ticker_index.lookup(t).cik for t in tickers} == {cik}


def test_an_exact_ticker_wins_over_a_squashed_one(ticker_index):
    # the SEC file lists both "OP" and "O-P" (different companies): no guess may cross them
    assert ticker_index.lookup("OP").cik != ticker_index.lookup("O-P").cik
    assert ticker_index.lookup("O.P").cik == ticker_index.lookup("O-P").cik


@pytest.mark.parametrize("ticker", ["CELG", "MER", "BML"])
def test_a_delisted_ticker_is_not_guessed_from_another_companys_security(ticker_index, ticker):
    """Found in review: CELG (Celgene, delisted 2019) resolved to Bristol-Myers Squibb through its
    contingent value right CELG-RI; MER and BML to Bank of America through preferreds MER-PK, BML-PG."""
    with pytest.raises(TickerNotFound):
        ticker_index.lookup(ticker)


@pytest.mark.parametrize("ticker, cik", [("BF", 14693), ("MOG", 67887)])
def test_a_share_class_base_still_resolves(ticker_index, ticker, cik):
    assert ticker_index.lookup(ticker).cik == cik


def test_unknown_ticker_is_a_typed_error(ticker_index):
    with pytest.raises(TickerNotFound, match="ZZZZZZ"):
        ticker_index.lookup("zzzzzz")


def test_ticker_lookup_over_http(make_client, edgar):
    client = make_client()
    assert client.company("brk.b").cik == 1067983
    assert client.company("BRKB").cik == 1067983  # the list is fetched once, indexed once
    assert len(edgar.requests_to(TICKERS)) == 1
    assert all(r.user_agent == USER_AGENT for r in edgar.requests)


def test_a_ticker_listed_since_our_copy_is_found_after_one_revalidation(make_client, edgar):
    client = make_client()
    client.company("AAPL")
    key = client._metadata_key(client.www, "files", "company_tickers.json")
    entry = client.cache.get(key)
    # the cached copy is two minutes old; a company listed since then must still be found
    client.cache.put(key, entry.body, url=entry.url, stored_at=time.time() - 120, etag=entry.etag)
    edgar.extra_tickers.append({"cik_str": 1318605, "ticker": "NEWCO", "title": "Newly Listed Co"})
    assert client.company("NEWCO").cik == 1318605
    assert len(edgar.requests_to(TICKERS)) == 2
    with pytest.raises(TickerNotFound):
        client.company("NOSUCH")  # the copy is fresh now: no third download
    assert len(edgar.requests_to(TICKERS)) == 2


# --------------------------------------------------------------------------------------------------
# Choosing the filings
# --------------------------------------------------------------------------------------------------


def test_tesla_amendment_never_replaces_the_original(make_client, edgar, corpus):
    # EDGAR as of 2025-12-31 lists a 10-K/A (Part III) for FY2024 after the original 10-K
    pair = make_client().latest_annual_reports("TSLA", deadline=soon(30))
    newer, older = pair.newer.provenance(), pair.older.provenance()
    assert (newer["form"], newer["accession"], newer["period_of_report"]) == ("10-K", TSLA_FY2024, "2024-12-31")
    assert (older["form"], older["period_of_report"]) == ("10-K", "2023-12-31")
    assert TSLA_FY2024_AMENDMENT in newer["note"] and "not used" in newer["note"]
    assert older["note"] is None
    assert newer["sha256"] == manifest_sha(corpus, "TSLA", "2024-12-31")
    assert newer["bytes"] == len(pair.newer.content) and newer["url"].endswith("/000162828025003063/tsla-20241231.htm")
    assert set(newer) >= {"form", "accession", "filing_date", "period_of_report", "primary_document", "url", "bytes", "sha256", "fetched_at", "note"}


def test_older_filings_pages_are_read_only_when_needed(make_client, edgar):
    client = make_client()
    _, choice = client.annual_report_choice("AAPL")
    assert not edgar.requests_to(r"submissions-001")  # filings.recent held two 10-Ks

    edgar.as_of = "2018-12-31"  # Tesla's real history then: one 10-K in `recent`, the one before on page 001
    _, choice = client.annual_report_choice("TSLA")
    assert (choice.newer.filing.form, choice.newer.period) == ("10-K", "2017-12-31")
    assert (choice.older.filing.accession, choice.older.period) == ("0001564590-17-003118", "2016-12-31")
    assert len(edgar.requests_to(r"^/submissions/CIK0001318605-submissions-001\.json$")) == 1


def test_reports_across_pages_are_fetched_whole(corpus, settings_factory):
    with EdgarStandIn(corpus, as_of="2025-12-31", recent_limit=1) as standin:
        settings = settings_factory(SEC_WWW_BASE_URL=standin.base_url, SEC_DATA_BASE_URL=standin.base_url)
        pair = EdgarClient(settings).latest_annual_reports("ADBE", deadline=soon(30))
        assert standin.requests_to(r"^/submissions/CIK0000796343-submissions-001\.json$")
    assert pair.older.ref.period_of_report == "2023-12-01" and pair.newer.ref.period_of_report == "2024-11-29"
    assert pair.older.sha256 == manifest_sha(corpus, "ADBE", "2023-12-01")


def test_only_one_annual_report_fails_with_the_reason(make_client):
    with pytest.raises(FilingsUnavailable, match=r"one original annual report \(10-K for period 2023-12-31"):
        make_client().latest_annual_reports("ABT", deadline=soon(30))


def test_a_company_without_filings_fails_clearly(make_client, edgar):
    edgar.extra_tickers.append({"cik_str": 350001, "ticker": "NOFIL", "title": "No Filings"})
    with pytest.raises(FilingsUnavailable, match="no original annual report"):
        make_client().latest_annual_reports("NOFIL", deadline=soon(30))


def _row(form, accession, filed, period, document="doc.htm"):
    return {"form": form, "accessionNumber": accession, "filingDate": filed, "reportDate": period, "primaryDocument": document}


def test_twenty_f_filer_is_unsupported(make_client, edgar):
    edgar.extra_submissions["CIK0001094517.json"] = submissions_body(
        1094517,
        "TOYOTA MOTOR CORP/",
        [
            _row("6-K", "0001193125-25-100001", "2025-08-01", ""),
            _row("20-F", "0001193125-25-140001", "2025-06-20", "2025-03-31"),
            _row("20-F", "0001193125-24-150001", "2024-06-25", "2024-03-31"),
        ],
        files=[{"name": "CIK0001094517-submissions-001.json", "filingCount": 1, "filingFrom": "2001-01-01", "filingTo": "2024-01-01"}],
    )
    with pytest.raises(UnsupportedFiler, match="20-F"):
        make_client().latest_annual_reports("TM", deadline=soon(30))
    assert not edgar.requests_to(r"submissions-001")  # no older page can change that answer


def test_a_company_that_moved_to_20f_is_unsupported_not_reported_on_stale_10ks():
    rows = [
        FilingRef(1, "20-F", "0000000001-25-000001", "2025-04-01", "2024-12-31", "a.htm"),
        FilingRef(1, "10-K", "0000000001-24-000001", "2024-03-01", "2023-12-31", "b.htm"),
        FilingRef(1, "10-K", "0000000001-23-000001", "2023-03-01", "2022-12-31", "c.htm"),
    ]
    with pytest.raises(UnsupportedFiler):
        choose_annual_reports(rows)


def test_choice_by_period_with_older_forms_and_late_originals():
    rows = [
        FilingRef(1, "10-K/A", "0000000001-03-000003", "2003-04-15", "2002-12-31", "a.txt"),
        FilingRef(1, "10-K", "0000000001-03-000002", "2003-03-12", "2002-12-31", "b.txt"),
        FilingRef(1, "10-K405", "0000000001-02-000001", "2002-03-07", "2001-12-31", "c.txt"),
        FilingRef(1, "10-Q", "0000000001-02-000009", "2002-11-07", "2002-09-30", "q.txt"),
    ]
    choice = choose_annual_reports(reversed(rows))  # order of the input does not matter
    assert choice.newer.filing.form == "10-K" and choice.older.filing.form == "10-K405"
    assert [a.form for a in choice.newer.amendments] == ["10-K/A"] and choice.newer.fallbacks[-1].form == "10-K/A"


def _tesla_with(corpus, **changes_by_accession) -> dict:
    body = real_submissions(corpus, "0001318605")
    body = copy.deepcopy(body)
    recent = body["filings"]["recent"]
    for accession, changes in changes_by_accession.items():
        i = recent["accessionNumber"].index(accession)
        for key, value in changes.items():
            recent[key][i] = value
    recent_keep = [i for i, d in enumerate(recent["filingDate"]) if d <= "2025-12-31"]
    body["filings"]["recent"] = {k: [v[i] for i in recent_keep] for k, v in recent.items()}
    return body


def test_missing_primary_document_name_uses_the_filing_index(make_client, edgar, corpus):
    edgar.extra_submissions["CIK0001318605.json"] = _tesla_with(corpus, **{TSLA_FY2024: {"primaryDocument": ""}})
    pair = make_client().latest_annual_reports("TSLA", deadline=soon(30))
    assert pair.newer.ref.accession == TSLA_FY2024 and pair.newer.ref.primary_document == "tsla-20241231.htm"
    assert pair.newer.sha256 == manifest_sha(corpus, "TSLA", "2024-12-31")
    assert "names no primary document" in pair.newer.note and "filing index" in pair.newer.note
    assert edgar.requests_to(r"/000162828025003063/index\.json$")


def test_primary_document_that_is_not_the_report_uses_the_filing_index(make_client, edgar, corpus):
    edgar.extra_submissions["CIK0001318605.json"] = _tesla_with(corpus, **{TSLA_FY2024: {"primaryDocument": "cover.htm"}})
    edgar.extra_documents["/Archives/edgar/data/1318605/000162828025003063/cover.htm"] = b"<html><body>Transmittal letter.</body></html>"
    pair = make_client().latest_annual_reports("TSLA", deadline=soon(30))
    assert pair.newer.ref.primary_document == "tsla-20241231.htm" and "not the annual report" in pair.newer.note
    assert len(edgar.requests_to(r"/cover\.htm$")) == 2  # one retry: it might have been a maintenance page


def test_without_index_the_full_submission_text_is_used(make_client, edgar, corpus):
    edgar.extra_submissions["CIK0001318605.json"] = _tesla_with(corpus, **{TSLA_FY2024: {"primaryDocument": ""}})
    edgar.add_fault(Fault(pattern=r"/000162828025003063/index\.json$", kind="status", status=404, times=None))
    pair = make_client().latest_annual_reports("TSLA", deadline=soon(30))
    assert pair.newer.ref.primary_document == f"{TSLA_FY2024}.txt"
    assert b"<TYPE>10-K" in pair.newer.content and b"Tesla" in pair.newer.content


def test_amendment_stands_in_only_when_the_original_has_no_body(make_client, edgar):
    edgar.add_fault(Fault(pattern=r"/000162828025003063/", kind="status", status=404, times=None))
    amendment = b"<html><body><p>FORM 10-K/A Amendment No. 1</p><p>Tesla, Inc. annual report.</p></body></html>"
    edgar.extra_documents["/Archives/edgar/data/1318605/000110465925042659/tm252787d2_10ka.htm"] = amendment
    pair = make_client().latest_annual_reports("TSLA", deadline=soon(30))
    assert (pair.newer.ref.form, pair.newer.ref.accession) == ("10-K/A", TSLA_FY2024_AMENDMENT)
    assert pair.newer.content == amendment
    assert f"the original 10-K ({TSLA_FY2024}) has no usable document" in pair.newer.note
    assert pair.older.ref.form == "10-K"


def test_index_candidates_skip_exhibits_and_prefer_form_names():
    index = {
        "directory": {
            "item": [
                {"name": "0000950134-03-003746-index.html", "size": ""},
                {"name": "dex21.htm", "size": "9000"},
                {"name": "a10-kexhibit2112024.htm", "size": "8000"},
                {"name": "R2.htm", "size": "5000"},
                {"name": "big-annual-report.htm", "size": "900000"},
                {"name": "d03686e10vk.txt", "size": "300000"},
                {"name": "0000950134-03-003746.txt", "size": "2000000"},
            ]
        }
    }
    assert report_document_candidates(index, "0000950134-03-003746") == [
        "d03686e10vk.txt",
        "big-annual-report.htm",
        "0000950134-03-003746.txt",
    ]
    assert report_document_candidates({}, "0000950134-03-003746") == ["0000950134-03-003746.txt"]


# --------------------------------------------------------------------------------------------------
# Fair access: rate limit
# --------------------------------------------------------------------------------------------------


def test_rate_limit_holds_under_16_threads(make_client, edgar):
    rate = 10  # the SEC's hard limit: a request more in any second is a violation
    client = make_client(SEC_MAX_REQUESTS_PER_SECOND=str(rate), EDGAR_CACHE_MAX_MB="0")  # no cache: every call is a request
    tickers = ["AAPL", "MSFT", "NVDA", "TSLA"] * 4
    errors, barrier = [], threading.Barrier(len(tickers))

    def job(ticker):
        barrier.wait()
        try:
            client.annual_report_choice(ticker, deadline=soon(60))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=job, args=(t,)) for t in tickers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    arrivals = sorted(r.received for r in edgar.requests)
    assert len(arrivals) == 2 * len(tickers)  # the ticker list and a submissions body per job
    # Slots are 1.05/rate apart, so any rate + 1 requests span >= 1.05 s when sent. Arrival stamps are
    # taken by a thread of this same process: under a loaded test run they can lag by a GIL slice,
    # hence the tolerance on the window; the mean rate, immune to that jitter, must hold exactly.
    spans = [arrivals[i + rate] - arrivals[i] for i in range(len(arrivals) - rate)]
    assert min(spans) >= 0.85, f"{rate + 1} requests within {min(spans):.3f} s"
    assert (len(arrivals) - 1) / (arrivals[-1] - arrivals[0]) <= rate


def test_token_bucket_does_not_reserve_a_slot_past_the_deadline():
    bucket = TokenBucket(rate=2)
    assert bucket.acquire() == 0
    with pytest.raises(JobTimeout):
        bucket.acquire(deadline=soon(0.1))  # the next slot is 0.5 s away
    started = time.monotonic()
    bucket.acquire(deadline=soon(5))  # the refused attempt did not push the next slot back
    assert time.monotonic() - started < 0.6


# --------------------------------------------------------------------------------------------------
# Fair access: faults end in success after a retry, or in a typed error before the deadline
# --------------------------------------------------------------------------------------------------


HEALING_FAULTS = [
    pytest.param(AAPL_SUBMISSIONS, dict(kind="status", status=503), id="503-submissions"),
    pytest.param(AAPL_NEWER_DOC, dict(kind="status", status=500), id="500-document"),
    pytest.param(TICKERS, dict(kind="status", status=429, retry_after="0"), id="429-tickers"),
    pytest.param(AAPL_NEWER_DOC, dict(kind="truncate"), id="truncated-document"),
    pytest.param(AAPL_SUBMISSIONS, dict(kind="truncate"), id="truncated-json"),
    pytest.param(AAPL_SUBMISSIONS, dict(kind="html"), id="html-for-json"),
    pytest.param(AAPL_NEWER_DOC, dict(kind="html"), id="maintenance-page-for-document"),
    pytest.param(TICKERS, dict(kind="empty"), id="empty-json"),
    pytest.param(AAPL_NEWER_DOC, dict(kind="empty"), id="empty-document"),
    pytest.param(AAPL_NEWER_DOC, dict(kind="reset"), id="connection-reset"),
    pytest.param(AAPL_SUBMISSIONS, dict(kind="slow", delay=1.5), id="read-timeout"),
]


@pytest.mark.parametrize("pattern, fault", HEALING_FAULTS)
def test_a_passing_fault_ends_in_success_after_one_retry(make_client, edgar, corpus, pattern, fault):
    edgar.add_fault(Fault(pattern=pattern, times=1, **fault))
    client = make_client(SEC_READ_TIMEOUT_SECONDS="0.5")
    pair = client.latest_annual_reports("AAPL", deadline=soon(20))
    assert pair.newer.sha256 == manifest_sha(corpus, "AAPL", "2025-09-27")
    assert pair.older.sha256 == manifest_sha(corpus, "AAPL", "2024-09-28")
    assert client.stats()["retries"] == 1
    wait_for(lambda: len(edgar.requests_to(pattern)) == 2, timeout=5, message="the stand-in to log both attempts")
    # what failed was not cached: a second run is served from the cache, whole
    assert make_client().latest_annual_reports("AAPL").newer.sha256 == pair.newer.sha256


LASTING_FAULTS = [
    pytest.param(AAPL_SUBMISSIONS, dict(kind="status", status=503), SecUnavailable, 3, id="503"),
    pytest.param(TICKERS, dict(kind="status", status=429), SecRateLimited, 3, id="429"),
    pytest.param(AAPL_NEWER_DOC, dict(kind="truncate"), SecBadResponse, 3, id="truncated-document"),
    pytest.param(AAPL_SUBMISSIONS, dict(kind="html"), SecBadResponse, 3, id="html-for-json"),
    pytest.param(TICKERS, dict(kind="empty"), SecBadResponse, 3, id="empty-json"),
    pytest.param(AAPL_NEWER_DOC, dict(kind="empty"), SecBadResponse, 3, id="empty-document"),
    pytest.param(AAPL_NEWER_DOC, dict(kind="reset"), SecUnavailable, 3, id="connection-reset"),
    pytest.param(AAPL_SUBMISSIONS, dict(kind="status", status=403), SecBadResponse, 1, id="plain-403-not-retried"),
    pytest.param(AAPL_SUBMISSIONS, dict(kind="status", status=400), SecBadResponse, 1, id="400-not-retried"),
]


@pytest.mark.parametrize("pattern, fault, error, requests_made", LASTING_FAULTS)
def test_a_lasting_fault_ends_in_a_typed_error_before_the_deadline(make_client, edgar, pattern, fault, error, requests_made):
    edgar.add_fault(Fault(pattern=pattern, times=None, **fault))
    client = make_client(SEC_MAX_RETRIES="2")
    started = time.monotonic()
    with pytest.raises(error) as raised:
        client.latest_annual_reports("AAPL", deadline=soon(10))
    assert time.monotonic() - started < 5
    assert len(edgar.requests_to(pattern)) == requests_made
    assert raised.value.refund and raised.value.code.startswith("SEC_")


def test_malformed_submissions_are_an_error_and_never_cached(make_client, edgar, corpus):
    body = copy.deepcopy(real_submissions(corpus, "0000320193"))
    body["filings"]["recent"]["form"].pop()  # parallel arrays of different lengths
    edgar.extra_submissions["CIK0000320193.json"] = body
    with pytest.raises(SecBadResponse, match="differ in length"):
        make_client().latest_annual_reports("AAPL", deadline=soon(10))
    assert len(edgar.requests_to(AAPL_SUBMISSIONS)) == 2  # valid JSON of the wrong shape: retried once only
    del edgar.extra_submissions["CIK0000320193.json"]
    assert make_client().latest_annual_reports("AAPL").newer.ref.period_of_report == "2025-09-27"


def test_retry_after_is_honoured(make_client, edgar):
    edgar.add_fault(Fault(pattern=AAPL_SUBMISSIONS, kind="status", status=429, retry_after="1", times=1))
    make_client().latest_annual_reports("AAPL", deadline=soon(20))
    first, second = edgar.requests_to(AAPL_SUBMISSIONS)
    assert second.received - first.received >= 0.95


def test_a_429_pauses_every_thread_of_the_client(make_client, edgar):
    client = make_client()
    msft = client.company("MSFT")  # the ticker list is cached from here on
    edgar.add_fault(Fault(pattern=AAPL_SUBMISSIONS, kind="status", status=429, retry_after="1", times=1))
    worker = threading.Thread(target=client.annual_report_choice, args=("AAPL",))
    worker.start()
    wait_for(lambda: client.stats().get("throttled"), timeout=5, interval=0.005, message="the 429")
    client.filing_history(msft)  # another job's request waits for the pause too
    worker.join()
    throttled = edgar.requests_to(AAPL_SUBMISSIONS)[0]
    other = edgar.requests_to(r"^/submissions/CIK0000789019\.json$")[0]
    assert other.received - throttled.received >= 0.9


def test_a_retry_after_longer_than_we_wait_fails_at_once(make_client, edgar):
    edgar.add_fault(Fault(pattern=AAPL_SUBMISSIONS, kind="status", status=429, retry_after="3600", times=None))
    started = time.monotonic()
    with pytest.raises(SecRateLimited, match="3600"):
        make_client().latest_annual_reports("AAPL", deadline=soon(300))
    assert time.monotonic() - started < 2 and len(edgar.requests_to(AAPL_SUBMISSIONS)) == 1


def test_backoff_never_waits_past_the_deadline(make_client, edgar):
    edgar.add_fault(Fault(pattern=AAPL_SUBMISSIONS, kind="status", status=503, times=None))
    client = make_client(SEC_RETRY_BASE_SECONDS="0.4", SEC_MAX_RETRIES="6")  # waits 0.4, 0.8, 1.6 ... would take 25 s
    started = time.monotonic()
    with pytest.raises(SecUnavailable, match="deadline"):
        client.latest_annual_reports("AAPL", deadline=soon(1.5))
    assert time.monotonic() - started < 1.5


def test_a_slow_answer_is_cut_at_the_deadline(make_client, edgar):
    edgar.add_fault(Fault(pattern=AAPL_SUBMISSIONS, kind="slow", delay=3.0, times=None))
    started = time.monotonic()
    with pytest.raises(JobTimeout):
        make_client().latest_annual_reports("AAPL", deadline=soon(0.8))
    assert time.monotonic() - started < 1.2


def test_a_trickling_download_is_cut_at_the_deadline(make_client, edgar):
    """Found in review: a body arriving 200 bytes at a time, each socket read well within its timeout,
    held a 64 KiB read (and the job) far past its deadline."""
    edgar.add_fault(Fault(pattern=AAPL_SUBMISSIONS, kind="trickle", delay=0.2, times=None))
    started = time.monotonic()
    with pytest.raises(JobTimeout):
        make_client().latest_annual_reports("AAPL", deadline=soon(1.5))
    assert time.monotonic() - started < 2.5


# --------------------------------------------------------------------------------------------------
# Fair access: the SEC's block page
# --------------------------------------------------------------------------------------------------


def test_block_page_stops_every_sec_call_for_the_cooldown(make_client, edgar, caplog):
    client = make_client(SEC_BLOCK_COOLDOWN_SECONDS="1.5")
    client.company("MSFT")  # cache the ticker list
    edgar.add_fault(Fault(pattern=AAPL_SUBMISSIONS, kind="block", times=1))
    with caplog.at_level(logging.ERROR, logger="sec_fetcher"), pytest.raises(SecRateLimited, match="block page"):
        client.latest_annual_reports("AAPL", deadline=soon(20))
    assert len(edgar.requests_to(AAPL_SUBMISSIONS)) == 1  # not retried: retrying extends the block
    assert any("block" in r.getMessage() for r in caplog.records)
    edgar.clear_log()

    with pytest.raises(SecRateLimited, match="paused"):
        client.latest_annual_reports("NVDA", deadline=soon(20))  # another job, another company
    with pytest.raises(SecRateLimited, match="paused"):
        make_client().latest_annual_reports("TSLA", deadline=soon(20))  # another process of this host
    assert edgar.requests == []

    time.sleep(1.6)
    assert client.latest_annual_reports("AAPL", deadline=soon(20)).newer.ref.period_of_report == "2025-09-27"


def test_cached_filings_are_served_during_a_block(make_client, edgar):
    client = make_client(SEC_BLOCK_COOLDOWN_SECONDS="30")
    client.latest_annual_reports("AAPL")
    edgar.add_fault(Fault(pattern=r"^/submissions/CIK0001045810", kind="block", times=1))
    with pytest.raises(SecRateLimited):
        client.latest_annual_reports("NVDA")
    edgar.clear_log()
    assert client.latest_annual_reports("AAPL").newer.from_cache and edgar.requests == []


def test_user_agent_is_required_before_any_request(make_client, edgar):
    client = make_client(APP_ENV="development", SEC_USER_AGENT="")
    with pytest.raises(SecUserAgentMissing):
        client.latest_annual_reports("AAPL")
    assert edgar.requests == []


# --------------------------------------------------------------------------------------------------
# Cache
# --------------------------------------------------------------------------------------------------


def test_second_run_is_served_from_the_cache(make_client, edgar):
    first = make_client().latest_annual_reports("AAPL", deadline=soon(30))
    assert len(edgar.requests) == 4 and not first.newer.from_cache
    edgar.clear_log()
    second = make_client().latest_annual_reports("AAPL", deadline=soon(30))  # a new process, same cache
    assert edgar.requests == []
    assert second.newer.from_cache and second.newer.content == first.newer.content
    assert second.newer.provenance()["fetched_at"] == first.newer.provenance()["fetched_at"]  # when EDGAR sent it


def test_stale_metadata_is_revalidated_not_downloaded_again(make_client, edgar):
    make_client(EDGAR_METADATA_TTL_SECONDS="0").latest_annual_reports("AAPL")
    edgar.clear_log()
    pair = make_client(EDGAR_METADATA_TTL_SECONDS="0").latest_annual_reports("AAPL")
    assert [(r.path, r.status, r.conditional) for r in edgar.requests] == [
        ("/files/company_tickers.json", 304, True),
        ("/submissions/CIK0000320193.json", 304, True),
    ]
    assert pair.newer.from_cache and pair.older.from_cache


def test_a_new_annual_report_fetches_only_what_changed(make_client, edgar, corpus):
    edgar.as_of = "2024-12-31"
    before = make_client(EDGAR_METADATA_TTL_SECONDS="0").latest_annual_reports("NVDA")
    assert before.newer.ref.period_of_report == "2024-01-28"
    edgar.as_of = "2025-12-31"  # NVIDIA has filed its FY2025 10-K since
    edgar.clear_log()
    after = make_client(EDGAR_METADATA_TTL_SECONDS="0").latest_annual_reports("NVDA")
    assert after.older.ref.accession == before.newer.ref.accession and after.older.from_cache
    assert after.newer.ref.period_of_report == "2025-01-26" and not after.newer.from_cache
    assert [r.path for r in edgar.requests if r.status == 200] == [
        "/submissions/CIK0001045810.json",
        "/Archives/edgar/data/1045810/000104581025000023/nvda-20250126.htm",
    ]


@pytest.mark.parametrize("damage", ["flip-a-byte", "truncate", "empty", "garbage"])
def test_a_corrupt_cached_document_is_detected_and_fetched_again(make_client, edgar, corpus, caplog, damage):
    client = make_client()
    pair = client.latest_annual_reports("AAPL")
    path = client.cache.path_of(client._archive_key(pair.newer.ref, pair.newer.ref.primary_document))
    raw = bytearray(path.read_bytes())
    if damage == "flip-a-byte":
        raw[len(raw) // 2] ^= 0x01
    elif damage == "truncate":
        raw = raw[: len(raw) // 2]
    elif damage == "empty":
        raw = bytearray()
    else:
        raw = bytearray(b"<html>not a cache entry</html>")
    path.write_bytes(bytes(raw))
    edgar.clear_log()
    with caplog.at_level(logging.WARNING, logger="sec_fetcher"):
        again = make_client().latest_annual_reports("AAPL")
    assert [r.path for r in edgar.requests] == ["/Archives/edgar/data/320193/000032019325000079/aapl-20250927.htm"]
    assert again.newer.sha256 == manifest_sha(corpus, "AAPL", "2025-09-27") and not again.newer.from_cache
    assert any("corrupt cache entry" in r.getMessage() for r in caplog.records)
    edgar.clear_log()
    make_client().latest_annual_reports("AAPL")
    assert edgar.requests == []  # repaired in place


def test_a_corrupt_cached_submissions_body_is_fetched_again(make_client, edgar):
    client = make_client()
    client.annual_report_choice("AAPL")
    path = client.cache.path_of(client._metadata_key(client.data, "submissions", "CIK0000320193.json"))
    path.write_bytes(path.read_bytes()[:-100])
    edgar.clear_log()
    make_client().annual_report_choice("AAPL")
    assert [r.path for r in edgar.requests] == ["/submissions/CIK0000320193.json"]


def test_an_unusable_cache_directory_does_not_fail_jobs(make_client, edgar, tmp_path, caplog):
    not_a_dir = tmp_path / "file-not-dir"
    not_a_dir.write_text("x")
    with caplog.at_level(logging.WARNING, logger="sec_fetcher"):
        pair = make_client(EDGAR_CACHE_DIR=str(not_a_dir)).latest_annual_reports("AAPL")
    assert pair.newer.ref.period_of_report == "2025-09-27"
    assert [r.getMessage() for r in caplog.records if r.getMessage().startswith("cache ")] == ["cache read failed"]  # once, not per call


def test_the_cache_stays_within_its_bound_evicting_the_least_recently_used(make_client, edgar):
    client = make_client(EDGAR_CACHE_MAX_MB="8")  # Apple's two 10-Ks (3 MB) and Tesla's (5.3 MB) do not fit together
    client.latest_annual_reports("AAPL")
    client.latest_annual_reports("TSLA")
    assert client.cache.size_bytes() <= 8 * 1024 * 1024
    edgar.clear_log()
    client.latest_annual_reports("TSLA")  # the most recently used company is still cached...
    assert edgar.requests == []
    client.latest_annual_reports("AAPL")  # ...the least recently used one was evicted
    assert len(edgar.requests_to(r"^/Archives/edgar/data/320193/")) == 2
