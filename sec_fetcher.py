"""EDGAR client: ticker -> CIK -> the two latest annual reports -> their documents, politely.

Paths are EDGAR's real ones under two base URLs (settings), so a mirror or the test stand-in in
`tests/edgar_standin.py` can take the SEC's place:

- `{www}/files/company_tickers.json`                           ticker -> CIK and name
- `{data}/submissions/CIK##########.json`                      filing history (+ `filings.files[]` pages)
- `{www}/Archives/edgar/data/<cik>/<accession-no-dashes>/<primaryDocument>`
- `{www}/Archives/edgar/data/<cik>/<accession-no-dashes>/index.json`   when the primary document is
  missing or is not the report (then a document named like a 10-K, else the full submission `.txt`)

Fair access (the SEC's policy for automated access): every request declares `SEC_USER_AGENT`,
waits for its turn at the SEC (`sec_access.py`: a request slot shared by everything that calls EDGAR
from this IP address, at most `SEC_MAX_REQUESTS_PER_SECOND`, never above 10; none while a 429 pause
or the SEC's block lasts), has connect/read timeouts, and is retried on 429, 5xx, network errors and
bad bodies with the backoff of `retry.py`, honouring `Retry-After`. The SEC's throttle answer is a
403 with an "automated traffic" page, not a 429: it stops every SEC call of the host for
`SEC_BLOCK_COOLDOWN_SECONDS`, since each further request extends the block.
No wait or retry runs past the job's deadline.

Choosing filings is pure (`choose_annual_reports`); HTTP and the cache (`edgar_cache.py`) stay in
`EdgarClient`.
"""

from __future__ import annotations

import contextvars
import hashlib
import json
import logging
import random
import re
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any, Callable, Iterable, Mapping

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import DecodeError, ProtocolError, ReadTimeoutError

from edgar_cache import CacheEntry, EdgarCache, safe_key
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
from job import normalize_ticker
from retry import Backoff, retry_after_seconds
from sec_access import SecAccess

log = logging.getLogger("sec_fetcher")

ANNUAL_FORMS = ("10-K", "10-K405", "10-KT", "10-KSB", "10-KSB40", "10-K405T", "10-KT405")
AMENDMENT_FORMS = tuple(f + "/A" for f in ANNUAL_FORMS)
FOREIGN_ANNUAL_FORMS = ("20-F", "40-F")
FOREIGN_AMENDMENT_FORMS = ("20-F/A", "40-F/A")
_BLOCK_PAGE_MARKERS = (
    b"request rate threshold exceeded",
    b"undeclared automated tool",
    b"automated tools outside of the acceptable policy",
    b"declare your traffic",
)
_ACCESSION = re.compile(r"^\d{10}-\d{2}-\d{6}$")
_DOCUMENT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")
_SUBMISSIONS_PAGE = re.compile(r"^CIK\d{10}-submissions-\d{3}\.json$")
_REPORT_LIKE = re.compile(rb"10-K", re.IGNORECASE)
_REPORT_NAME = re.compile(r"10-?k|10vk", re.IGNORECASE)
_EXHIBIT_NAME = re.compile(r"ex(hibit)?[-_]?\d", re.IGNORECASE)  # dex21.htm, tsla-ex21_1.htm, a10-kexhibit211.htm
_NOT_A_DOCUMENT = re.compile(r"-index(-headers)?\.html?$|^R\d+\.htm$|^FilingSummary", re.IGNORECASE)

DOCUMENT_MAX_BYTES = 256 * 1024 * 1024  # a full submission with exhibits can be large; anything bigger is wrong
JSON_MAX_BYTES = 64 * 1024 * 1024
REJECTED_BODY_RETRIES = 1  # a body of the wrong kind (valid JSON of the wrong shape, not the report) is retried once
TICKER_MISS_REVALIDATE_SECONDS = 60.0  # an unknown ticker re-checks a cached ticker list older than this
MAX_UNNAMED_CANDIDATES = 3  # documents of a filing index tried when none is named like a 10-K


# --------------------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Company:
    cik: int
    name: str
    ticker: str

    @property
    def cik10(self) -> str:
        return f"{self.cik:010d}"


@dataclass(frozen=True)
class FilingRef:
    """One row of the filing history, as EDGAR lists it."""

    cik: int
    form: str
    accession: str
    filing_date: str
    period_of_report: str | None
    primary_document: str | None

    @property
    def accession_path(self) -> str:
        return self.accession.replace("-", "")

    @property
    def period(self) -> str:
        """What the filing reports on; the filing date stands in when EDGAR lists no period."""
        return self.period_of_report or self.filing_date


@dataclass(frozen=True)
class ChosenReport:
    """The original annual report chosen for one period, and what may stand in for it."""

    filing: FilingRef
    fallbacks: tuple[FilingRef, ...] = ()  # other originals of the period, then its amendments, newest first
    amendments: tuple[FilingRef, ...] = ()  # amendments of the period (not used while the original has a body)

    @property
    def period(self) -> str:
        return self.filing.period


@dataclass(frozen=True)
class AnnualReportChoice:
    older: ChosenReport
    newer: ChosenReport


