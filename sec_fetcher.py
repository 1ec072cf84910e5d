"""EDGAR client: ticker -> CIK -> the two latest annual reports -> their primary documents.

Paths are EDGAR's real ones under two base URLs (settings), so a mirror or the test stand-in in
`tests/edgar_standin.py` can take the SEC's place:

- `{www}/files/company_tickers.json`                         ticker -> CIK and name
- `{data}/submissions/CIK##########.json`                    filing history (+ `filings.files[]` pages)
- `{www}/Archives/edgar/data/<cik>/<accession-no-dashes>/<primaryDocument>`
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any, Iterable

import requests

from exceptions import (
    FilingsUnavailable,
    SecBadResponse,
    SecRateLimited,
    SecUnavailable,
    SecUserAgentMissing,
    TickerNotFound,
    UnsupportedFiler,
)
from job import normalize_ticker

log = logging.getLogger("sec_fetcher")

ANNUAL_FORMS = ("10-K", "10-K405", "10-KT", "10-KSB", "10-KSB40", "10-K405T")
AMENDMENT_FORMS = tuple(f + "/A" for f in ANNUAL_FORMS)
FOREIGN_ANNUAL_FORMS = ("20-F", "40-F", "20-F/A", "40-F/A")
_BLOCK_PAGE_MARKERS = ("Request Rate Threshold Exceeded", "automated tools outside of the acceptable policy", "declare your traffic")


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


@dataclass(frozen=True)
class FetchedFiling:
    """A primary document with its provenance; `content` is never stored in the report."""

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
            "note": self.note,
        }


@dataclass(frozen=True)
class AnnualReportPair:
    company: Company
    older: FetchedFiling
    newer: FetchedFiling


# --------------------------------------------------------------------------------------------------
# Pure functions over EDGAR's JSON
# --------------------------------------------------------------------------------------------------


def ticker_variants(ticker: str) -> list[str]:
    """`BRK.B` -> BRK-B, BRK.B, BRKB: the spellings under which the SEC file may list a share class."""
    base = normalize_ticker(ticker)
    variants = [base, base.replace("-", "."), base.replace("-", "")]
    return list(dict.fromkeys(variants))


def find_company(tickers_json: dict, ticker: str) -> Company:
    """Look a ticker up in company_tickers.json (`{"0": {"cik_str", "ticker", "title"}, ...}`)."""
    wanted = ticker_variants(ticker)
    by_ticker: dict[str, dict] = {}
    for row in tickers_json.values():
        if isinstance(row, dict) and "ticker" in row and "cik_str" in row:
            by_ticker.setdefault(str(row["ticker"]).upper(), row)
            by_ticker.setdefault(str(row["ticker"]).upper().replace("-", ""), row)
    for variant in wanted:
        row = by_ticker.get(variant)
        if row is not None:
            return Company(cik=int(row["cik_str"]), name=str(row.get("title") or ""), ticker=normalize_ticker(ticker))
    raise TickerNotFound(f"ticker {normalize_ticker(ticker)!r} is not in the SEC's company list")


def filing_rows(block: dict, cik: int) -> list[FilingRef]:
    """Turn EDGAR's parallel arrays (`filings.recent` or a `files[]` page) into rows."""
    try:
        forms = block["form"]
        accessions = block["accessionNumber"]
        filing_dates = block["filingDate"]
    except (KeyError, TypeError):
        raise SecBadResponse("submissions JSON lacks the filing arrays") from None
    report_dates = block.get("reportDate") or [None] * len(forms)
    documents = block.get("primaryDocument") or [None] * len(forms)
    rows = []
    for i, form in enumerate(forms):
        rows.append(
            FilingRef(
                cik=cik,
                form=str(form),
                accession=str(accessions[i]),
                filing_date=str(filing_dates[i]),
                period_of_report=(report_dates[i] or None) if i < len(report_dates) else None,
                primary_document=(documents[i] or None) if i < len(documents) else None,
            )
        )
    return rows


def choose_annual_reports(rows: Iterable[FilingRef]) -> tuple[FilingRef, FilingRef]:
    """The two most recent original annual reports by period of report (newest second)."""
    rows = list(rows)
    originals = [r for r in rows if r.form in ANNUAL_FORMS]
    by_period: dict[str, FilingRef] = {}
    for row in sorted(originals, key=lambda r: (r.filing_date, r.accession)):
        period = row.period_of_report or row.filing_date
        by_period[period] = row  # a later original for the same period supersedes an earlier one
    chosen = sorted(by_period.values(), key=lambda r: (r.period_of_report or r.filing_date, r.filing_date))
    if len(chosen) >= 2:
        return chosen[-2], chosen[-1]
    if not originals and any(r.form in FOREIGN_ANNUAL_FORMS for r in rows):
        raise UnsupportedFiler("the company files 20-F/40-F annual reports, not 10-K")
    raise FilingsUnavailable(f"found {len(chosen)} annual report(s); two are needed for a year-over-year report")


