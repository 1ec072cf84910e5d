"""A local EDGAR: serves ../shared/edgar-corpus at EDGAR's real paths, with injectable faults.

    /files/company_tickers.json                         the corpus' real ticker file
    /submissions/CIK##########.json                     real recorded bodies where the corpus has
                                                        them, else built from manifest.json in
                                                        EDGAR's schema
    /submissions/CIK##########-submissions-001.json     real older-filings pages
    /Archives/edgar/data/<cik>/<acc>/<document>         the corpus filings
    /Archives/edgar/data/<cik>/<acc>/index.json         a filing-directory listing
    /Archives/edgar/data/<cik>/<acc>/<acc>.txt          the full submission (SGML around the document)

`as_of` hides filings made after a date, so a company whose recorded history goes past the corpus
(NVIDIA's FY2026 10-K) can be served as EDGAR looked when the corpus' latest filings were new.
`recent_limit` moves all but the newest N filings of a submissions body built from the manifest
into an older-filings page (`filings.files[]`), as EDGAR does for long histories.
`extra_submissions`, `extra_documents` and `extra_tickers` add made-up companies and filings.
Every 200 answer carries an ETag, and `If-None-Match` with that ETag answers 304 (a conditional GET).
Faults (`Fault`) match a path pattern and answer in place of the real body a number of times.
Every request is logged (`requests`) with its arrival time, to measure the client's request rate.
Run it by hand with `python tests/edgar_standin.py --port 8765`.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from dataclasses import dataclass
from datetime import date, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

BLOCK_PAGE = (
    b"<html><head><title>SEC.gov | Request Rate Threshold Exceeded</title></head><body>"
    b"<h1>Your Request Originates from an Undeclared Automated Tool</h1>"
    b"<p>Your request has been identified as part of a network of automated tools outside of the acceptable "
    b"policy and will be managed until action is taken to declare your traffic.</p></body></html>"
)
_SUBMISSION_ARRAYS = (
    "accessionNumber", "filingDate", "reportDate", "acceptanceDateTime", "act", "form", "fileNumber",
    "filmNumber", "items", "size", "isXBRL", "isInlineXBRL", "primaryDocument", "primaryDocDescription",
)


@dataclass
class Fault:
    """Answer requests whose path matches `pattern` with a fault, `times` times (None: always)."""

    pattern: str
    kind: str  # status | block | slow | truncate | html | empty | reset | trickle (`delay` between 200-byte pieces)
    status: int = 503
    times: int | None = 1
    retry_after: str | None = None
    delay: float = 0.0
    hits: int = 0

    def matches(self, path: str) -> bool:
        return re.search(self.pattern, path) is not None and (self.times is None or self.hits < self.times)


@dataclass(frozen=True)
class CorpusFiling:
    ticker: str
    cik: int
    form: str
    period: str
    filing_date: str
    accession: str
    document: str
    path: Path

    @property
    def archive_path(self) -> str:
        return f"/Archives/edgar/data/{self.cik}/{self.accession.replace('-', '')}/{self.document}"


@dataclass
class RequestRecord:
    at: float  # time.monotonic() when the answer was ready
    path: str
    status: int
    user_agent: str | None
    received: float = 0.0  # time.monotonic() when the request arrived (use this to measure rates)
    conditional: bool = False  # sent If-None-Match
    bytes: int = 0


class EdgarStandIn:
    def __init__(
        self, corpus_dir: str | Path, *, as_of: str | None = None, latency: float = 0.0, recent_limit: int | None = None
    ):
        self.corpus = Path(corpus_dir)
        self.as_of = as_of
        self.latency = latency
        self.recent_limit = recent_limit
        self.faults: list[Fault] = []
        self.requests: list[RequestRecord] = []
        self.extra_submissions: dict[str, dict] = {}  # "CIK##########.json" (or a page name) -> body
        self.extra_documents: dict[str, bytes] = {}  # archive path -> bytes
        self.extra_tickers: list[dict] = []  # rows appended to company_tickers.json: {"cik_str", "ticker", "title"}
        self._lock = threading.Lock()
        manifest = json.loads((self.corpus / "manifest.json").read_text())
        self.filings = _corpus_filings(self.corpus, manifest)
        self._by_archive = {f.archive_path: f for f in self.filings}
        self._by_accession = {f.accession.replace("-", ""): f for f in self.filings}
        self._names = {int(f["cik"]): f["company"] for f in manifest["filings"] if f.get("cik")}
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        assert self._server is not None, "start() the stand-in first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self, port: int = 0) -> "EdgarStandIn":
        standin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):  # noqa: N802 (http.server's naming)
                standin._handle(self)

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="edgar-standin", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> "EdgarStandIn":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def add_fault(self, fault: Fault) -> Fault:
        with self._lock:
            self.faults.append(fault)
        return fault

    def paths_requested(self) -> list[str]:
        with self._lock:
            return [r.path for r in self.requests]

    def requests_to(self, pattern: str) -> list[RequestRecord]:
        """The logged requests whose path matches `pattern` (a regular expression)."""
        with self._lock:
            return [r for r in self.requests if re.search(pattern, r.path)]

    def clear_log(self) -> None:
        with self._lock:
            self.requests.clear()

    def filing(self, ticker: str, period: str) -> CorpusFiling:
        for f in self.filings:
            if f.ticker == ticker and f.period == period:
                return f
        raise KeyError((ticker, period))

    # -- routing -----------------------------------------------------------------------------------

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        received = time.monotonic()
        path = handler.path.split("?", 1)[0]
        if self.latency:
            time.sleep(self.latency)
        with self._lock:
            fault = next((f for f in self.faults if f.matches(path)), None)
            if fault is not None:
                fault.hits += 1
        if fault is not None and fault.kind == "reset":  # close the connection without an answer
            with self._lock:
                self.requests.append(RequestRecord(time.monotonic(), path, 0, handler.headers.get("User-Agent"), received))
            handler.close_connection = True
            return
        status, body, content_type, headers = self._route(path)
        if_none_match = handler.headers.get("If-None-Match")
        if fault is None and status == 200:
            etag = '"' + hashlib.sha1(body).hexdigest()[:20] + '"'
            headers = {**headers, "ETag": etag}
            if if_none_match == etag:
                status, body = 304, b""
        if fault is not None:
            status, body, content_type, headers = self._apply_fault(fault, status, body, content_type)
        with self._lock:
            self.requests.append(
                RequestRecord(
                    time.monotonic(), path, status, handler.headers.get("User-Agent"), received, if_none_match is not None, len(body)
                )
            )
        declared_length = headers.pop("_declared_length", len(body))
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(declared_length))
        for name, value in headers.items():
            handler.send_header(name, value)
        handler.end_headers()
        try:
            if fault is not None and fault.kind == "trickle":  # every read gets data, the whole never comes
                for start in range(0, len(body), 200):
                    handler.wfile.write(body[start : start + 200])
                    handler.wfile.flush()
                    time.sleep(fault.delay)
            else:
                handler.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass
        if declared_length != len(body):
            handler.close_connection = True

    def _apply_fault(self, fault: Fault, status, body, content_type):
        if fault.kind == "slow":
            time.sleep(fault.delay)
            return status, body, content_type, {}
        if fault.kind == "status":
            headers = {"Retry-After": fault.retry_after} if fault.retry_after is not None else {}
            return fault.status, b"<html><body>Service Unavailable</body></html>", "text/html", headers
        if fault.kind == "block":
            return 403, BLOCK_PAGE, "text/html", {}
        if fault.kind == "truncate":  # promise the whole body, send a part, close the connection
            return status, body[: max(1, len(body) // 3)], content_type, {"_declared_length": len(body)}
        if fault.kind == "html":
            return 200, b"<!DOCTYPE html><html><body>Maintenance</body></html>", "text/html", {}
        if fault.kind == "empty":
            return 200, b"", content_type, {}
        if fault.kind == "trickle":
            return status, body, content_type, {}
        raise ValueError(fault.kind)

    def _route(self, path: str):
        if path == "/files/company_tickers.json":
            return 200, self._tickers(), "application/json", {}
        match = re.fullmatch(r"/submissions/(CIK\d{10}(?:-submissions-\d{3})?\.json)", path)
        if match:
            body = self._submissions(match.group(1))
            if body is None:
                return 404, (self.corpus / "api/errors/submissions-CIK-000000001.404.xml").read_bytes(), "application/xml", {}
            return 200, json.dumps(body).encode(), "application/json", {}
        if path in self.extra_documents:
            return 200, self.extra_documents[path], _content_type(path), {}
        match = re.fullmatch(r"/Archives/edgar/data/(\d+)/(\d{18})/(index\.json|[^/]+)", path)
        if match:
            filing = self._by_accession.get(match.group(2))
            if filing is not None and match.group(3) == "index.json":
                return 200, json.dumps(_directory_index(filing)).encode(), "application/json", {}
            if filing is not None and match.group(3) == filing.document:
                return 200, filing.path.read_bytes(), _content_type(filing.document), {}
            if filing is not None and match.group(3) == f"{filing.accession}.txt":
                return 200, full_submission(filing), "text/plain", {}
        return 404, b"<html><body>Not Found</body></html>", "text/html", {}

    def _tickers(self) -> bytes:
        raw = (self.corpus / "api" / "company_tickers.json").read_bytes()
        if not self.extra_tickers:
            return raw
        rows = json.loads(raw)
        for n, row in enumerate(self.extra_tickers):
            rows[str(len(rows) + n)] = row
        return json.dumps(rows).encode()

    def _submissions(self, name: str) -> dict | None:
        if name in self.extra_submissions:
            return self.extra_submissions[name]
        real = self.corpus / "api" / "submissions" / name
        if real.is_file():
            body = json.loads(real.read_bytes())
            return _filter_as_of(body, self.as_of) if self.as_of else body
        match = re.fullmatch(r"CIK(\d{10})(-submissions-001)?\.json", name)
        if not match:
            return None
        cik = int(match.group(1))
        rows = sorted(
            (f for f in self.filings if f.cik == cik and (not self.as_of or f.filing_date <= self.as_of)),
            key=lambda f: f.filing_date,
            reverse=True,
        )
        if not rows:
            return None
        limit = self.recent_limit
        recent, older = (rows[:limit], rows[limit:]) if limit is not None else (rows, [])
        if match.group(2):  # the older-filings page: parallel arrays at the top level
            return build_submissions(cik, "", older)["filings"]["recent"] if older else None
        files = [_page_entry(cik, older)] if older else []
        return build_submissions(cik, self._names.get(cik, ""), recent, files)


# --------------------------------------------------------------------------------------------------
# Corpus -> EDGAR-shaped data
# --------------------------------------------------------------------------------------------------


def _corpus_filings(corpus: Path, manifest: dict) -> list[CorpusFiling]:
    filings = []
    for n, entry in enumerate(manifest["filings"]):
        if not entry.get("cik"):
            continue
        cik = int(entry["cik"])
        period = entry["fiscal_year_end"]
        filed = entry.get("filed") or (date.fromisoformat(period) + timedelta(days=60)).isoformat()
        accession = entry.get("accession") or f"{cik:010d}-{filed[2:4]}-9{n:05d}"
        suffix = "txt" if entry["path"].endswith(".txt") else "htm"
        document = entry.get("primary_document") or f"{entry['ticker'].lower()}-{period.replace('-', '')}.{suffix}"
        form = "10-K405" if "10-K405" in (entry.get("notes") or "") else entry.get("form", "10-K")
        filings.append(CorpusFiling(entry["ticker"], cik, form, period, filed, accession, document, corpus / entry["path"]))
    return filings


def build_submissions(cik: int, name: str, rows: list[CorpusFiling], files: list[dict] | None = None) -> dict:
    """A submissions body in EDGAR's schema (parallel arrays under filings.recent)."""
    recent = {key: [] for key in _SUBMISSION_ARRAYS}
    for f in rows:
        recent["accessionNumber"].append(f.accession)
        recent["filingDate"].append(f.filing_date)
        recent["reportDate"].append(f.period)
        recent["acceptanceDateTime"].append(f"{f.filing_date}T16:05:00.000Z")
        recent["act"].append("34")
        recent["form"].append(f.form)
        recent["fileNumber"].append("001-00000")
        recent["filmNumber"].append("00000000")
        recent["items"].append("")
        recent["size"].append(f.path.stat().st_size if f.path.exists() else 0)
        recent["isXBRL"].append(1 if f.document.endswith(".htm") else 0)
        recent["isInlineXBRL"].append(1 if f.document.endswith(".htm") else 0)
        recent["primaryDocument"].append(f.document)
        recent["primaryDocDescription"].append(f.form)
    return {
        "cik": str(cik),
        "entityType": "operating",
        "sic": "",
        "sicDescription": "",
        "name": name,
        "tickers": sorted({f.ticker for f in rows}),
        "exchanges": [],
        "fiscalYearEnd": "1231",
        "filings": {"recent": recent, "files": files or []},
    }