@dataclass(frozen=True)
class FetchedFiling:
    """A filing's document with its provenance; `content` is never stored in the report."""

    ref: FilingRef
    url: str
    content: bytes = field(repr=False)
    sha256: str
    fetched_at: str
    from_cache: bool = False
    note: str | None = None

    def provenance(self) -> dict[str, Any]:
        return {
            "form": self.ref.form,
            "accession": self.ref.accession,
            "filing_date": self.ref.filing_date,
            "period_of_report": self.ref.period_of_report,
            "primary_document": self.ref.primary_document,
            "url": self.url,
            "bytes": len(self.content),
            "sha256": self.sha256,
            "fetched_at": self.fetched_at,
            "from_cache": self.from_cache,
            "note": self.note,
        }


@dataclass(frozen=True)
class AnnualReportPair:
    company: Company
    older: FetchedFiling
    newer: FetchedFiling


# --------------------------------------------------------------------------------------------------
# Pure functions over EDGAR's data
# --------------------------------------------------------------------------------------------------


SHARE_CLASSES = frozenset("ABC")  # suffixes of common-share classes in company_tickers.json (BRK-B, BF-A, LEN-B)


class TickerIndex:
    """company_tickers.json (`{"0": {"cik_str", "ticker", "title"}, ...}`) indexed for lookups.

    Order of lookup: the exact ticker (`BRK.B` is written `BRK-B`), then without punctuation
    (`BRKB`), then a share-class base (`BRK` -> BRK-A/BRK-B) — the last two only when they name
    a single company, so a guess never picks the wrong one. Only common-share classes (-A, -B, -C)
    make a base: preferreds (-PA), warrants (-WT), units (-UN) and rights (-RI) are other securities,
    often of another company (CELG-RI is Bristol-Myers Squibb's right, not Celgene, which is gone).
    """

    def __init__(self, tickers_json: Mapping):
        self.exact: dict[str, tuple[int, str]] = {}
        squashed: dict[str, set[int]] = {}
        bases: dict[str, set[int]] = {}
        titles: dict[int, str] = {}
        rows = tickers_json.values() if isinstance(tickers_json, Mapping) else ()
        for row in rows:
            if not (isinstance(row, Mapping) and "ticker" in row and "cik_str" in row):
                continue
            try:
                cik = int(row["cik_str"])
            except (TypeError, ValueError):
                continue
            symbol = normalize_ticker(str(row["ticker"]))
            titles.setdefault(cik, str(row.get("title") or ""))
            self.exact.setdefault(symbol, (cik, titles[cik]))
            squashed.setdefault(symbol.replace("-", ""), set()).add(cik)
            base, _, share_class = symbol.partition("-")
            if share_class in SHARE_CLASSES:
                bases.setdefault(base, set()).add(cik)
        self.squashed = {k: next(iter(v)) for k, v in squashed.items() if len(v) == 1}
        self.bases = {k: next(iter(v)) for k, v in bases.items() if len(v) == 1}
        self.titles = titles

    def __len__(self) -> int:
        return len(self.exact)

    def lookup(self, ticker: str) -> Company:
        wanted = normalize_ticker(ticker)
        hit = self.exact.get(wanted)
        cik = hit[0] if hit else self.squashed.get(wanted.replace("-", "")) or self.bases.get(wanted)
        if cik is None:
            raise TickerNotFound(f"ticker {wanted!r} is not in the SEC's company list")
        return Company(cik=cik, name=self.titles.get(cik, ""), ticker=wanted)


def filing_rows(block: Mapping, cik: int) -> list[FilingRef]:
    """Turn EDGAR's parallel arrays (`filings.recent` or a `files[]` page) into rows."""
    try:
        forms = block["form"]
        accessions = block["accessionNumber"]
        filing_dates = block["filingDate"]
    except (KeyError, TypeError):
        raise SecBadResponse("the submissions JSON lacks the filing arrays") from None
    if not (isinstance(forms, list) and isinstance(accessions, list) and isinstance(filing_dates, list)):
        raise SecBadResponse("the submissions JSON's filing arrays are not lists")
    if not len(forms) == len(accessions) == len(filing_dates):
        raise SecBadResponse("the submissions JSON's filing arrays differ in length")
    report_dates = block.get("reportDate") or []
    documents = block.get("primaryDocument") or []
    rows = []
    for i, form in enumerate(forms):
        accession = str(accessions[i])
        if not _ACCESSION.match(accession):
            continue  # not a filing we could address; never build a URL from it
        rows.append(
            FilingRef(
                cik=cik,
                form=str(form),
                accession=accession,
                filing_date=str(filing_dates[i]),
                period_of_report=(str(report_dates[i]) or None) if i < len(report_dates) and report_dates[i] else None,
                primary_document=(str(documents[i]) or None) if i < len(documents) and documents[i] else None,
            )
        )
    return rows


def _newest_first(rows: Iterable[FilingRef]) -> list[FilingRef]:
    return sorted(rows, key=lambda r: (r.filing_date, r.accession), reverse=True)


def annual_periods(rows: Iterable[FilingRef]) -> set[str]:
    return {r.period for r in rows if r.form in ANNUAL_FORMS}


def latest_annual_filing(rows: Iterable[FilingRef]) -> FilingRef | None:
    """The newest original annual report of any kind (10-K family, 20-F or 40-F)."""
    annual = [r for r in rows if r.form in ANNUAL_FORMS or r.form in FOREIGN_ANNUAL_FORMS]
    return _newest_first(annual)[0] if annual else None