def has_enough_annual_reports(rows: Iterable[FilingRef]) -> bool:
    periods = {r.period_of_report or r.filing_date for r in rows if r.form in ANNUAL_FORMS}
    return len(periods) >= 2


# --------------------------------------------------------------------------------------------------
# The client
# --------------------------------------------------------------------------------------------------


class EdgarClient:
    """Fetches from EDGAR with a declared User-Agent, timeouts and retries on 429/5xx."""

    def __init__(self, settings, session: requests.Session | None = None):
        self.settings = settings
        self.session = session or requests.Session()
        self.timeout = (settings.sec_connect_timeout_seconds, settings.sec_read_timeout_seconds)

    # -- HTTP --------------------------------------------------------------------------------------

    def _get(self, url: str, *, expect_json: bool) -> requests.Response:
        if not self.settings.sec_user_agent:
            raise SecUserAgentMissing()
        headers = {"User-Agent": self.settings.sec_user_agent, "Accept-Encoding": "gzip, deflate"}
        last_error = "no attempt"
        for attempt in range(self.settings.sec_max_retries + 1):
            try:
                response = self.session.get(url, headers=headers, timeout=self.timeout)
            except requests.RequestException as exc:
                last_error = type(exc).__name__
            else:
                if response.status_code == 200:
                    return response
                if response.status_code == 403 and any(m in response.text for m in _BLOCK_PAGE_MARKERS):
                    raise SecRateLimited()
                if response.status_code == 404:
                    raise SecBadResponse(f"EDGAR has no {url.split('/', 3)[-1]} (404)")
                if response.status_code != 429 and response.status_code < 500:
                    raise SecBadResponse(f"EDGAR answered {response.status_code} for {url.split('/', 3)[-1]}")
                last_error = f"HTTP {response.status_code}"
            if attempt < self.settings.sec_max_retries:
                time.sleep(min(8.0, 0.5 * 2**attempt))
        raise SecUnavailable(f"EDGAR did not answer after {self.settings.sec_max_retries + 1} attempts ({last_error})")

    def get_json(self, url: str) -> Any:
        response = self._get(url, expect_json=True)
        try:
            return json.loads(response.content)
        except ValueError:
            raise SecBadResponse(f"EDGAR answered non-JSON for {url.split('/', 3)[-1]}") from None

    # -- EDGAR endpoints ---------------------------------------------------------------------------

    def company(self, ticker: str) -> Company:
        return find_company(self.get_json(f"{self.settings.sec_www_base_url}/files/company_tickers.json"), ticker)

    def filing_history(self, company: Company) -> list[FilingRef]:
        base = self.settings.sec_data_base_url
        submissions = self.get_json(f"{base}/submissions/CIK{company.cik10}.json")
        filings = submissions.get("filings") if isinstance(submissions, dict) else None
        if not isinstance(filings, dict) or "recent" not in filings:
            raise SecBadResponse("submissions JSON lacks filings.recent")
        rows = filing_rows(filings["recent"], company.cik)
        for page in filings.get("files") or []:
            if has_enough_annual_reports(rows):
                break
            rows.extend(filing_rows(self.get_json(f"{base}/submissions/{page['name']}"), company.cik))
        return rows

    def document_url(self, ref: FilingRef) -> str:
        return f"{self.settings.sec_www_base_url}/Archives/edgar/data/{ref.cik}/{ref.accession_path}/{ref.primary_document}"

    def fetch_document(self, ref: FilingRef) -> FetchedFiling:
        if not ref.primary_document:
            raise FilingsUnavailable(f"filing {ref.accession} names no primary document")
        url = self.document_url(ref)
        content = self._get(url, expect_json=False).content
        if not content.strip():
            raise SecBadResponse(f"EDGAR sent an empty document for {ref.accession}")
        return FetchedFiling(
            ref=ref,
            url=url,
            content=content,
            sha256=hashlib.sha256(content).hexdigest(),
            fetched_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        )

    def latest_annual_reports(self, ticker: str, *, deadline: float | None = None) -> AnnualReportPair:
        """`deadline` (time.monotonic()) bounds the whole fetch: no retry starts past it."""
        company = self.company(ticker)
        older_ref, newer_ref = choose_annual_reports(self.filing_history(company))
        log.info(
            "annual reports chosen",
            extra={"cik": company.cik, "older": older_ref.accession, "newer": newer_ref.accession},
        )
        return AnnualReportPair(company=company, older=self.fetch_document(older_ref), newer=self.fetch_document(newer_ref))


def provenance_of(pair: AnnualReportPair) -> dict[str, Any]:
    return {"older": pair.older.provenance(), "newer": pair.newer.provenance(), "company": asdict(pair.company)}