def submissions_body(cik: int, name: str, filings: list[dict], *, tickers: list[str] = (), files: list[dict] | None = None) -> dict:
    """A submissions body in EDGAR's schema from plain rows: {form, accessionNumber, filingDate,
    reportDate, primaryDocument} (newest first, as EDGAR lists them)."""
    recent = {key: [] for key in _SUBMISSION_ARRAYS}
    for row in filings:
        for key in _SUBMISSION_ARRAYS:
            recent[key].append(row.get(key, "" if key not in ("size", "isXBRL", "isInlineXBRL") else 0))
    return {
        "cik": str(cik),
        "entityType": "operating",
        "name": name,
        "tickers": list(tickers),
        "exchanges": [],
        "filings": {"recent": recent, "files": files or []},
    }


def submissions_page(filings: list[dict]) -> dict:
    """An older-filings page (`CIK##########-submissions-001.json`): the parallel arrays at top level."""
    return submissions_body(0, "", filings)["filings"]["recent"]


def full_submission(filing: CorpusFiling) -> bytes:
    """The `<accession>.txt` EDGAR keeps for every filing: an SGML header, then each document."""
    document = filing.path.read_bytes()
    header = (
        f"<SEC-DOCUMENT>{filing.accession}.txt : {filing.filing_date.replace('-', '')}\n"
        f"<SEC-HEADER>{filing.accession}.hdr.sgml : {filing.filing_date.replace('-', '')}\n"
        f"ACCESSION NUMBER:\t\t{filing.accession}\n"
        f"CONFORMED SUBMISSION TYPE:\t{filing.form}\n"
        f"PUBLIC DOCUMENT COUNT:\t\t1\n"
        f"CONFORMED PERIOD OF REPORT:\t{filing.period.replace('-', '')}\n"
        f"FILED AS OF DATE:\t\t{filing.filing_date.replace('-', '')}\n"
        f"</SEC-HEADER>\n"
    ).encode()
    if document.lstrip()[:10].upper().startswith(b"<DOCUMENT>"):
        return header + document + b"\n</SEC-DOCUMENT>\n"
    wrapper = f"<DOCUMENT>\n<TYPE>{filing.form}\n<SEQUENCE>1\n<FILENAME>{filing.document}\n<DESCRIPTION>{filing.form}\n<TEXT>\n".encode()
    return header + wrapper + document + b"\n</TEXT>\n</DOCUMENT>\n</SEC-DOCUMENT>\n"