def needs_older_history(rows: Iterable[FilingRef]) -> bool:
    """True while the rows hold fewer than two 10-K periods (then read `files[]` pages), unless
    the company's latest annual report is a 20-F/40-F: older pages cannot change that answer."""
    rows = list(rows)
    latest = latest_annual_filing(rows)
    if latest is not None and latest.form in FOREIGN_ANNUAL_FORMS:
        return False
    return len(annual_periods(rows)) < 2


def choose_annual_reports(rows: Iterable[FilingRef]) -> AnnualReportChoice:
    """The two most recent original annual reports by period of report.

    Amendments (10-K/A) are kept only as stand-ins for an original without a usable document:
    they are often partial (Part III only, one exhibit). A company whose latest annual report is
    a 20-F/40-F is a foreign private issuer: `UnsupportedFiler`. Fewer than two: `FilingsUnavailable`.
    """
    rows = _newest_first(rows)
    latest_annual = latest_annual_filing(rows)
    if latest_annual is not None and latest_annual.form in FOREIGN_ANNUAL_FORMS:
        raise UnsupportedFiler(
            f"the company files {latest_annual.form} annual reports (a foreign private issuer), not 10-K; "
            f"its latest is for period {latest_annual.period}"
        )
    by_period: dict[str, list[FilingRef]] = {}
    for row in rows:
        if row.form in ANNUAL_FORMS:
            by_period.setdefault(row.period, []).append(row)
    periods = sorted(by_period, reverse=True)
    if len(periods) < 2:
        if not periods and any(r.form in FOREIGN_AMENDMENT_FORMS for r in rows):
            raise UnsupportedFiler("the company files 20-F/40-F annual reports (a foreign private issuer), not 10-K")
        amendments_only = sorted({r.period for r in rows if r.form in AMENDMENT_FORMS} - set(periods))
        found = (
            "no original annual report (10-K)"
            if not periods
            else f"one original annual report ({by_period[periods[0]][0].form} for period {periods[0]}, "
            f"filed {by_period[periods[0]][0].filing_date})"
        )
        extra = f"; amendments alone for {', '.join(amendments_only)} do not count" if amendments_only else ""
        raise FilingsUnavailable(f"EDGAR lists {found}{extra}; a year-over-year report needs two")
    return AnnualReportChoice(older=_chosen(rows, by_period, periods[1]), newer=_chosen(rows, by_period, periods[0]))


def _chosen(rows: list[FilingRef], by_period: dict[str, list[FilingRef]], period: str) -> ChosenReport:
    originals = by_period[period]  # newest first: a later original for the same period supersedes
    amendments = tuple(r for r in rows if r.form in AMENDMENT_FORMS and r.period == period)
    return ChosenReport(filing=originals[0], fallbacks=tuple(originals[1:]) + amendments, amendments=amendments)


def provenance_note(chosen: ChosenReport, used: FilingRef, problems: list[str], document_note: str | None) -> str | None:
    """What a reader of the report should know about how this filing was obtained."""
    notes = []
    if used.accession != chosen.filing.accession:
        notes.append(
            f"the original {chosen.filing.form} ({chosen.filing.accession}) has no usable document "
            f"({'; '.join(problems)}); the {used.form} filed {used.filing_date} ({used.accession}) is used instead"
        )
    elif chosen.amendments:
        listed = ", ".join(f"{a.form} {a.accession} filed {a.filing_date}" for a in chosen.amendments)
        notes.append(f"not used: {listed} (amendments are often partial; the original is complete)")
    if used.form.startswith("10-KT"):
        notes.append("a transition-period report (10-KT): it may cover less than a full year")
    if document_note:
        notes.append(document_note)
    return "; ".join(notes) or None


def report_document_candidates(index_json: Mapping, accession: str, tried: Iterable[str] = ()) -> list[str]:
    """From a filing's index.json, the documents that may hold the annual report, best first.

    Documents named like the form (`d10k.htm`, `d03686e10vk.txt`) first, then the largest other
    documents (a modern primary document is named `tsla-20241231.htm`), exhibits never; the full
    submission `<accession>.txt` (every document of the filing, SGML-wrapped) is the last resort.
    """
    full_submission = f"{accession}.txt"
    try:
        items = [i for i in index_json["directory"]["item"] if isinstance(i, Mapping)]
    except (KeyError, TypeError):
        items = []
    tried = set(tried)
    documents = []
    for item in items:
        name = str(item.get("name", ""))
        if (
            name in tried
            or name == full_submission
            or not _DOCUMENT_NAME.match(name)
            or not name.lower().endswith((".htm", ".html", ".txt"))
            or _NOT_A_DOCUMENT.search(name)
            or _EXHIBIT_NAME.search(name)
        ):
            continue
        try:
            size = int(item.get("size") or 0)
        except (TypeError, ValueError):
            size = 0
        documents.append((name, size))
    named = [name for name, _ in documents if _REPORT_NAME.search(name)]
    largest = [name for name, _ in sorted(documents, key=lambda d: -d[1]) if name not in named][:MAX_UNNAMED_CANDIDATES]
    return named + largest + ([full_submission] if full_submission not in tried else [])


