"""A local EDGAR: serves ../shared/edgar-corpus at EDGAR's real paths, with injectable faults.

    /files/company_tickers.json                         the corpus' real ticker file
    /submissions/CIK##########.json                     real recorded bodies where the corpus has
                                                        them, else built from manifest.json in
                                                        EDGAR's schema
    /submissions/CIK##########-submissions-001.json     real older-filings pages
    /Archives/edgar/data/<cik>/<acc>/<document>         the corpus filings
    /Archives/edgar/data/<cik>/<acc>/index.json         a filing-directory listing

`as_of` hides filings made after a date, so a company whose recorded history goes past the corpus
(NVIDIA's FY2026 10-K) can be served as EDGAR looked when the corpus' latest filings were new.
Faults (`Fault`) match a path pattern and answer in place of the real body a number of times.
Run it by hand with `python tests/edgar_standin.py --port 8765`.
"""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass, field
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
    kind: str  # status | block | slow | truncate | html | empty
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
    at: float
    path: str
    status: int
    user_agent: str | None


class EdgarStandIn:
    def __init__(self, corpus_dir: str | Path, *, as_of: str | None = None, latency: float = 0.0):
        self.corpus = Path(corpus_dir)
        self.as_of = as_of
        self.latency = latency
        self.faults: list[Fault] = []
        self.requests: list[RequestRecord] = []
        self.extra_submissions: dict[str, dict] = {}  # "CIK##########.json" -> body
        self.extra_documents: dict[str, bytes] = {}  # archive path -> bytes
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

    def filing(self, ticker: str, period: str) -> CorpusFiling:
        for f in self.filings:
            if f.ticker == ticker and f.period == period:
                return f
        raise KeyError((ticker, period))

    # -- routing -----------------------------------------------------------------------------------

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        path = handler.path.split("?", 1)[0]
        if self.latency:
            time.sleep(self.latency)
        with self._lock:
            fault = next((f for f in self.faults if f.matches(path)), None)
            if fault is not None:
                fault.hits += 1
        status, body, content_type, headers = self._route(path)
        if fault is not None:
            status, body, content_type, headers = self._apply_fault(fault, status, body, content_type)
        with self._lock:
            self.requests.append(RequestRecord(time.monotonic(), path, status, handler.headers.get("User-Agent")))
        declared_length = headers.pop("_declared_length", len(body))
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(declared_length))
        for name, value in headers.items():
            handler.send_header(name, value)
        handler.end_headers()
        try:
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
        raise ValueError(fault.kind)

    def _route(self, path: str):
        if path == "/files/company_tickers.json":
            return 200, (self.corpus / "api" / "company_tickers.json").read_bytes(), "application/json", {}
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
        return 404, b"<html><body>Not Found</body></html>", "text/html", {}

    def _submissions(self, name: str) -> dict | None:
        if name in self.extra_submissions:
            return self.extra_submissions[name]
        real = self.corpus / "api" / "submissions" / name
        if real.is_file():
            body = json.loads(real.read_bytes())
            return _filter_as_of(body, self.as_of) if self.as_of else body
        match = re.fullmatch(r"CIK(\d{10})\.json", name)
        if not match:
            return None
        cik = int(match.group(1))
        rows = [f for f in self.filings if f.cik == cik and (not self.as_of or f.filing_date <= self.as_of)]
        if not rows:
            return None
        return build_submissions(cik, self._names.get(cik, ""), sorted(rows, key=lambda f: f.filing_date, reverse=True))


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


def _filter_as_of(body: dict, as_of: str) -> dict:
    recent = body["filings"]["recent"]
    keep = [i for i, filed in enumerate(recent["filingDate"]) if filed <= as_of]
    filtered = {key: [values[i] for i in keep] for key, values in recent.items() if isinstance(values, list)}
    return {**body, "filings": {**body["filings"], "recent": filtered}}


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
    args = parser.parse_args()
    server = EdgarStandIn(args.corpus, as_of=args.as_of).start(args.port)
    print(f"EDGAR stand-in on {server.base_url} (Ctrl-C to stop)")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.stop()