def _page_entry(cik: int, rows: list[CorpusFiling]) -> dict:
    return {
        "name": f"CIK{cik:010d}-submissions-001.json",
        "filingCount": len(rows),
        "filingFrom": min(f.filing_date for f in rows),
        "filingTo": max(f.filing_date for f in rows),
    }


def _filter_as_of(body: dict, as_of: str) -> dict:
    """Hide filings made after `as_of` (in `filings.recent`, or at the top level of an older page)."""
    if "filings" not in body:
        return _filter_arrays(body, as_of)
    return {**body, "filings": {**body["filings"], "recent": _filter_arrays(body["filings"]["recent"], as_of)}}


def _filter_arrays(arrays: dict, as_of: str) -> dict:
    keep = [i for i, filed in enumerate(arrays["filingDate"]) if filed <= as_of]
    return {key: [values[i] for i in keep] if isinstance(values, list) else values for key, values in arrays.items()}


def _directory_index(filing: CorpusFiling) -> dict:
    base = f"/Archives/edgar/data/{filing.cik}/{filing.accession.replace('-', '')}"
    return {
        "directory": {
            "name": base,
            "parent-dir": f"/Archives/edgar/data/{filing.cik}",
            "item": [
                {"last-modified": f"{filing.filing_date} 16:05:00", "name": f"{filing.accession}-index.html", "type": "text.gif", "size": ""},
                {"last-modified": f"{filing.filing_date} 16:05:00", "name": f"{filing.accession}.txt", "type": "text.gif", "size": ""},
                {
                    "last-modified": f"{filing.filing_date} 16:05:00",
                    "name": filing.document,
                    "type": "text.gif",
                    "size": str(filing.path.stat().st_size),
                },
            ],
        }
    }


def _content_type(name: str) -> str:
    if name.endswith(".json"):
        return "application/json"
    if name.endswith(".txt"):
        return "text/plain"
    return "text/html"


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="serve the EDGAR corpus at EDGAR's paths")
    parser.add_argument("--corpus", default="../shared/edgar-corpus")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--as-of", default=None, help="hide filings made after this date (YYYY-MM-DD)")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to every answer")
    parser.add_argument("--recent-limit", type=int, default=None, help="filings in filings.recent; older ones go to a files[] page")
    args = parser.parse_args()
    server = EdgarStandIn(args.corpus, as_of=args.as_of, latency=args.latency, recent_limit=args.recent_limit).start(args.port)
    print(f"EDGAR stand-in on {server.base_url} (Ctrl-C to stop)")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.stop()