def looks_like_annual_report(content: bytes) -> bool:
    """Every 10-K names its form; a maintenance or error page served with 200 does not."""
    return bool(content.strip()) and _REPORT_LIKE.search(content) is not None


def is_block_page(body: bytes) -> bool:
    """The SEC's throttle page ("Request Rate Threshold Exceeded" / "Undeclared Automated Tool")."""
    head = body[:65536].lower()
    return any(marker in head for marker in _BLOCK_PAGE_MARKERS)


# --------------------------------------------------------------------------------------------------
# The client
# --------------------------------------------------------------------------------------------------


class _NotFound(Exception):
    """EDGAR answered 404: the caller decides what a missing resource means."""


class _Rejected(Exception):
    """A 200 answer whose body is not what was asked for."""

    def __init__(self, reason: str, code: str, *, transient: bool):
        super().__init__(reason)
        self.reason, self.code, self.transient = reason, code, transient


@dataclass(frozen=True)
class _Request:
    """One GET as `_fetch` was asked for it, handed down the send chain."""

    url: str
    what: str  # for messages: "the filing history of CIK 0000320193"
    headers: Mapping[str, str]
    deadline: float | None
    accept: Callable[[bytes], Any]  # judges a 200 body: its value, or _Rejected
    max_bytes: int
    conditional: bool  # asked with what the cache holds: a 304 is an answer

    @property
    def path(self) -> str:
        return self.url.split("/", 3)[-1]


@dataclass(frozen=True)
class _Response:
    """EDGAR's answer, its body read whole."""

    status: int
    headers: Mapping[str, str]
    content: bytes = field(repr=False)

    @property
    def etag(self) -> str | None:
        return self.headers.get("ETag")

    @property
    def last_modified(self) -> str | None:
        return self.headers.get("Last-Modified")


@dataclass(frozen=True)
class _Failure:
    """What went wrong in one attempt, whether and when to try again, and the error type it ends in."""

    kind: str  # throttled | unavailable | bad
    reason: str
    rejected: str | None = None  # the code of a rejected 200 body
    lasting: bool = False  # a body of the wrong kind: tried again REJECTED_BODY_RETRIES times only
    retry_after: float | None = None  # what EDGAR asked us to wait

    def error(self, what: str, tail: str):
        message = f"{what}: {self.reason}; {tail}"
        if self.kind == "throttled":
            return SecRateLimited(message)
        if self.kind == "bad":
            return SecBadResponse(message, details={"rejected": self.rejected} if self.rejected else None)
        return SecUnavailable(message)


@dataclass(frozen=True)
class _Answer:
    status: int
    content: bytes
    value: Any
    etag: str | None
    last_modified: str | None


@dataclass(frozen=True)
class _Json:
    value: Any
    sha256: str
    age: float
    from_cache: bool


@dataclass(frozen=True)
class _Document:
    content: bytes
    url: str
    sha256: str
    fetched_at: str
    from_cache: bool


class _NoReportBody(Exception):
    pass


class EdgarClient:
    """One per process, shared by every job thread: it owns the process's access to the SEC and the cache."""

    def __init__(
        self,
        settings,
        session: requests.Session | None = None,
        *,
        cache: EdgarCache | None = None,
        rng: random.Random | None = None,
        on_count: Callable[[str, int], None] | None = None,
    ):
        self.settings = settings
        self.session = session or _new_session()
        self.cache = cache or EdgarCache.from_settings(settings)
        self.www = settings.sec_www_base_url.rstrip("/")
        self.data = settings.sec_data_base_url.rstrip("/")
        self.on_count = on_count  # e.g. Metrics.record_sec: every counter of stats() as it moves
        self.access = SecAccess.from_settings(settings, count=self._count)  # slots, the 429 pause, the block
        self.max_retries = int(settings.sec_max_retries)
        self.backoff = Backoff(base=settings.sec_retry_base_seconds, cap=settings.sec_retry_max_delay_seconds)
        self.ttl = float(settings.edgar_metadata_ttl_seconds)
        self._rng = rng or random.Random()
        self._lock = threading.Lock()  # guards the fields below
        self._tickers: tuple[str, TickerIndex] | None = None  # (sha256 of the ticker list, its index)
        self._stats: Counter = Counter()

    # -- public API --------------------------------------------------------------------------------

    def latest_annual_reports(self, ticker: str, *, deadline: float | None = None) -> AnnualReportPair:
        """The company's two latest annual reports, documents included; no wait runs past `deadline`."""
        self._require_user_agent()
        company, choice = self.annual_report_choice(ticker, deadline=deadline)
        log.info(
            "annual reports chosen",
            extra={
                "cik": company.cik,
                "older": choice.older.filing.accession,
                "newer": choice.newer.filing.accession,
                "older_period": choice.older.period,
                "newer_period": choice.newer.period,
            },
        )
        older, newer = self._fetch_both(choice, deadline)
        return AnnualReportPair(company=company, older=older, newer=newer)

    def annual_report_choice(self, ticker: str, *, deadline: float | None = None) -> tuple[Company, AnnualReportChoice]:
        """Which two filings a report would use (metadata only, no documents)."""
        company = self.company(ticker, deadline=deadline)
        return company, choose_annual_reports(self.filing_history(company, deadline=deadline))

    def company(self, ticker: str, *, deadline: float | None = None) -> Company:
        url = f"{self.www}/files/company_tickers.json"
        key = self._metadata_key(self.www, "files", "company_tickers.json")
        tickers = self._json(url, key, what="the SEC ticker list", deadline=deadline, shape=_ticker_list_problem, ttl=self.ttl)
        try:
            return self._ticker_index(tickers).lookup(ticker)
        except TickerNotFound:
            if not (tickers.from_cache and tickers.age >= TICKER_MISS_REVALIDATE_SECONDS):
                raise
        # A company listed since our copy was fetched: check once for a newer list.
        tickers = self._json(url, key, what="the SEC ticker list", deadline=deadline, shape=_ticker_list_problem, ttl=0.0)
        return self._ticker_index(tickers).lookup(ticker)

    def filing_history(self, company: Company, *, deadline: float | None = None) -> list[FilingRef]:
        """`filings.recent`, plus older `files[]` pages only while fewer than two annual reports are found."""
        what = f"the filing history of CIK {company.cik10}"
        try:
            submissions = self._json(
                f"{self.data}/submissions/CIK{company.cik10}.json",
                self._metadata_key(self.data, "submissions", f"CIK{company.cik10}.json"),
                what=what,
                deadline=deadline,
                shape=_submissions_problem,
                ttl=self.ttl,
            ).value
        except _NotFound:
            raise FilingsUnavailable(f"EDGAR has no filing history for CIK {company.cik10}") from None
        filings = submissions["filings"]
        rows = filing_rows(filings["recent"], company.cik)
        for page in filings.get("files") or []:
            if not needs_older_history(rows):
                break
            name = str(page.get("name", "")) if isinstance(page, Mapping) else ""
            if not _SUBMISSIONS_PAGE.match(name):
                raise SecBadResponse(f"{what}: a files[] entry has an unexpected name")
            try:
                older = self._json(
                    f"{self.data}/submissions/{name}",
                    self._metadata_key(self.data, "submissions", name),
                    what=f"{what} ({name})",
                    deadline=deadline,
                    shape=_page_problem,
                    ttl=self.ttl,
                ).value
            except _NotFound:
                raise SecBadResponse(f"{what}: the listed page {name} is missing (404)") from None
            rows.extend(filing_rows(older, company.cik))
        return rows

    def fetch_filing(self, chosen: ChosenReport, *, deadline: float | None = None) -> FetchedFiling:
        """The chosen original's document; an amendment only when the original has no usable one."""
        problems: list[str] = []
        for ref in (chosen.filing, *chosen.fallbacks):
            try:
                used, document, document_note = self._report_document(ref, deadline)
            except _NoReportBody as exc:
                problems.append(f"{ref.form} {ref.accession}: {exc}")
                continue
            if used.accession != chosen.filing.accession:
                log.warning(
                    "original annual report has no usable document; using a stand-in",
                    extra={"original": chosen.filing.accession, "used": used.accession, "form": used.form},
                )
            return FetchedFiling(
                ref=used,
                url=document.url,
                content=document.content,
                sha256=document.sha256,
                fetched_at=document.fetched_at,
                from_cache=document.from_cache,
                note=provenance_note(chosen, used, problems, document_note),
            )
        raise FilingsUnavailable(f"the annual report for period {chosen.period} has no usable document: {'; '.join(problems)}")

    def document_url(self, ref: FilingRef, name: str | None = None) -> str:
        return f"{self.www}/Archives/edgar/data/{ref.cik}/{ref.accession_path}/{name or ref.primary_document}"

    def stats(self) -> dict[str, int]:
        """Counters since start: requests, retries, throttled, blocked, cache hits... (for metrics and benchmarks)."""
        with self._lock:
            return dict(self._stats)

    # -- documents ---------------------------------------------------------------------------------

    def _fetch_both(self, choice: AnnualReportChoice, deadline: float | None) -> tuple[FetchedFiling, FetchedFiling]:
        """Both documents at once (each still takes its rate-limit slot): a cold fetch takes one download, not two."""
        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="edgar-fetch")
        try:
            older_future = pool.submit(contextvars.copy_context().run, self.fetch_filing, choice.older, deadline=deadline)
            newer = self.fetch_filing(choice.newer, deadline=deadline)
            older = older_future.result()
        finally:
            pool.shutdown(wait=False, cancel_futures=True)
        return older, newer

    def _report_document(self, ref: FilingRef, deadline: float | None) -> tuple[FilingRef, _Document, str | None]:
        """The primary document, or the best candidate of the filing index when it is missing or not the report."""
        tried: list[str] = []
        if ref.primary_document and _DOCUMENT_NAME.match(ref.primary_document):
            try:
                return ref, self._document(ref, ref.primary_document, deadline), None
            except _NotFound:
                reason = f"the primary document {ref.primary_document} is missing (404)"
            except SecBadResponse as exc:
                if exc.details.get("rejected") != "not_report":
                    raise
                reason = f"the primary document {ref.primary_document} is not the annual report"
            tried.append(ref.primary_document)
        elif ref.primary_document:
            reason = f"the primary document name {ref.primary_document!r} is not a plain file name"
        else:
            reason = "EDGAR names no primary document"
        for name in self._index_candidates(ref, tried, deadline):
            try:
                document = self._document(ref, name, deadline)
            except _NotFound:
                continue
            except SecBadResponse as exc:
                if exc.details.get("rejected") != "not_report":
                    raise
                continue
            log.info("used a document from the filing index", extra={"accession": ref.accession, "document": name, "reason": reason})
            return replace(ref, primary_document=name), document, f"{reason}; used {name} from the filing index"
        raise _NoReportBody(f"{reason}, and its filing index lists no document holding the report")

    def _index_candidates(self, ref: FilingRef, tried: list[str], deadline: float | None) -> list[str]:
        try:
            index = self._json(
                self.document_url(ref, "index.json"),
                self._archive_key(ref, "index.json"),
                what=f"the filing index of {ref.accession}",
                deadline=deadline,
                shape=_index_problem,
                ttl=None,  # a filing's directory does not change once accepted
            ).value
        except _NotFound:
            index = {}
        return report_document_candidates(index, ref.accession, tried)

    def _document(self, ref: FilingRef, name: str, deadline: float | None) -> _Document:
        url = self.document_url(ref, name)
        key = self._archive_key(ref, name)
        entry = self.cache.get(key) if key else None
        if entry is not None:
            self._count("cache_hits")
            log.debug("document from cache", extra={"accession": ref.accession, "document": name, "bytes": len(entry.body)})
            return _Document(entry.body, url, entry.sha256, entry.fetched_at, True)
        self._count("cache_misses")
        answer = self._fetch(url, what=f"{ref.form} {ref.accession} document {name}", deadline=deadline, accept=_accept_document,
                             max_bytes=DOCUMENT_MAX_BYTES)
        fetched_at = _now_iso()
        if key:
            self.cache.put(key, answer.content, url=url, fetched_at=fetched_at, etag=answer.etag, last_modified=answer.last_modified)
        return _Document(answer.content, url, hashlib.sha256(answer.content).hexdigest(), fetched_at, False)

    # -- JSON with the cache -----------------------------------------------------------------------

    def _json(self, url: str, key: str | None, *, what: str, deadline, shape: Callable[[Any], str | None], ttl: float | None) -> _Json:
        """Cached JSON: fresh within `ttl` (None: forever), else revalidated (If-None-Match) or fetched."""
        entry = self.cache.get(key) if key else None
        value = None
        if entry is not None:
            value = _parse_json(entry.body, shape)
            if value is None:  # intact file, unusable content (e.g. an older schema): fetch again
                self.cache.delete(key)
                entry = None
            elif ttl is None or entry.age() < ttl:
                self._count("cache_hits")
                return _Json(value, entry.sha256, entry.age(), True)
        self._count("cache_misses")
        answer = self._fetch(url, what=what, deadline=deadline, accept=_json_acceptor(shape), conditional=entry, max_bytes=JSON_MAX_BYTES)
        if answer.status == 304 and entry is not None:
            self._count("revalidated")
            if key:
                self.cache.put(
                    key, entry.body, url=url, fetched_at=entry.fetched_at,
                    etag=answer.etag or entry.etag, last_modified=answer.last_modified or entry.last_modified,
                )
            return _Json(value, entry.sha256, 0.0, True)
        if key:
            self.cache.put(key, answer.content, url=url, fetched_at=_now_iso(), etag=answer.etag, last_modified=answer.last_modified)
        return _Json(answer.value, hashlib.sha256(answer.content).hexdigest(), 0.0, False)

    def _ticker_index(self, tickers: _Json) -> TickerIndex:
        """Index the ticker list once per version of it (it has about 10,000 rows)."""
        with self._lock:
            if self._tickers is not None and self._tickers[0] == tickers.sha256:
                return self._tickers[1]
        index = TickerIndex(tickers.value)
        with self._lock:
            self._tickers = (tickers.sha256, index)
        return index

    # -- HTTP: fetch -> retries -> one attempt (access, send, status) ------------------------------

    def _fetch(
        self,
        url: str,
        *,
        what: str,
        deadline: float | None,
        accept: Callable[[bytes], Any],
        max_bytes: int,
        conditional: CacheEntry | None = None,
    ) -> _Answer:
        """GET with fair access, timeouts, retries and block detection; `accept` judges 200 bodies.

        Layered like httpx's send chain, each step doing one thing: the request (identity, cache
        validators) -> retries (how many, the wait between them) -> one attempt (our turn at the SEC,
        the GET on the wire, what EDGAR's answer means).
        """
        self._require_user_agent()
        request = self._request(url, what, deadline, accept, max_bytes, conditional)
        return self._send_handling_retries(request)

    def _request(
        self, url: str, what: str, deadline: float | None, accept: Callable[[bytes], Any], max_bytes: int, cached: CacheEntry | None
    ) -> _Request:
        """Who we are (the SEC's policy), and what the cache holds: an unchanged body then costs a 304, not a download."""
        headers = {"User-Agent": self.settings.sec_user_agent, "Accept-Encoding": "gzip, deflate"}
        if cached is not None and cached.etag:
            headers["If-None-Match"] = cached.etag
        if cached is not None and cached.last_modified:
            headers["If-Modified-Since"] = cached.last_modified
        return _Request(url, what, headers, deadline, accept, max_bytes, conditional=cached is not None)

    def _send_handling_retries(self, request: _Request) -> _Answer:
        """Attempt until EDGAR answers, an error ends the call, or the attempts run out."""
        attempts = self.max_retries + 1
        rejections = 0
        attempt = 0
        while True:
            attempt += 1
            outcome = self._send_once(request, attempt)
            if isinstance(outcome, _Answer):
                return outcome
            if outcome.lasting:  # a body of the wrong kind: REJECTED_BODY_RETRIES more attempts at most
                rejections += 1
                attempts = min(attempts, attempt + REJECTED_BODY_RETRIES) if rejections == 1 else attempt
            if attempt >= attempts:
                raise outcome.error(request.what, f"gave up after {attempt} attempt{'s' if attempt > 1 else ''}")
            self._wait_before_retry(request, outcome, attempt)

    def _wait_before_retry(self, request: _Request, failure: _Failure, attempt: int) -> None:
        """The backoff, or EDGAR's Retry-After when longer; an error instead when that outlasts our cap or the job."""
        if failure.retry_after is not None and failure.retry_after > self.backoff.cap:
            raise failure.error(request.what, f"EDGAR asked to retry after {failure.retry_after:.0f} s, longer than this service waits")
        delay = max(self.backoff.delay(attempt, self._rng), failure.retry_after or 0.0)
        if request.deadline is not None and time.monotonic() + delay >= request.deadline:
            raise failure.error(request.what, f"no time left before the job's deadline for another attempt (after {attempt})")
        self._count("retries")
        log.warning(
            "sec request failed; retrying",
            extra={"path": request.path, "attempt": attempt, "reason": failure.reason, "delay_s": round(delay, 3)},
        )
        time.sleep(delay)

    def _send_once(self, request: _Request, attempt: int) -> _Answer | _Failure:
        """One attempt: our turn at the SEC, the GET, and what the answer means."""
        self.access.acquire(request.deadline)
        response = self._send(request, attempt)
        if isinstance(response, _Failure):
            return response
        return self._handle_status(request, response, attempt)

    def _send(self, request: _Request, attempt: int) -> _Response | _Failure:
        """The GET on the wire, its body read whole; network trouble and cut bodies are failures to retry."""
        timeout = self._timeouts(request.deadline)
        started = time.monotonic()
        self._count("requests")
        try:
            response = self.session.get(request.url, headers=request.headers, timeout=timeout, stream=True)
            try:
                content = _read_body(response, request.deadline, request.max_bytes, request.what)
            finally:
                response.close()
        except (requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError, _Truncated):
            self._check_deadline(request.deadline)
            return _Failure("bad", "the body ended before its declared length (truncated)", "truncated")
        except requests.Timeout:
            self._check_deadline(request.deadline)
            return _Failure("unavailable", f"no answer within {timeout[1]:.1f} s")
        except requests.ConnectionError as exc:
            self._check_deadline(request.deadline)
            return _Failure("unavailable", f"network error ({type(exc).__name__})")
        except requests.RequestException as exc:
            raise SecBadResponse(f"{request.what}: the request failed ({type(exc).__name__})") from None
        duration_ms = int((time.monotonic() - started) * 1000)
        self._count("bytes_downloaded", len(content))
        log.debug(
            "sec request",
            extra={"path": request.path, "status": response.status_code, "attempt": attempt, "bytes": len(content), "duration_ms": duration_ms},
        )
        return _Response(response.status_code, response.headers, content)

    def _handle_status(self, request: _Request, response: _Response, attempt: int) -> _Answer | _Failure:
        """What EDGAR's answer means: the answer, a failure worth another attempt, or an error that ends the call."""
        status = response.status
        if status == 200:
            try:
                value = request.accept(response.content)
            except _Rejected as rejected:
                return _Failure("bad", rejected.reason, rejected.code, lasting=not rejected.transient)
            return _Answer(200, response.content, value, response.etag, response.last_modified)
        if status == 304 and request.conditional:
            return _Answer(304, b"", None, response.etag, response.last_modified)
        if status in (403, 429) and is_block_page(response.content):
            raise self.access.block(request.path)
        if status == 404:
            raise _NotFound(request.url)
        if status == 429 or status >= 500:
            return self._slow_down(response, attempt)
        raise SecBadResponse(f"{request.what}: EDGAR answered HTTP {status}")

    def _slow_down(self, response: _Response, attempt: int) -> _Failure:
        """A 429 or a 5xx, tried again; a 429 or a Retry-After pauses every thread of this process, not just this call."""
        retry_after = retry_after_seconds(response.headers)
        if response.status == 429 or retry_after is not None:
            self.access.pause(retry_after if retry_after is not None else self.backoff.delay(attempt, self._rng))
        if response.status == 429:
            self._count("throttled")
            return _Failure("throttled", "HTTP 429", retry_after=retry_after)
        return _Failure("unavailable", f"HTTP {response.status}", retry_after=retry_after)

    def _timeouts(self, deadline: float | None) -> tuple[float, float]:
        """The configured timeouts, shortened so that no call outlives the job's deadline."""
        connect, read = self.settings.sec_connect_timeout_seconds, self.settings.sec_read_timeout_seconds
        if deadline is None:
            return connect, read
        remaining = deadline - time.monotonic()
        if remaining <= 0.01:
            raise JobTimeout("the job's time ran out while fetching from SEC EDGAR")
        return min(connect, remaining), min(read, remaining)

    def _check_deadline(self, deadline: float | None) -> None:
        if deadline is not None and time.monotonic() >= deadline - 0.01:
            raise JobTimeout("the job's time ran out while fetching from SEC EDGAR")

    # -- helpers -----------------------------------------------------------------------------------

    def _require_user_agent(self) -> None:
        if not self.settings.sec_user_agent:
            raise SecUserAgentMissing()

    def _count(self, name: str, n: int = 1) -> None:
        with self._lock:
            self._stats[name] += n
        if self.on_count is not None:
            self.on_count(name, n)

    def _metadata_key(self, base: str, *segments: str) -> str:
        """Metadata depends on who serves it (SEC, a mirror, a stand-in): key it by base URL too."""
        return safe_key("metadata", hashlib.sha256(base.encode()).hexdigest()[:12], *segments)

    def _archive_key(self, ref: FilingRef, name: str) -> str | None:
        """Archive files are immutable and the same from any server: keyed by CIK and accession only."""
        try:
            return safe_key("archives", str(ref.cik), ref.accession_path, name)
        except ValueError:
            return None


# --------------------------------------------------------------------------------------------------
# Bodies
# --------------------------------------------------------------------------------------------------


class _Truncated(Exception):
    pass


def _read_body(response: requests.Response, deadline: float | None, max_bytes: int, what: str) -> bytes:
    """Read the whole body, stopping at the deadline or the size limit; detect truncation.

    `read1` returns whatever has arrived, so the deadline is checked as data trickles in; a 64 KiB
    `iter_content` chunk would wait for all its bytes (found in review: a server sending 200 bytes
    every half second held a download 40 s past a 3 s deadline, each socket read within its timeout).
    """
    chunks, total = [], 0
    try:
        while chunk := response.raw.read1(1 << 16, decode_content=True):
            total += len(chunk)
            if total > max_bytes:
                raise SecBadResponse(f"{what}: the body exceeds {max_bytes // (1024 * 1024)} MB")
            chunks.append(chunk)
            if deadline is not None and time.monotonic() >= deadline:
                raise JobTimeout("the job's time ran out while downloading from SEC EDGAR")
    except (ProtocolError, DecodeError):
        raise _Truncated() from None
    except ReadTimeoutError:
        raise requests.Timeout() from None
    body = b"".join(chunks)
    declared = response.headers.get("Content-Length")
    if declared and declared.isdigit() and not response.headers.get("Content-Encoding") and int(declared) != len(body):
        raise _Truncated()
    return body


def _parse_json(content: bytes, shape: Callable[[Any], str | None]) -> Any:
    try:
        value = json.loads(content)
    except ValueError:
        return None
    return value if shape(value) is None else None


def _json_acceptor(shape: Callable[[Any], str | None]) -> Callable[[bytes], Any]:
    def accept(content: bytes) -> Any:
        if not content.strip():
            raise _Rejected("empty body where JSON was expected", "empty", transient=True)
        try:
            value = json.loads(content)
        except ValueError:
            looks_html = content.lstrip()[:1] == b"<"
            raise _Rejected("HTML where JSON was expected" if looks_html else "not valid JSON", "not_json", transient=True) from None
        problem = shape(value)
        if problem:
            raise _Rejected(problem, "wrong_shape", transient=False)
        return value

    return accept


def _accept_document(content: bytes) -> bytes:
    if not content.strip():
        raise _Rejected("empty document", "empty", transient=True)
    if not looks_like_annual_report(content):
        raise _Rejected("the document does not mention Form 10-K: not the annual report", "not_report", transient=False)
    return content


def _ticker_list_problem(value: Any) -> str | None:
    if not isinstance(value, dict) or not value:
        return "the ticker list is not a JSON object of rows"
    first = next(iter(value.values()))
    if not (isinstance(first, dict) and "ticker" in first and "cik_str" in first):
        return "the ticker list's rows lack ticker/cik_str"
    return None


def _submissions_problem(value: Any) -> str | None:
    filings = value.get("filings") if isinstance(value, dict) else None
    recent = filings.get("recent") if isinstance(filings, dict) else None
    if not isinstance(recent, dict):
        return "the submissions JSON lacks filings.recent"
    return _arrays_problem(recent)


def _page_problem(value: Any) -> str | None:
    if not isinstance(value, dict):
        return "the submissions page is not a JSON object"
    return _arrays_problem(value)


def _arrays_problem(block: dict) -> str | None:
    """Checked before caching, so that a malformed body is retried, never kept for a day."""
    try:
        filing_rows(block, 0)
    except SecBadResponse as exc:
        return exc.message
    return None


def _index_problem(value: Any) -> str | None:
    directory = value.get("directory") if isinstance(value, dict) else None
    if not isinstance(directory, dict) or not isinstance(directory.get("item"), list):
        return "the filing index lacks directory.item"
    return None


def _new_session() -> requests.Session:
    """A session whose connection pool fits every job thread (requests' default keeps 10)."""
    session = requests.Session()
    adapter = HTTPAdapter(pool_connections=4, pool_maxsize=32, max_retries=0)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


def _now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
